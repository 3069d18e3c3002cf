"""Pages given as rendered text: blocks recovered by shape, with page lines."""

from __future__ import annotations

import pytest

from harness.docs.model import BlockRole
from harness.docs.page import load_page, parse_page
from harness.docs.shell import block_commands
from tests.docs.conftest import FIXTURES, line_of

GUIDE = FIXTURES / "rendered-guide.txt"


@pytest.fixture(scope="module")
def page():
    return load_page(GUIDE)


def test_headings_are_recovered(page):
    assert page.format == "plain"
    assert [(h.level, h.text) for h in page.headings] == [
        (1, "Offering a cache"),
        (2, "Before you start"),
        (2, "The cache API"),
        (2, "Dependencies"),
        (2, "The pipeline"),
        (2, "Using the Promise"),
        (2, "🎉 Well done"),
    ]
    assert page.headings[2].line == line_of(GUIDE, "The cache API")


def test_blocks_are_recovered_by_shape(page):
    got = [(b.role, b.lang, b.line, b.end_line) for b in page.blocks]
    assert got == [
        (BlockRole.COMMAND, "bash", line_of(GUIDE, "export PLATFORM"), line_of(GUIDE, "export WORKER")),
        (BlockRole.COMMAND, "bash", line_of(GUIDE, "kratix init"), line_of(GUIDE, "kratix init")),
        (BlockRole.MANIFEST, "yaml", line_of(GUIDE, "apiVersion: platform"), line_of(GUIDE, "# the rest")),
        (BlockRole.COMMAND, "bash", line_of(GUIDE, "# run in the Promise"), line_of(GUIDE, "curl -o")),
        (BlockRole.CODE, "python", line_of(GUIDE, "import kratix_sdk"), line_of(GUIDE, "    main()")),
        (BlockRole.COMMAND, "bash", line_of(GUIDE, "docker build"), line_of(GUIDE, "kind load")),
        (BlockRole.COMMAND, "bash", line_of(GUIDE, "$ kubectl get promises"), line_of(GUIDE, "$ kubectl get promises")),
        (BlockRole.OUTPUT, "text", line_of(GUIDE, "NAME    STATUS"), line_of(GUIDE, "cache   Available")),
        (BlockRole.COMMAND, "bash", line_of(GUIDE, "$ kubectl get pods"), line_of(GUIDE, "$ kubectl get pods")),
        (BlockRole.OUTPUT, "text", line_of(GUIDE, "NAME        READY"), line_of(GUIDE, "example-0")),
    ]


def test_prompted_commands_pair_with_the_output_under_them(page):
    assert [(p.command_line, p.output.line, len(p.output.lines)) for p in page.pairs] == [
        (line_of(GUIDE, "$ kubectl get promises"), line_of(GUIDE, "NAME    STATUS"), 2),
        (line_of(GUIDE, "$ kubectl get pods"), line_of(GUIDE, "NAME        READY"), 2),
    ]


def test_recovered_commands_parse_to_argv(page):
    argvs = [c.argv for b in page.blocks for c in block_commands(b)]
    assert ("kubectl", "get", "promises", "--context", "$PLATFORM") in argvs
    assert ("mkdir", "deps") in argvs
    assert ("export", "PLATFORM=kind-platform") in argvs


def test_prose_is_not_mistaken_for_commands_or_headings():
    text = "Guide\nIntro\nThis sentence explains what the command below does in detail.\nkubectl get pods\n"
    page = parse_page(text, "inline.txt")
    assert [h.text for h in page.headings] == ["Guide", "Intro"]
    assert [(b.role, b.lines) for b in page.blocks] == [(BlockRole.COMMAND, ("kubectl get pods",))]
    assert [p.text for p in page.paragraphs] == ["This sentence explains what the command below does in detail."]
