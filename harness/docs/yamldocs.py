"""YAML on a page, parsed as data with the page line of every key.

Errors come back with the page line of the problem, not the line inside the block, and duplicate keys (which
PyYAML silently resolves to the last value but ``kubectl`` rejects under strict validation) are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDoc:
    """One YAML document: its data, its first page line and the page line of each key/item."""

    data: Any
    line: int
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicates: tuple[tuple[Path_, int], ...] = ()  # (path of the repeated key, page line)

    def line_of(self, path: Path_) -> int:
        """Page line of ``path`` (or of its nearest recorded ancestor)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.line

    @property
    def is_manifest(self) -> bool:
        return isinstance(self.data, dict) and "apiVersion" in self.data and "kind" in self.data

    @property
    def name(self) -> str | None:
        metadata = self.data.get("metadata") if isinstance(self.data, dict) else None
        name = metadata.get("name") if isinstance(metadata, dict) else None
        return str(name) if name is not None else None


@dataclass(frozen=True)
class YamlProblem:
    """A document that does not parse."""

    line: int
    message: str


def _page_line(numbers: Sequence[int], index: int, fallback: int) -> int:
    if not numbers:
        return fallback + index
    return numbers[max(0, min(index, len(numbers) - 1))]


def _walk(
    node: yaml.Node,
    path: Path_,
    numbers: Sequence[int],
    fallback: int,
    lines: dict[Path_, int],
    duplicates: list[tuple[Path_, int]],
) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            line = _page_line(numbers, key_node.start_mark.line, fallback)
            if key in seen:
                duplicates.append((child, line))
            seen.add(key)
            lines.setdefault(child, line)
            _walk(value_node, child, numbers, fallback, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = _page_line(numbers, item.start_mark.line, fallback)
            _walk(item, child, numbers, fallback, lines, duplicates)


def load_documents(
    text: str, numbers: Sequence[int] = (), first_line: int = 1
) -> tuple[list[YamlDoc], YamlProblem | None]:
    """Parse every document in ``text``; ``numbers[i]`` is the page line of text line ``i``.

    Returns the documents that parsed (empty ones skipped) and the first problem, if any.
    """
    docs: list[YamlDoc] = []
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:
                continue
            lines: dict[Path_, int] = {}
            duplicates: list[tuple[Path_, int]] = []
            _walk(node, (), numbers, first_line, lines, duplicates)
            docs.append(YamlDoc(data, _page_line(numbers, node.start_mark.line, first_line), lines, tuple(duplicates)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = _page_line(numbers, mark.line, first_line) if mark else first_line
        reason = " ".join(part for part in (exc.context, exc.problem) if part)
        return docs, YamlProblem(line, reason or str(exc))
    except yaml.YAMLError as exc:
        return docs, YamlProblem(first_line, str(exc))
    finally:
        loader.dispose()
    return docs, None
