"""Page structure: parsing problems, headings and anchors, MDX imports and partials, fences."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from harness.docs.blocks import MANIFEST_LANGS, SHELL_LANGS
from harness.docs.findings import Severity
from harness.docs.lint import Hit, LintContext, rule
from harness.docs.model import BlockRole
from harness.docs.shapes import strip_prompt


@rule("DOC001", "page-parse", Severity.ERROR, "the page parses: fences, admonitions and front matter are closed")
def page_parse(ctx: LintContext) -> Iterator[Hit]:
    for line, message in ctx.page.parse_problems:
        yield Hit(line, message)


@rule("DOC002", "heading-structure", Severity.WARNING, "one page title; heading levels do not skip")
def heading_structure(ctx: LintContext) -> Iterator[Hit]:
    page = ctx.page
    has_title = bool(page.meta.get("title"))
    titles = 1 if has_title else 0
    previous = 1
    for heading in page.headings:
        if heading.level == 1:
            titles += 1
            if titles > 1:
                first = "the front matter title" if has_title else "an earlier level-1 heading"
                yield Hit(
                    heading.line,
                    f"second page title '# {heading.text}' ({first} is the page's h1)",
                    "make it a level-2 heading (##)",
                )
        elif heading.level > previous + 1:
            yield Hit(
                heading.line,
                f"heading level jumps from h{previous} to h{heading.level} at '{heading.text}'",
                f"use {'#' * (previous + 1)}",
            )
        previous = heading.level


@rule("DOC003", "duplicate-anchor", Severity.ERROR, "heading anchors are unique on the page")
def duplicate_anchor(ctx: LintContext) -> Iterator[Hit]:
    seen: dict[str, int] = {}
    for heading in ctx.page.headings:
        if heading.anchor in seen:
            yield Hit(
                heading.line,
                f"anchor #{heading.anchor} is also the anchor of the heading at line {seen[heading.anchor]}; "
                "links to it reach only the first",
                "give one of them a different {#id}",
            )
        else:
            seen[heading.anchor] = heading.line


@rule("DOC004", "unused-import", Severity.WARNING, "every MDX import is used")
def unused_import(ctx: LintContext) -> Iterator[Hit]:
    page = ctx.page
    import_lines = {imp.line for imp in page.imports}
    body = "\n".join(line for number, line in enumerate(page.text.splitlines(), 1) if number not in import_lines)
    for imp in page.imports:
        for name in imp.names:
            if not re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", body):
                usage = f"<{name} />" if name[:1].isupper() else f"{name}(...)"
                yield Hit(
                    imp.line,
                    f"'{name}' is imported from '{imp.source}' but never used",
                    f"use {usage} or drop the import",
                )


def _resolve_import(source: str, page_path: Path, docs_root: Path) -> Path | None:
    if source.startswith("@site/"):
        for base in (docs_root.parent, docs_root):
            candidate = base / source[len("@site/") :]
            if candidate.exists():
                return candidate
        return None
    candidate = (page_path.parent / source).resolve()
    return candidate if candidate.exists() else None


@rule("DOC005", "missing-partial", Severity.ERROR, "imported partials exist (with --docs-root)")
def missing_partial(ctx: LintContext) -> Iterator[Hit]:
    root, path = ctx.options.docs_root, ctx.page.path
    if root is None or path is None:
        return
    for imp in ctx.page.imports:
        local = imp.source.startswith((".", "/", "@site/"))
        if local and re.search(r"\.mdx?$", imp.source) and _resolve_import(imp.source, path, root) is None:
            yield Hit(imp.line, f"partial '{imp.source}' imported as {', '.join(imp.names)} does not exist")


@rule("DOC006", "fence-language", Severity.WARNING, "a fence's language matches its content")
def fence_language(ctx: LintContext) -> Iterator[Hit]:
    for block in ctx.page.blocks:
        if block.recovered:
            continue
        lang = block.lang.lower()
        if lang in MANIFEST_LANGS and block.role is BlockRole.COMMAND:
            yield Hit(
                block.line,
                f"block fenced as '{block.lang}' is a shell command ('{block.lines[0].strip()[:50]}')",
                "fence it as bash",
            )
        elif not lang and block.role is BlockRole.MANIFEST:
            yield Hit(block.line, "YAML block has no language", "fence it as yaml", Severity.INFO)
        elif not lang:
            yield Hit(block.line, f"{block.role.value} block has no language", "name the language", Severity.INFO)
        elif lang in SHELL_LANGS and block.role is BlockRole.MANIFEST:
            yield Hit(block.line, f"YAML fenced as '{block.lang}'", "fence it as yaml")


@rule("DOC007", "output-in-command-block", Severity.WARNING, "command blocks hold commands only")
def output_in_command_block(ctx: LintContext) -> Iterator[Hit]:
    for block in ctx.page.blocks:
        if block.role is not BlockRole.COMMAND or not block.output_indices or block.recovered:
            continue
        if any(strip_prompt(line) is not None for line in block.lines):
            continue  # a "$"-prompted session shows output by design
        first = min(block.output_indices)
        yield Hit(
            block.page_line(first),
            f"output '{block.lines[first].strip()[:50]}' is inside a command block: copying the block runs it",
            "move the output into its own block after the command",
        )


@rule("DOC008", "stray-magic-comment", Severity.WARNING, "magic comments use the block language's comment syntax")
def stray_magic_comment(ctx: LintContext) -> Iterator[Hit]:
    for block in ctx.page.blocks:
        for line in block.stray_magic_comments:
            yield Hit(
                line,
                f"magic comment is not a comment in '{block.lang}': Docusaurus shows it as code"
                + (" and a reader runs it" if block.role is BlockRole.COMMAND else ""),
                "use # highlight-next-line" if block.lang in {"bash", "python", "py"} else None,
            )
