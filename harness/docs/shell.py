"""Split a page's command lines into simple commands (argv), the way a POSIX shell would read them.

Handles ``$`` prompts, ``\\`` continuations, comments, pipelines and lists (``|``, ``&&``, ``||``, ``;``),
redirections, and here-documents (``cat <<EOF | kubectl apply -f -`` gives kubectl the document as stdin).
Nothing is expanded: ``$PLATFORM`` stays ``$PLATFORM``. Angle-bracket placeholders a page leaves in a command
(``pods/<pod-name>``) are kept as text rather than read as redirections, since that is what the author meant.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from harness.docs.blocks import heredoc_delimiters
from harness.docs.model import BlockRole, CodeBlock, Page, Pair
from harness.docs.shapes import strip_prompt

PLACEHOLDER = re.compile(r"<(?P<name>[A-Za-z][\w.:-]*)>")
_SENTINEL = "\x00PH{}\x00"
_SENTINEL_BACK = re.compile("\x00PH(\\d+)\x00")
_LIST_OPERATORS = frozenset({"|", "||", "&&", ";", "&", "|&"})
_REDIRECTS = frozenset({">", ">>", "<", ">&", "<&", "&>", ">|", "<>", "&>>", "<<<"})
_HEREDOC_OPS = frozenset({"<<", "<<-"})
_WRITES = frozenset({">", ">>", ">|", "&>", "&>>"})


def placeholder_pattern(text: str) -> re.Pattern[str]:
    """``text`` as a regex where each ``<placeholder>`` stands for one or more name characters."""
    parts = PLACEHOLDER.split(text)
    # split() alternates literal text and placeholder names.
    return re.compile("".join(re.escape(p) if i % 2 == 0 else r"[A-Za-z0-9.-]+" for i, p in enumerate(parts)))


@dataclass(frozen=True)
class ShellCommand:
    """One simple command as written on the page."""

    argv: tuple[str, ...]
    line: int  # page line where the command's logical line starts
    text: str  # the logical line (continuations joined)
    block_index: int
    stdin: str | None = None  # a here-document fed to it, directly or through ``cat <<EOF |``
    stdin_line: int | None = None  # page line of the here-document's first line
    operator: str = ""  # the list/pipe operator after it ("|" when its output feeds the next command)
    writes: tuple[str, ...] = ()  # files its ``>``/``>>`` redirections write

    @property
    def program(self) -> str:
        return self.argv[0] if self.argv else ""


@dataclass(frozen=True)
class _Logical:
    text: str
    line: int
    heredocs: tuple[tuple[str, int], ...]  # (body, first page line) in order of the ``<<`` operators


def strip_comment(line: str) -> str:
    """Drop a ``#`` comment: only a ``#`` that starts a word, outside quotes, starts one."""
    quote: str | None = None
    previous = " "
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and previous in " \t;|&(":
            return line[:i].rstrip()
        previous = ch
    return line


def _logical_lines(lines: Sequence[str], numbers: Sequence[int]) -> Iterator[_Logical]:
    prompted = any(strip_prompt(line) is not None for line in lines)
    i = 0
    while i < len(lines):
        raw = lines[i]
        if prompted:
            stripped = strip_prompt(raw)
            if stripped is None:
                i += 1
                continue
            raw = stripped
        start = numbers[i]
        parts = [raw]
        while parts[-1].rstrip().endswith("\\") and i + 1 < len(lines):
            parts[-1] = parts[-1].rstrip()[:-1]
            i += 1
            parts.append(lines[i])
        text = " ".join(p.strip() for p in parts)
        i += 1
        heredocs: list[tuple[str, int]] = []
        for delimiter in heredoc_delimiters(strip_comment(text)):
            body: list[str] = []
            first = numbers[i] if i < len(numbers) else start
            while i < len(lines) and lines[i].strip() != delimiter:
                body.append(lines[i])
                i += 1
            i += 1  # the delimiter line
            heredocs.append(("\n".join(body) + "\n", first))
        if text.strip():
            yield _Logical(text, start, tuple(heredocs))


def _tokens(text: str) -> list[str]:
    placeholders: list[str] = []

    def hide(m: re.Match[str]) -> str:
        placeholders.append(m.group(0))
        return _SENTINEL.format(len(placeholders) - 1)

    hidden = PLACEHOLDER.sub(hide, strip_comment(text))
    lexer = shlex.shlex(hidden, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        raw = list(lexer)
    except ValueError:  # unbalanced quotes: fall back to whitespace words
        raw = hidden.split()
    return [_SENTINEL_BACK.sub(lambda m: placeholders[int(m.group(1))], token) for token in raw]


def split_commands(lines: Sequence[str], numbers: Sequence[int], block_index: int = -1) -> list[ShellCommand]:
    """Simple commands in command ``lines`` (``numbers`` are their page lines)."""
    commands: list[ShellCommand] = []
    for logical in _logical_lines(lines, numbers):
        heredocs = list(logical.heredocs)
        current: list[str] = []
        writes: list[str] = []
        stdin: tuple[str, int] | None = None
        piped: tuple[str, int] | None = None  # what ``cat <<EOF`` writes into the next command
        tokens = _tokens(logical.text)
        i = 0

        def finish(operator: str, logical: _Logical = logical) -> None:
            nonlocal current, stdin, piped, writes
            if current:
                feed = stdin or piped
                commands.append(
                    ShellCommand(
                        tuple(current),
                        logical.line,
                        logical.text,
                        block_index,
                        feed[0] if feed else None,
                        feed[1] if feed else None,
                        operator,
                        tuple(writes),
                    )
                )
                # ``cat`` of a here-document passes it through a pipe.
                piped = stdin if operator == "|" and current[0] == "cat" and stdin else None
            current = []
            writes = []
            stdin = None

        while i < len(tokens):
            token = tokens[i]
            if token in _LIST_OPERATORS:
                finish(token)
            elif token in _HEREDOC_OPS:
                i += 1  # the delimiter word
                if heredocs:
                    stdin = heredocs.pop(0)
            elif token in _REDIRECTS:
                if current and current[-1].isdigit():
                    current.pop()  # the file descriptor of "2>"
                i += 1  # the redirection target
                if token in _WRITES and i < len(tokens) and not tokens[i].isdigit():
                    writes.append(tokens[i])
            else:
                current.append(token)
            i += 1
        finish("")
    return commands


def block_commands(block: CodeBlock) -> list[ShellCommand]:
    """Simple commands of a COMMAND block (output lines excluded)."""
    if block.role is not BlockRole.COMMAND:
        return []
    return split_commands(block.command_lines, block.command_line_numbers, block.index)


def command_of(pair: Pair) -> ShellCommand | None:
    """The command whose output ``pair`` shows (the last one starting at or before its command line)."""
    commands = [c for c in block_commands(pair.command) if c.line <= pair.command_line]
    return commands[-1] if commands else None


def page_commands(page: Page) -> list[ShellCommand]:
    """Every simple command on the page, in page order."""
    return [command for block in page.blocks for command in block_commands(block)]


def stdin_line_numbers(page: Page, command: ShellCommand) -> list[int]:
    """Page lines of the here-document ``command`` reads (magic-comment lines skipped, as in its block)."""
    if command.stdin is None:
        return []
    count = command.stdin.count("\n")
    start = command.stdin_line or command.line
    if 0 <= command.block_index < len(page.blocks):
        numbers = page.blocks[command.block_index].line_numbers
        if start in numbers:
            first = numbers.index(start)
            return list(numbers[first : first + count])
    return list(range(start, start + count))
