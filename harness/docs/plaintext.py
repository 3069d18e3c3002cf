"""Recover the page model from a page given as rendered plain text (copied from a browser: no fences).

Blocks are recovered by shape: ``$``-prompted commands and the output under them, runs of command-shaped
lines, YAML documents (from an ``apiVersion:``/``kind:`` line while lines stay YAML-shaped), Python sources,
``kubectl`` tables; short capitalised lines without closing punctuation followed by prose are headings. Every
recovered element keeps its page line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from harness.docs.blocks import heredoc_delimiters
from harness.docs.model import BlockRole, CodeBlock, Heading, OutputSpan, Page, Pair, Paragraph
from harness.docs.shapes import (
    ends_sentence,
    is_kubectl_result,
    is_prose,
    is_table_header,
    looks_like_command,
    strip_prompt,
)
from harness.docs.slug import Slugger

_YAML_START = re.compile(r"^(?:apiVersion|kind):\s*\S")
_YAML_LINE = re.compile(r"^(?:\s+\S|[\w.\-/\"']+:(?:\s|$)|- |-$|---\s*$|#)")
_PY_START = re.compile(r"^(?:import [\w.]+|from [\w.]+ import |def \w+\(|class \w+[:(]|@\w)")
_PY_LINE = re.compile(
    r"^(?:\s+\S|(?:import|from|def|class|if|elif|else|for|while|try|except|finally|with|return|@)\b|"
    r"[A-Za-z_][\w.]*\s*(?:=|\(|:|\[))"
)
_HEADING_MAX_WORDS = 8


def _is_heading(line: str, next_line: str | None) -> bool:
    stripped = line.strip()
    if not stripped or "  " in stripped or len(stripped) > 70 or stripped.startswith(("-", "*", "#")):
        return False
    if ends_sentence(stripped) or stripped.endswith((",", ";")):
        return False
    if looks_like_command(stripped) or _YAML_START.match(stripped) or is_table_header(stripped):
        return False
    words = stripped.split()
    letters = [w for w in words if re.search(r"[A-Za-z]", w)]
    if not letters or len(words) > _HEADING_MAX_WORDS or not letters[0].lstrip("\"'(")[0:1].isupper():
        return False
    return next_line is None or is_prose(next_line) or _is_list_item(next_line)


def _is_list_item(line: str) -> bool:
    return bool(re.match(r"^\s*(?:[-*]|\d+\.)\s+\S", line))


class _Builder:
    def __init__(self, text: str, source: str, path: Path | None) -> None:
        self.page = Page(path=path, source=source, text=text, format="plain")
        self.lines = text.splitlines()
        self.slugger = Slugger()
        self.heading: Heading | None = None

    def _next_nonblank(self, i: int) -> str | None:
        for line in self.lines[i:]:
            if line.strip():
                return line
        return None

    def _take_while(self, start: int, keep: Callable[[str], bool]) -> int:
        end = start
        while end < len(self.lines) and self.lines[end].strip() and keep(self.lines[end]):
            end += 1
        return end

    def _block(self, start: int, end: int, lang: str, role: BlockRole) -> CodeBlock:
        lines = tuple(self.lines[start:end])
        block = CodeBlock(
            index=len(self.page.blocks),
            lang=lang,
            meta="",
            attrs={},
            lines=lines,
            line_numbers=tuple(range(start + 1, end + 1)),
            line=start + 1,
            end_line=end,
            heading=self.heading,
            role=role,
            recovered=True,
            output_indices=frozenset(range(len(lines))) if role is BlockRole.OUTPUT else frozenset(),
        )
        self.page.blocks.append(block)
        return block

    def _command_end(self, start: int) -> int:
        """End of a run of command lines (with comments, continuations and here-documents)."""
        end = start
        pending: list[str] = []
        continued = False
        while end < len(self.lines):
            line = self.lines[end]
            if pending:
                if line.strip() == pending[0]:
                    pending.pop(0)
                end += 1
                continue
            if continued:
                continued = line.rstrip().endswith("\\")
                end += 1
                continue
            stripped = line.strip()
            is_comment = stripped.startswith("# ") and end + 1 < len(self.lines)
            if not stripped or not (is_comment or (looks_like_command(stripped) and not is_prose(stripped))):
                break
            pending.extend(heredoc_delimiters(stripped))
            continued = stripped.endswith("\\")
            end += 1
        return end

    def _output_end(self, start: int) -> int:
        """End of the output under a command: up to a blank line, a prompt, prose or a heading."""
        end = start
        while end < len(self.lines):
            line = self.lines[end]
            if not line.strip() or strip_prompt(line) is not None or is_prose(line):
                break
            if not line.startswith(" ") and _is_heading(line, self._next_nonblank(end + 1)):
                break
            end += 1
        return end

    def build(self) -> Page:
        i = 0
        first = True
        while i < len(self.lines):
            line = self.lines[i]
            stripped = line.strip()
            if not stripped:
                i += 1
                continue
            prompted = strip_prompt(line)
            if prompted is not None:
                command = self._block(i, i + 1, "bash", BlockRole.COMMAND)
                out_end = self._output_end(i + 1)
                if out_end > i + 1:
                    output = self._block(i + 1, out_end, "text", BlockRole.OUTPUT)
                    self.page.pairs.append(Pair(command, OutputSpan(output, output.lines, output.line_numbers), i + 1))
                i = out_end
                first = False
                continue
            if _YAML_START.match(line):
                end = self._take_while(i + 1, lambda s: bool(_YAML_LINE.match(s)) and not is_prose(s))
                self._block(i, end, "yaml", BlockRole.MANIFEST)
                i = end
                continue
            if _PY_START.match(line):
                end = self._take_while(i + 1, lambda s: bool(_PY_LINE.match(s)) and not is_prose(s))
                self._block(i, end, "python", BlockRole.CODE)
                i = end
                continue
            if is_table_header(line) or is_kubectl_result(line):
                end = self._output_end(i + 1)
                self._block(i, end, "text", BlockRole.OUTPUT)
                i = end
                continue
            if (first or _is_heading(line, self._next_nonblank(i + 1))) and not looks_like_command(stripped):
                level = 1 if first else 2
                self.heading = Heading(level, stripped, self.slugger.slug(stripped), i + 1)
                self.page.headings.append(self.heading)
                first = False
                i += 1
                continue
            first = False
            if (looks_like_command(stripped) and not is_prose(stripped)) or (
                stripped.startswith("# ") and looks_like_command(self.lines[i + 1] if i + 1 < len(self.lines) else "")
            ):
                end = self._command_end(i)
                if end > i:
                    self._block(i, end, "bash", BlockRole.COMMAND)
                    i = end
                    continue
            self.page.paragraphs.append(Paragraph(stripped, i + 1, i + 1))
            i += 1
        return self.page


def parse_plaintext(text: str, source: str, path: Path | None = None) -> Page:
    """Recover a Page from rendered plain ``text`` read from ``source``."""
    return _Builder(text, source, path).build()
