"""Deciding what a code block is: commands, output, a manifest or program code.

The fence language alone does not tell: the tutorials fence commands as ``shell-session`` and the output
below them too, and a heredoc that applies YAML may be fenced as ``yaml``. So the language picks the family and
the lines' shapes (``shapes.py``) decide within it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from harness.docs.model import BlockRole
from harness.docs.shapes import is_kubectl_result, is_table_header, looks_like_command, strip_prompt

# Fence languages a reader types into a terminal, or that carry terminal text.
SHELL_LANGS = frozenset(
    {
        "bash",
        "sh",
        "shell",
        "zsh",
        "console",
        "shell-session",
        "shellsession",
        "terminal",
        "text",
        "txt",
        "plaintext",
        "plain",
        "none",
        "",
    }
)
MANIFEST_LANGS = frozenset({"yaml", "yml", "json", "jsonc"})

_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
# Shell syntax that continues or closes a compound command; never output.
_SHELL_SYNTAX = re.compile(r"^\s*(?:[{}()]|fi|done|esac|then|else|do|;;|\|\||&&|\|)(?:\s|$)")


def heredoc_delimiters(line: str) -> list[str]:
    """Delimiters of the here-documents a command line opens (``<<EOF``, ``<<-'END'``)."""
    return [m.group(2) for m in _HEREDOC.finditer(line)]


def _first_meaningful(lines: Sequence[str]) -> str | None:
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped
    return None


def command_and_output(lines: Sequence[str]) -> tuple[bool, frozenset[int]]:
    """Split a shell-family block into command lines and output lines.

    Returns ``(has_commands, output_indices)``. With ``$`` prompts, prompted lines (and their continuations and
    here-documents) are commands and every other line is output. Without prompts the block is commands until
    the first line, after a command, that cannot be one: from there on it is output pasted under the command.
    """
    prompted = any(strip_prompt(line) is not None for line in lines)
    output: set[int] = set()
    has_commands = False
    pending_heredocs: list[str] = []
    continued = False
    in_output = False
    for i, line in enumerate(lines):
        if pending_heredocs:
            if line.strip() == pending_heredocs[0]:
                pending_heredocs.pop(0)
            continue
        if continued:
            continued = line.rstrip().endswith("\\")
            pending_heredocs.extend(heredoc_delimiters(line))
            continue
        command = strip_prompt(line) if prompted else line
        if prompted and command is None:
            if line.strip():
                output.add(i)
            continue
        assert command is not None
        stripped = command.strip()
        if not stripped:
            continue
        if not prompted:
            if in_output:
                output.add(i)
                continue
            is_command = stripped.startswith("#") or looks_like_command(stripped) or bool(_SHELL_SYNTAX.match(stripped))
            if not is_command:
                if has_commands:
                    in_output = True
                output.add(i)
                continue
        if not stripped.startswith("#"):
            has_commands = True
        continued = stripped.endswith("\\")
        pending_heredocs.extend(heredoc_delimiters(stripped))
    return has_commands, frozenset(output)


def classify(lang: str, lines: Sequence[str]) -> tuple[BlockRole, frozenset[int]]:
    """The role of a fenced block and, for command blocks, which lines are output."""
    lang = lang.lower()
    first = _first_meaningful(lines)
    if lang in MANIFEST_LANGS:
        # A heredoc fenced as YAML is still a command (rules.structure reports the fence).
        if first is not None and looks_like_command(first) and ("<<" in first or "|" in first):
            return BlockRole.COMMAND, command_and_output(lines)[1]
        return BlockRole.MANIFEST, frozenset()
    if lang not in SHELL_LANGS:
        return BlockRole.CODE, frozenset()
    if first is None:
        return BlockRole.OUTPUT, frozenset(range(len(lines)))
    if lang in {"", "text", "txt", "plaintext", "plain", "none"} and re.match(r"^(apiVersion|kind):\s*\S", first):
        return BlockRole.MANIFEST, frozenset()
    if is_table_header(first) or is_kubectl_result(first):
        return BlockRole.OUTPUT, frozenset(range(len(lines)))
    if strip_prompt(first) is None and not looks_like_command(first) and not _SHELL_SYNTAX.match(first):
        return BlockRole.OUTPUT, frozenset(range(len(lines)))
    has_commands, output = command_and_output(lines)
    if not has_commands:
        return BlockRole.OUTPUT, frozenset(range(len(lines)))
    return BlockRole.COMMAND, output
