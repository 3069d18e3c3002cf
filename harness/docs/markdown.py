"""Parse a Docusaurus page (``.md``/``.mdx``) into the page model.

A line scanner, not a full CommonMark parser: it knows what tutorial pages use (front matter, ATX and setext
headings with ``{#id}``, backtick/tilde fences with language and meta, Docusaurus magic comments and ``{1,3-5}``
ranges, ``:::`` admonitions, MDX imports (also inside ``mdx-code-block`` fences) and JSX elements, inline,
reference, HTML and auto links) and keeps the page line of each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.docs.blocks import classify
from harness.docs.model import (
    Admonition,
    BlockRole,
    CodeBlock,
    Heading,
    JsxUsage,
    Link,
    MdxImport,
    OutputSpan,
    Page,
    Pair,
    Paragraph,
)
from harness.docs.shell import split_commands
from harness.docs.slug import Slugger, heading_text

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*?)\s*$")
_ATX = re.compile(r"^ {0,3}(?P<hashes>#{1,6})(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*$")
_EXPLICIT_ID = re.compile(r"\s*\{#(?P<id>[^}\s]+)\}\s*$")
_SETEXT = re.compile(r"^ {0,3}(?P<char>=+|-+)[ \t]*$")
_ADMONITION_OPEN = re.compile(
    r"^\s*(?P<colons>:{3,})(?P<kind>[A-Za-z][\w-]*)(?:\[(?P<t1>[^\]]*)\]|[ \t]+(?P<t2>.*))?\s*$"
)
_ADMONITION_CLOSE = re.compile(r"^\s*(?P<colons>:{3,})\s*$")
_IMPORT = re.compile(r"^import\s+(?:(?P<clause>.+?)\s+from\s+)?(?P<q>['\"])(?P<source>[^'\"]+)(?P=q);?\s*$")
_MARKER = re.compile(r"^\s*(?:<!--|\{/\*)\s*marker:\s*(?P<name>[^\s*>-][^\s]*?)\s*(?:-->|\*/\})\s*$")
_CODE_SPAN = re.compile(r"(`+)(?P<code>.+?)\1")
_INLINE_LINK = re.compile(
    r"(?P<bang>!?)\[(?P<text>(?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?(?P<target>[^)\s>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
)
_REF_LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]+)\]\[(?P<ref>[^\]]*)\]")
_REF_DEF = re.compile(r"^ {0,3}\[(?P<ref>[^\]]+)\]:\s*<?(?P<target>\S+?)>?(?:\s+.*)?$")
_AUTOLINK = re.compile(r"<(?P<target>(?:https?|ftp)://[^>\s]+)>")
_HTML_LINK = re.compile(r"<(?P<tag>a|img)\b[^>]*?\b(?:href|src)=[\"'](?P<target>[^\"']+)[\"']", re.IGNORECASE)
_JSX = re.compile(r"<(?P<name>[A-Z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)(?=[\s/>])")
_ATTR = re.compile(r"(?P<key>[A-Za-z_][\w-]*)=(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<bare>[^\s{}]+))")
_RANGE = re.compile(r"\{(?P<ranges>[\d,\s-]+)\}")
_DIRECTIVES = r"(?P<directive>highlight-next-line|highlight-start|highlight-end)"

# Docusaurus's magic-comment syntaxes (``theme-common`` codeBlockUtils: commentPatterns).
_COMMENT_STYLES: dict[str, tuple[str, str]] = {
    "js": (r"//", ""),
    "jsBlock": (r"/\*", r"\*/"),
    "jsx": (r"\{\s*/\*", r"\*/\s*\}"),
    "bash": (r"#", ""),
    "html": (r"<!--", r"-->"),
    "lua": (r"--", ""),
    "wasm": (r";;", ""),
    "tex": (r"%", ""),
    "vb": (r"['‘’]", ""),
    "rem": (r"[Rr][Ee][Mm]\b", ""),
    "f90": (r"!", ""),
    "ml": (r"\(\*", r"\*\)"),
    "cobol": (r"\*>", ""),
}


def _styles_for(lang: str) -> list[str]:
    """Which comment syntaxes Docusaurus accepts for magic comments in ``lang`` (getAllMagicCommentDirectiveStyles)."""
    lang = lang.lower()
    table: dict[tuple[str, ...], list[str]] = {
        ("js", "javascript", "ts", "typescript"): ["js", "jsBlock"],
        ("jsx", "tsx"): ["js", "jsBlock", "jsx"],
        ("html",): ["js", "jsBlock", "html"],
        ("python", "py", "bash"): ["bash"],
        ("markdown", "md"): ["html", "jsx", "bash"],
        ("tex", "latex", "matlab"): ["tex"],
        ("lua", "haskell", "sql"): ["lua"],
        ("wasm",): ["wasm"],
        ("vb", "vbnet", "vba", "visual-basic"): ["vb"],
        ("batch",): ["rem"],
        ("basic",): ["rem", "f90"],
        ("fsharp",): ["js", "ml"],
        ("ocaml", "sml"): ["ml"],
        ("fortran",): ["f90"],
        ("cobol",): ["cobol"],
    }
    for names, styles in table.items():
        if lang in names:
            return styles
    return list(_COMMENT_STYLES)


def _magic_pattern(styles: list[str]) -> re.Pattern[str]:
    alternatives = "|".join(
        rf"(?:{_COMMENT_STYLES[s][0]}\s*{_DIRECTIVES.replace('?P<directive>', '')}\s*{_COMMENT_STYLES[s][1]})"
        for s in styles
    )
    return re.compile(rf"^\s*(?:{alternatives})\s*$")


_ANY_MAGIC = _magic_pattern(list(_COMMENT_STYLES))


def parse_meta(meta: str) -> tuple[dict[str, str], set[int]]:
    """Attributes (``title="x"``, ``marker=y``) and highlighted content lines (1-based) from a fence's meta."""
    attrs = {
        m.group("key"): next(g for g in (m.group("dq"), m.group("sq"), m.group("bare")) if g is not None)
        for m in _ATTR.finditer(meta)
    }
    highlighted: set[int] = set()
    for m in _RANGE.finditer(meta):
        for part in m.group("ranges").split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                start, _, end = part.partition("-")
                if start.strip().isdigit() and end.strip().isdigit():
                    highlighted.update(range(int(start), int(end) + 1))
            elif part.isdigit():
                highlighted.add(int(part))
    return attrs, highlighted


