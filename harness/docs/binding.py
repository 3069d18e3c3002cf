"""Binding files: which page block each step implements.

``features/<feature-stem>.docs.yaml``::

    page: customising-a-promise.mdx          # the --docs page these bindings are for (file name or stem)
    bindings:
      - step: 'the promise "postgres-full" is installed'     # step text, or a regex it fully matches
        scenario: Install the Postgres Promise ...             # optional: only in this scenario (text/regex)
        block: {heading: Installing Postgres Promise, index: 0}  # Nth code block under that heading (0-based)
        compare: command                                       # command | manifest | output, or a list
        note: the harness installs the pinned workshop promise  # optional: shown in the report

``block`` may instead be ``{marker: NAME}``: a block whose fence meta has ``marker=NAME`` (or ``title``,
``name``, ``id``) or that follows a ``<!-- marker: NAME -->`` / ``{/* marker: NAME */}`` comment; markers survive
edits that shift headings and indexes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.docs.model import CodeBlock, Page

COMPARES = ("command", "manifest", "output")


class BindingError(ValueError):
    """A binding file is malformed (one line: file, field, problem)."""


def text_matches(pattern: str, text: str) -> bool:
    """``text`` equals ``pattern`` or fully matches it as a regular expression."""
    if pattern == text:
        return True
    try:
        return re.fullmatch(pattern, text) is not None
    except re.error:
        return False


@dataclass(frozen=True)
class BlockRef:
    """Where a binding points on the page."""

    heading: str | None = None
    index: int = 0
    marker: str | None = None

    def describe(self) -> str:
        if self.marker is not None:
            return f"marker {self.marker!r}"
        return f"block {self.index} under {self.heading!r}"


@dataclass(frozen=True)
class Binding:
    """One step bound to one page block."""

    step: str
    block: BlockRef
    compare: tuple[str, ...]
    scenario: str | None = None
    note: str | None = None
    source: str = ""  # "file.docs.yaml: bindings[3]"

    def matches(self, step: str, scenario: str) -> bool:
        return text_matches(self.step, step) and (self.scenario is None or text_matches(self.scenario, scenario))

    def resolve(self, page: Page) -> CodeBlock | None:
        """The block this binding names on ``page`` (None when the page no longer has it)."""
        if self.block.marker is not None:
            for block in page.blocks:
                names = {block.marker, *(block.attrs.get(k) for k in ("marker", "title", "name", "id"))}
                if self.block.marker in names:
                    return block
            return None
        for heading in page.headings:
            if self.block.heading in {heading.text, heading.anchor}:
                under = page.blocks_under(heading)
                if 0 <= self.block.index < len(under):
                    return under[self.block.index]
                return None
        return None


@dataclass(frozen=True)
class BindingFile:
    """A parsed binding file."""

    path: Path
    page: str
    bindings: tuple[Binding, ...]

    def is_for(self, page: Page) -> bool:
        return self.page in {page.name, page.stem}


def _field(where: str, entry: dict[str, Any], name: str, kind: type, required: bool = True) -> Any:
    value = entry.get(name)
    if value is None:
        if required:
            raise BindingError(f"{where}.{name}: missing")
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise BindingError(f"{where}.{name}: expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def _binding(where: str, entry: Any) -> Binding:
    if not isinstance(entry, dict):
        raise BindingError(f"{where}: expected a mapping with step, block and compare, got {entry!r}")
    unknown = set(entry) - {"step", "scenario", "block", "compare", "note"}
    if unknown:
        raise BindingError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    step = _field(where, entry, "step", str)
    block = _field(where, entry, "block", dict)
    unknown_block = set(block) - {"heading", "index", "marker"}
    if unknown_block:
        raise BindingError(f"{where}.block: unknown field(s) {', '.join(sorted(unknown_block))}")
    if "marker" in block:
        ref = BlockRef(marker=_field(f"{where}.block", block, "marker", str))
    else:
        heading = _field(f"{where}.block", block, "heading", str)
        index = _field(f"{where}.block", block, "index", int, required=False) or 0
        if index < 0:
            raise BindingError(f"{where}.block.index: must be 0 or more, got {index}")
        ref = BlockRef(heading=heading, index=index)
    compare_raw = entry.get("compare")
    compare = [compare_raw] if isinstance(compare_raw, str) else compare_raw
    if not isinstance(compare, list) or not compare or any(c not in COMPARES for c in compare):
        raise BindingError(f"{where}.compare: expected one or a list of {', '.join(COMPARES)}, got {compare_raw!r}")
    return Binding(
        step=step,
        block=ref,
        compare=tuple(compare),
        scenario=_field(where, entry, "scenario", str, required=False),
        note=_field(where, entry, "note", str, required=False),
        source=where,
    )


def load_binding_file(path: Path) -> BindingFile:
    """Parse a ``*.docs.yaml`` file.

    Raises:
        BindingError: the file is unreadable or malformed; the message names the file and the field.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BindingError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise BindingError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise BindingError(f"{path}: expected a mapping with 'page' and 'bindings'")
    unknown = set(data) - {"page", "bindings"}
    if unknown:
        raise BindingError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
    page = _field(str(path), data, "page", str)
    entries = _field(str(path), data, "bindings", list)
    bindings = tuple(_binding(f"{path.name}: bindings[{i}]", entry) for i, entry in enumerate(entries))
    return BindingFile(path, page, bindings)


def binding_files(directory: Path) -> list[BindingFile]:
    """Every ``*.docs.yaml`` under ``directory``."""
    return [load_binding_file(p) for p in sorted(directory.rglob("*.docs.yaml"))]


def bindings_for(page: Page, files: Sequence[BindingFile]) -> list[Binding]:
    return [b for f in files if f.is_for(page) for b in f.bindings]
