"""Line shapes: is this line a command, a table header, kubectl's result line, prose?

Used to decide what a code block is (a ``shell-session`` fence holds commands on one page and output on the
next) and to recover blocks from pages given as rendered text, where there are no fences at all. The shapes are
grammars of what the tools print and what shells accept, not lists of known lines.
"""

from __future__ import annotations

import re

# A shell prompt the page put in front of a command ("$ kubectl ...").
PROMPT = re.compile(r"^\s*\$\s+(?=\S)")

# kubectl's column headers: upper-case words (single spaces inside a header, e.g. "API VERSION"),
# columns separated by two or more spaces.
_HEADER_CELL = r"[A-Z][A-Z0-9_()./%-]*(?: [A-Z][A-Z0-9_()./%-]*)*"
TABLE_HEADER = re.compile(rf"^\s*{_HEADER_CELL}(?:\s{{2,}}{_HEADER_CELL})+\s*$")

# What kubectl prints for each object a mutating verb touched: "<resource>[.<group>]/<name> <operation>".
# The operations are the past-tense verbs kubectl's printers use.
KUBECTL_RESULT = re.compile(
    r"^\s*(?P<type>[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*)/(?P<name>[A-Za-z0-9][A-Za-z0-9._:-]*)\s+"
    r"(?P<op>created|configured|unchanged|deleted|labeled|annotated|patched|serverside-applied|"
    r"condition met|edited|replaced|scaled|restarted|rolled back|exposed|tainted|untainted|drained|"
    r"cordoned|uncordoned|paused|resumed|image updated|env updated|resource requirements updated|"
    r"autoscaled)(?: \((?:server )?dry run\))?\s*$"
)

# A command line: optional VAR=value assignments, then a program (bare name or path), then arguments.
_ASSIGNMENT = r"(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*"
_PROGRAM = r"(?:\.{1,2}/|/|~/)?[a-z][a-z0-9._+-]*(?:/[A-Za-z0-9._+-]+)*"
COMMAND = re.compile(rf"^\s*{_ASSIGNMENT}{_PROGRAM}(?:\s+\S.*)?$")

# Describe-style output: "Key:" or "Key:   value" with a capitalised key.
DESCRIBE_FIELD = re.compile(r"^\s*[A-Z][A-Za-z0-9 ./-]*:(?:\s{2,}\S.*|\s*)$")

_SENTENCE_END = re.compile(r"[.!?:]\s*$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def strip_prompt(line: str) -> str | None:
    """The command after a ``$`` prompt, or None when the line has no prompt."""
    match = PROMPT.match(line)
    return line[match.end() :] if match else None


def is_table_header(line: str) -> bool:
    return bool(TABLE_HEADER.match(line))


def is_kubectl_result(line: str) -> bool:
    return bool(KUBECTL_RESULT.match(line))


def looks_like_command(line: str) -> bool:
    """True when ``line`` has the shape of a shell command (and not of kubectl output)."""
    stripped = line.strip()
    if not stripped or is_kubectl_result(stripped) or is_table_header(stripped):
        return False
    if stripped.startswith("#"):
        return False
    if not COMMAND.match(stripped):
        return False
    first = stripped.split()[0]
    # "name:" is a YAML key or a label, not a program.
    return not first.endswith(":")


def is_prose(line: str) -> bool:
    """True for a sentence-like line: capitalised, several words, single-spaced, not a table or field."""
    stripped = line.strip()
    if not stripped or "  " in stripped or is_table_header(stripped):
        return False
    if DESCRIBE_FIELD.match(stripped) and len(stripped.split()) <= 3:
        return False
    words = stripped.split()
    first_word = _WORD.search(stripped)
    if first_word is None or not first_word.group(0)[0].isupper():
        return False
    # A sentence has mostly plain words; commands and YAML have flags, paths, key: value pairs.
    plain = sum(1 for w in words if _WORD.fullmatch(w.strip(",.;:!?()\"'`")))
    return len(words) >= 4 and plain >= 0.6 * len(words)


def ends_sentence(line: str) -> bool:
    return bool(_SENTENCE_END.search(line))