def _mask_code_spans(line: str) -> str:
    return _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


@dataclass
class _State:
    page: Page
    slugger: Slugger = field(default_factory=Slugger)
    heading: Heading | None = None
    paragraph: list[tuple[int, str]] = field(default_factory=list)
    admonitions: list[tuple[int, str, str, int]] = field(default_factory=list)  # colons, kind, title, line
    marker: str | None = None
    ref_defs: dict[str, str] = field(default_factory=dict)
    ref_uses: list[tuple[str, str, int, bool]] = field(default_factory=list)


def _flush_paragraph(state: _State) -> None:
    if not state.paragraph:
        return
    text = " ".join(line.strip() for _, line in state.paragraph)
    spans = tuple(m.group("code").strip() for m in _CODE_SPAN.finditer(text))
    state.page.paragraphs.append(Paragraph(text, state.paragraph[0][0], state.paragraph[-1][0], spans))
    # Links may wrap across lines: scan the paragraph as a whole.
    _scan_links(state, "\n".join(line for _, line in state.paragraph), state.paragraph[0][0])
    state.paragraph.clear()


def _scan_links(state: _State, text: str, first_line: int) -> None:
    """Links and images in ``text`` whose first line is page line ``first_line``."""
    masked = _mask_code_spans(text)

    def line_of(offset: int) -> int:
        return first_line + masked.count("\n", 0, offset)

    for m in _INLINE_LINK.finditer(masked):
        text_ = " ".join(m.group("text").split())
        state.page.links.append(Link(text_, m.group("target"), line_of(m.start()), bool(m.group("bang"))))
    for m in _REF_LINK.finditer(masked):
        ref = (m.group("ref") or m.group("text")).strip().lower()
        state.ref_uses.append((m.group("text"), ref, line_of(m.start()), bool(m.group("bang"))))
    for m in _AUTOLINK.finditer(masked):
        state.page.links.append(Link(m.group("target"), m.group("target"), line_of(m.start())))
    for m in _HTML_LINK.finditer(masked):
        is_image = m.group("tag").lower() == "img"
        state.page.links.append(Link("", m.group("target"), line_of(m.start()), is_image))


def _scan_jsx(state: _State, line: str, lineno: int) -> None:
    for m in _JSX.finditer(_mask_code_spans(line)):
        state.page.jsx.append(JsxUsage(m.group("name"), lineno))


def _scan_inline(state: _State, line: str, lineno: int) -> None:
    """Links and JSX elements on one line that is not part of a paragraph."""
    _scan_links(state, line, lineno)
    _scan_jsx(state, line, lineno)


