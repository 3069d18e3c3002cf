"""Load a tutorial page from a path or URL into the page model (Markdown/MDX or rendered plain text)."""

from __future__ import annotations

import re
from pathlib import Path

from harness.docs.fetch import Fetcher
from harness.docs.markdown import parse_markdown
from harness.docs.model import Page
from harness.docs.plaintext import parse_plaintext

_MARKDOWN_SUFFIXES = frozenset({".md", ".mdx", ".markdown"})
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


class PageError(ValueError):
    """A page cannot be read."""


def parse_page(text: str, source: str, path: Path | None = None) -> Page:
    """Parse ``text``: Markdown for .md/.mdx sources or text with fences, rendered plain text otherwise."""
    suffix = Path(source.split("?", 1)[0]).suffix.lower()
    if suffix in _MARKDOWN_SUFFIXES or (suffix not in {".txt", ".text"} and _FENCE.search(text)):
        return parse_markdown(text, source, path)
    return parse_plaintext(text, source, path)


def load_page(source: str | Path, *, fetcher: Fetcher | None = None, timeout: float = 10.0) -> Page:
    """Read and parse a page from a file path or an http(s) URL.

    Raises:
        PageError: the file is missing or unreadable, or the URL does not answer 2xx.
    """
    text_source = str(source)
    if text_source.startswith(("http://", "https://")):
        result = (fetcher or Fetcher(timeout=timeout)).get(text_source)
        if not result.ok:
            raise PageError(f"docs page {text_source}: {result.describe()}")
        return parse_page(result.text, text_source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PageError(f"docs page {path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise PageError(f"docs page {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise PageError(f"docs page {path}: {exc.strerror}") from None
    return parse_page(text, str(path), path)
