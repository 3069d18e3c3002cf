"""Heading anchors as Docusaurus makes them (github-slugger rules).

Docusaurus gives every heading without an explicit ``{#id}`` the id ``github-slugger`` computes from the
heading's text: lower-cased; every character that is not a letter, mark, number, connector punctuation, space
or hyphen removed; each space turned into a hyphen (runs are not collapsed); and a repeated slug suffixed
``-1``, ``-2``, ... in page order.
"""

from __future__ import annotations

import html
import re
import unicodedata

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_CODE = re.compile(r"`+([^`]*)`+")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")


def heading_text(markdown: str) -> str:
    """The plain text of a heading's inline Markdown (links, code, emphasis, tags, entities resolved)."""
    text = _LINK.sub(r"\1", markdown)
    text = _CODE.sub(r"\1", text)
    text = _TAG.sub("", text)
    previous = None
    while previous != text:  # nested emphasis
        previous = text
        text = _EMPHASIS.sub(r"\2", text)
    return html.unescape(text).strip()


def _keep(ch: str) -> bool:
    if ch in " -":
        return True
    category = unicodedata.category(ch)
    return category[0] in "LMN" or category == "Pc"


def slugify(text: str) -> str:
    """One slug, without de-duplication."""
    return "".join(ch for ch in text.lower() if _keep(ch)).replace(" ", "-")


class Slugger:
    """De-duplicating slugger: one per page, fed headings in page order."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def slug(self, text: str) -> str:
        base = slugify(text)
        slug = base
        while slug in self._seen:
            self._seen[base] += 1
            slug = f"{base}-{self._seen[base]}"
        self._seen[slug] = 0
        return slug