def _scan_import(state: _State, line: str, lineno: int) -> bool:
    m = _IMPORT.match(line)
    if not m:
        return False
    names: list[str] = []
    clause = (m.group("clause") or "").strip()
    # default, {a, b as c}, * as ns
    braces = re.search(r"\{([^}]*)\}", clause)
    if braces:
        for item in braces.group(1).split(","):
            item = item.strip()
            if item:
                names.append(item.split(" as ")[-1].strip())
        clause = clause.replace(braces.group(0), "")
    for part in clause.split(","):
        part = part.strip()
        if part.startswith("* as "):
            names.append(part[5:].strip())
        elif part:
            names.append(part)
    state.page.imports.append(MdxImport(tuple(names), m.group("source"), lineno))
    return True


def _add_heading(state: _State, level: int, raw: str, lineno: int) -> None:
    explicit = _EXPLICIT_ID.search(raw)
    if explicit:
        raw = raw[: explicit.start()]
    text = heading_text(raw)
    anchor = explicit.group("id") if explicit else state.slugger.slug(text)
    heading = Heading(level, text, anchor, lineno, explicit_anchor=bool(explicit))
    state.page.headings.append(heading)
    state.heading = heading
    _scan_inline(state, raw, lineno)


def _read_fence(state: _State, lines: list[str], start: int, indent: str, fence: str, info: str) -> int:
    """Consume a fenced block starting at ``start`` (0-based); return the index after it."""
    lineno = start + 1
    lang, _, meta = info.partition(" ")
    lang = lang.strip()
    meta = meta.strip()
    content: list[tuple[int, str]] = []
    end = start + 1
    closed = False
    close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
    while end < len(lines):
        if close.match(lines[end]):
            closed = True
            break
        raw = lines[end]
        # Content of an indented fence (in a list item) loses the fence's indentation.
        if indent and raw.startswith(indent):
            raw = raw[len(indent) :]
        content.append((end + 1, raw))
        end += 1
    if not closed:
        state.page.parse_problems.append((lineno, f"code fence {fence}{lang} opened here is never closed"))
    if lang == "mdx-code-block":
        # Docusaurus renders this fence's content as MDX: imports and components, not code.
        for number, raw in content:
            if not _scan_import(state, raw, number):
                _scan_inline(state, raw, number)
        return end + 1
    attrs, ranges = parse_meta(meta)
    highlighted: set[int] = set()
    stray: list[int] = []
    kept: list[tuple[int, str]] = []
    if ranges:
        # With a {range} in the meta Docusaurus ignores magic comments and highlights by content line.
        kept = content
        highlighted = {content[r - 1][0] for r in ranges if 0 < r <= len(content)}
    else:
        pattern = _magic_pattern(_styles_for(lang))
        next_line = False
        in_range = False
        for number, raw in content:
            m = pattern.match(raw)
            if m:
                directive = raw.strip()
                if directive.endswith("highlight-next-line") or "highlight-next-line" in directive:
                    next_line = True
                elif "highlight-start" in directive:
                    in_range = True
                elif "highlight-end" in directive:
                    in_range = False
                continue
            if _ANY_MAGIC.match(raw):
                stray.append(number)  # not a comment in this language: shown (and run) as text
            if next_line or in_range:
                highlighted.add(number)
                next_line = False
            kept.append((number, raw))
    text_lines = tuple(raw for _, raw in kept)
    role, output = classify(lang, text_lines)
    block = CodeBlock(
        index=len(state.page.blocks),
        lang=lang,
        meta=meta,
        attrs=attrs,
        lines=text_lines,
        line_numbers=tuple(number for number, _ in kept),
        line=lineno,
        end_line=end + 1 if closed else len(lines),
        heading=state.heading,
        role=role,
        highlighted=frozenset(highlighted),
        marker=attrs.get("marker") or state.marker,
        output_indices=output,
        stray_magic_comments=tuple(stray),
    )
    state.page.blocks.append(block)
    state.marker = None
    return end + 1


def _command_starts(block: CodeBlock) -> list[int]:
    """Page lines where the block's commands start (continuations and here-documents excluded)."""
    return [c.line for c in split_commands(block.command_lines, block.command_line_numbers, block.index)]


