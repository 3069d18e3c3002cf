"""Links: relative links and anchors resolve (pages under ``--docs-root``, anchors by Docusaurus slug rules);
placeholder links (empty target, reserved example domains, a host name written without a scheme) are flagged."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from harness.docs.findings import Severity
from harness.docs.lint import Hit, LintContext, rule
from harness.docs.model import Link, Page
from harness.docs.rules._shared import is_reserved_host

_HOST_LIKE = re.compile(r"^(?:[A-Za-z0-9-]+\.)+(?P<tld>[A-Za-z]{2,24})(?::\d+)?(?:/.*)?$")
# Suffixes of files a docs site links to: a relative link ending in one is a file, not a host name.
_FILE_SUFFIXES = frozenset(
    {
        *("md", "mdx", "html", "htm", "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "pdf"),
        *("yaml", "yml", "json", "txt", "zip", "gz", "tgz", "tar", "sh", "py", "go", "js", "ts", "css"),
        *("mp4", "cast", "csv", "xml", "toml", "ini", "cfg", "conf"),
    }
)
_PAGE_SUFFIXES = (".md", ".mdx")


def _is_external(target: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target)) or target.startswith("//")


def _host_without_scheme(target: str) -> bool:
    match = _HOST_LIKE.match(target)
    return match is not None and match.group("tld").lower() not in _FILE_SUFFIXES


@rule("LINK003", "placeholder-link", Severity.INFO, "links have a real destination")
def placeholder_link(ctx: LintContext) -> Iterator[Hit]:
    for link in ctx.page.links:
        target = link.target.strip()
        if not target:
            yield Hit(link.line, f"link '{link.text}' has no target")
            continue
        if _is_external(target):
            host = urlsplit(target).hostname or ""
            if is_reserved_host(host, localhost=True):
                yield Hit(link.line, f"link '{link.text}' points to the reserved example domain {host}")
            continue
        if _host_without_scheme(target):
            host = target.split("/", 1)[0]
            message = (
                f"link '{link.text}' target '{target}' is a host name without a scheme: it resolves as a page path"
            )
            if is_reserved_host(host, localhost=True):
                message += f", and {host} is a reserved example domain"
            yield Hit(link.line, message, f"https://{target}")


@functools.cache
def _site_index(root: Path) -> dict[str, Path]:
    """Doc ids, slugs and file stems under ``root`` → page file."""
    index: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix not in _PAGE_SUFFIXES or not path.is_file():
            continue
        index.setdefault(path.stem, path)
        head = path.read_text(encoding="utf-8", errors="replace")[:2000]
        if head.startswith("---"):
            for key in ("id", "slug"):
                match = re.search(rf"^{key}:\s*['\"]?([^'\"\n]+?)['\"]?\s*$", head, re.MULTILINE)
                if match:
                    index.setdefault(match.group(1).strip().strip("/").rsplit("/", 1)[-1], path)
    return index


def _resolve(link_path: str, page: Page, root: Path) -> Path | None:
    """The file a relative link reaches: a file next to the page, or a doc id/slug/stem under ``root``."""
    base = page.path.parent if page.path is not None else root
    candidates = []
    if link_path.startswith("/"):
        stripped = link_path.lstrip("/")
        candidates += [root / stripped, root / stripped.split("/", 1)[-1], root.parent / "static" / stripped]
    else:
        candidates.append(base / link_path)
    for candidate in candidates:
        for option in (
            candidate,
            *(candidate.with_name(candidate.name + s) for s in _PAGE_SUFFIXES),
            candidate / "index.md",
            candidate / "index.mdx",
        ):
            if option.is_file():
                return option
    last = link_path.rstrip("/").rsplit("/", 1)[-1]
    return _site_index(root.resolve()).get(Path(last).stem if Path(last).suffix in _PAGE_SUFFIXES else last)


def _anchors_of(path: Path) -> set[str]:
    from harness.docs.page import load_page  # page.py imports the rules' parsers; import here to avoid a cycle

    return load_page(path).anchors()


def _relative_links(page: Page) -> Iterator[tuple[Link, str, str]]:
    for link in page.links:
        target = link.target.strip()
        if not target or _is_external(target) or _host_without_scheme(target):
            continue
        path, _, fragment = target.partition("#")
        yield link, unquote(path.split("?", 1)[0]), fragment


@rule("LINK001", "unresolved-link", Severity.ERROR, "relative links reach a page or file (with --docs-root)")
def unresolved_link(ctx: LintContext) -> Iterator[Hit]:
    root = ctx.options.docs_root
    if root is None:
        return
    for link, path, _fragment in _relative_links(ctx.page):
        if path and _resolve(path, ctx.page, root) is None:
            yield Hit(link.line, f"link '{link.text}' → '{link.target}' reaches no page or file under {root}")


@rule("LINK002", "unresolved-anchor", Severity.ERROR, "#anchors exist (on this page; on others with --docs-root)")
def unresolved_anchor(ctx: LintContext) -> Iterator[Hit]:
    root = ctx.options.docs_root
    own = ctx.page.anchors()
    for link, path, fragment in _relative_links(ctx.page):
        if not fragment:
            continue
        if not path:
            anchors, where = own, "this page"
        elif root is not None:
            resolved = _resolve(path, ctx.page, root)
            if resolved is None or resolved.suffix not in _PAGE_SUFFIXES:
                continue  # LINK001 reports the page itself
            anchors, where = _anchors_of(resolved), resolved.name
        else:
            continue
        if fragment not in anchors:
            import difflib

            close = difflib.get_close_matches(fragment, sorted(anchors), n=1)
            yield Hit(
                link.line,
                f"link '{link.text}' → #{fragment}: no such anchor on {where}",
                f"#{close[0]}" if close else None,
            )
