"""The page model: what a tutorial page is made of, with the page line of every element.

Both parsers (``markdown.py`` for ``.md``/``.mdx`` sources, ``plaintext.py`` for pages given as rendered
text) produce these same objects, so every rule and every comparison works on either kind of page.
Line numbers are 1-based page lines throughout.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class BlockRole(StrEnum):
    """What a code block is for, decided from its language and its shape."""

    COMMAND = "command"  # commands a reader types (may carry trailing output, see CodeBlock.output_start)
    OUTPUT = "output"  # what a command printed ("output similar to")
    MANIFEST = "manifest"  # YAML/JSON the reader saves or applies
    CODE = "code"  # program source (python, Dockerfile, ...)


@dataclass(frozen=True)
class Heading:
    """A section heading and the anchor Docusaurus gives it."""

    level: int
    text: str  # plain text (inline markup removed)
    anchor: str
    line: int
    explicit_anchor: bool = False  # written as ``{#id}``


@dataclass(frozen=True)
class CodeBlock:
    """A fenced code block (or a block recovered by shape from rendered text).

    ``lines`` are the block's content as a reader sees it: Docusaurus magic comments
    (``highlight-next-line`` ...) are removed, and ``line_numbers[i]`` is the page line of ``lines[i]``.
    """

    index: int  # position among the page's code blocks, 0-based
    lang: str
    meta: str
    attrs: Mapping[str, str]
    lines: tuple[str, ...]
    line_numbers: tuple[int, ...]
    line: int  # the opening fence (first content line for recovered blocks)
    end_line: int
    heading: Heading | None
    role: BlockRole
    highlighted: frozenset[int] = frozenset()  # page lines
    marker: str | None = None
    recovered: bool = False
    # Indices into ``lines`` that are output rather than commands (a ``$``-prompt session, or output pasted
    # under a command); all of them for an OUTPUT block.
    output_indices: frozenset[int] = frozenset()
    # Magic-comment lines that the block's language does not recognise (they render as text): page lines.
    stray_magic_comments: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def page_line(self, index: int) -> int:
        """Page line of content line ``index`` (clamped to the block)."""
        if not self.line_numbers:
            return self.line
        return self.line_numbers[max(0, min(index, len(self.line_numbers) - 1))]

    @property
    def command_lines(self) -> tuple[str, ...]:
        """The lines a reader would run (prompts not yet stripped); empty unless a COMMAND block."""
        if self.role is not BlockRole.COMMAND:
            return ()
        return tuple(line for i, line in enumerate(self.lines) if i not in self.output_indices)

    @property
    def command_line_numbers(self) -> tuple[int, ...]:
        if self.role is not BlockRole.COMMAND:
            return ()
        return tuple(n for i, n in enumerate(self.line_numbers) if i not in self.output_indices)


@dataclass(frozen=True)
class Admonition:
    """A ``:::note`` ... ``:::`` container."""

    kind: str
    title: str
    line: int
    end_line: int


@dataclass(frozen=True)
class MdxImport:
    """An MDX ``import`` statement; ``names`` are the local bindings it creates."""

    names: tuple[str, ...]
    source: str
    line: int


@dataclass(frozen=True)
class JsxUsage:
    """A capitalised JSX element used in the page body (a component or partial)."""

    name: str
    line: int


@dataclass(frozen=True)
class Link:
    """A link or image in prose."""

    text: str
    target: str
    line: int
    is_image: bool = False


@dataclass(frozen=True)
class Paragraph:
    """Prose between blocks (joined lines), with the inline code spans it contains."""

    text: str
    line: int
    end_line: int
    code_spans: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputSpan:
    """Lines of output shown on the page, inside ``block``."""

    block: CodeBlock
    lines: tuple[str, ...]
    line_numbers: tuple[int, ...]

    @property
    def line(self) -> int:
        return self.line_numbers[0] if self.line_numbers else self.block.line

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Pair:
    """A command block and the output the page says it prints."""

    command: CodeBlock
    output: OutputSpan
    command_line: int  # page line of the command the output belongs to


@dataclass
class Page:
    """One tutorial page."""

    path: Path | None  # None for a page read from a URL
    source: str  # path or URL as given
    text: str
    format: str  # "markdown" or "plain"
    meta: dict[str, object] = field(default_factory=dict)  # front matter
    headings: list[Heading] = field(default_factory=list)
    blocks: list[CodeBlock] = field(default_factory=list)
    admonitions: list[Admonition] = field(default_factory=list)
    imports: list[MdxImport] = field(default_factory=list)
    jsx: list[JsxUsage] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    # Structural problems the parser met (unclosed fence ...): (line, message).
    parse_problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        """File name of the page (last URL segment for URLs)."""
        return self.path.name if self.path is not None else self.source.rstrip("/").rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        name = self.name
        return name.rsplit(".", 1)[0] if "." in name else name

    def anchors(self) -> set[str]:
        return {h.anchor for h in self.headings}

    def heading_at(self, line: int) -> Heading | None:
        """The heading whose section contains ``line``."""
        current: Heading | None = None
        for heading in self.headings:
            if heading.line > line:
                break
            current = heading
        return current

    def blocks_under(self, heading: Heading | None) -> list[CodeBlock]:
        """Code blocks directly in ``heading``'s section (before the next heading of any level)."""
        return [b for b in self.blocks if b.heading == heading]

    def output_for(self, block: CodeBlock) -> OutputSpan | None:
        """The output the page pairs with command block ``block`` (a later block, or its own tail)."""
        for pair in self.pairs:
            if pair.command.index == block.index:
                return pair.output
        return None

    def paragraphs_between(self, start_line: int, end_line: int) -> Iterator[Paragraph]:
        for paragraph in self.paragraphs:
            if start_line < paragraph.line and paragraph.end_line < end_line:
                yield paragraph