def _pair_blocks(page: Page) -> None:
    previous: CodeBlock | None = None
    for block in page.blocks:
        if block.role is BlockRole.COMMAND and block.output_indices:
            _pair_inline(page, block)
        if (
            block.role is BlockRole.OUTPUT
            and previous is not None
            and previous.role is BlockRole.COMMAND
            and previous.heading == block.heading
            and previous.command_line_numbers
        ):
            starts = _command_starts(previous) or [previous.command_line_numbers[-1]]
            page.pairs.append(Pair(previous, OutputSpan(block, block.lines, block.line_numbers), starts[-1]))
        previous = block


def _pair_inline(page: Page, block: CodeBlock) -> None:
    """Output lines inside a command block belong to the command before them."""
    command_line: int | None = None
    run: list[int] = []
    starts = set(_command_starts(block))

    def flush() -> None:
        if run and command_line is not None:
            lines = tuple(block.lines[i] for i in run)
            if any(line.strip() for line in lines):
                numbers = tuple(block.line_numbers[i] for i in run)
                page.pairs.append(Pair(block, OutputSpan(block, lines, numbers), command_line))
        run.clear()

    for i, number in enumerate(block.line_numbers):
        if i in block.output_indices:
            run.append(i)
        elif number in starts:
            flush()
            command_line = number
    flush()


def parse_markdown(text: str, source: str, path: Path | None = None) -> Page:
    """Parse Markdown/MDX ``text`` (read from ``source``) into a Page."""
    page = Page(path=path, source=source, text=text, format="markdown")
    lines = text.splitlines()
    state = _State(page)
    i = 0
    if lines and lines[0].strip() == "---":
        for j in range(1, len(lines)):
            if lines[j].strip() == "---":
                try:
                    loaded = yaml.safe_load("\n".join(lines[1:j]))
                except yaml.YAMLError as exc:
                    page.parse_problems.append((1, f"front matter is not valid YAML: {exc}"))
                    loaded = None
                if isinstance(loaded, dict):
                    page.meta = {str(k): v for k, v in loaded.items()}
                i = j + 1
                break
        else:
            page.parse_problems.append((1, "front matter opened with --- is never closed"))
    while i < len(lines):
        line = lines[i]
        lineno = i + 1
        fence = _FENCE_OPEN.match(line)
        if fence and (fence.group("fence")[0] == "~" or "`" not in fence.group("info")):
            _flush_paragraph(state)
            i = _read_fence(state, lines, i, fence.group("indent"), fence.group("fence"), fence.group("info"))
            continue
        atx = _ATX.match(line)
        if atx:
            _flush_paragraph(state)
            _add_heading(state, len(atx.group("hashes")), atx.group("text") or "", lineno)
            state.marker = None
            i += 1
            continue
        setext = _SETEXT.match(line)
        if setext and state.paragraph and state.paragraph[-1][0] == lineno - 1:
            raw = " ".join(text.strip() for _, text in state.paragraph)
            first_line = state.paragraph[0][0]
            state.paragraph.clear()
            _add_heading(state, 1 if setext.group("char")[0] == "=" else 2, raw, first_line)
            i += 1
            continue
        ref_def = _REF_DEF.match(line)
        if ref_def:
            state.ref_defs[ref_def.group("ref").strip().lower()] = ref_def.group("target")
            i += 1
            continue
        opened = _ADMONITION_OPEN.match(line)
        if opened:
            _flush_paragraph(state)
            title = (opened.group("t1") or opened.group("t2") or "").strip()
            state.admonitions.append((len(opened.group("colons")), opened.group("kind"), title, lineno))
            i += 1
            continue
        closed = _ADMONITION_CLOSE.match(line)
        if closed and state.admonitions:
            _flush_paragraph(state)
            _colons, kind, opened_title, start = state.admonitions.pop()
            page.admonitions.append(Admonition(kind, opened_title, start, lineno))
            i += 1
            continue
        if _scan_import(state, line, lineno):
            i += 1
            continue
        marker = _MARKER.match(line)
        if marker:
            state.marker = marker.group("name")
            i += 1
            continue
        if not line.strip():
            _flush_paragraph(state)
        else:
            state.marker = None
            state.paragraph.append((lineno, line))
            _scan_jsx(state, line, lineno)
        i += 1
    _flush_paragraph(state)
    for _colons, kind, _title, start in state.admonitions:
        page.parse_problems.append((start, f"admonition :::{kind} opened here is never closed"))
    for text_, ref, number, is_image in state.ref_uses:
        if ref in state.ref_defs:
            page.links.append(Link(text_, state.ref_defs[ref], number, is_image))
    page.links.sort(key=lambda link: link.line)
    _pair_blocks(page)
    return page
