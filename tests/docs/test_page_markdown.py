"""The Markdown/MDX page model: every element with its page line."""

from __future__ import annotations

import pytest

from harness.docs.model import BlockRole
from harness.docs.page import PageError, load_page, parse_page
from harness.docs.slug import Slugger, heading_text, slugify
from tests.docs.conftest import FIXTURES, line_of

MODEL = FIXTURES / "model-page.mdx"


@pytest.fixture(scope="module")
def page():
    return load_page(MODEL)


def test_front_matter_is_read(page):
    assert page.meta == {"title": "Model page", "slug": "model-page"}
    assert page.format == "markdown"


def test_headings_have_docusaurus_anchors_and_lines(page):
    got = [(h.level, h.text, h.anchor, h.line) for h in page.headings]
    assert got == [
        (2, "First steps", "first-steps", line_of(MODEL, "## First steps")),
        (2, "First steps", "first-steps-1", line_of(MODEL, "## First steps", 2)),
        (3, "Session code and bold 🎉", "session-code-and-bold-", line_of(MODEL, "### Session")),
        (2, "Setext heading", "setext-heading", line_of(MODEL, "Setext heading")),
    ]


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Hello World", "hello-world"),
        ("Install the `kratix` CLI!", "install-the-kratix-cli"),
        ("🎉 &nbsp; Congratulations", "--congratulations"),
        ("What's new in v1.2?", "whats-new-in-v12"),
        ("Über [Links](x.md)", "über-links"),
        ("snake_case stays", "snake_case-stays"),
    ],
)
def test_slug_rules(text, slug):
    assert slugify(heading_text(text)) == slug


def test_slugger_suffixes_repeats_in_order():
    slugger = Slugger()
    assert [slugger.slug(t) for t in ("A", "A", "A-1", "A")] == ["a", "a-1", "a-1-1", "a-2"]


def test_fences_with_language_meta_markers_and_highlights(page):
    bash, session_out, _session, yaml_block, listed, tilde = page.blocks
    assert (bash.lang, bash.attrs["title"], bash.marker) == ("bash", "install.sh", "install")
    assert bash.line == line_of(MODEL, '```bash title="install.sh"')
    assert bash.highlighted == frozenset({line_of(MODEL, "--filename promise.yaml")})
    assert bash.role is BlockRole.COMMAND
    assert session_out.role is BlockRole.OUTPUT
    assert yaml_block.marker == "request"
    # The magic comment is not content; the line after it is highlighted.
    assert "// highlight-next-line" not in yaml_block.text
    assert yaml_block.highlighted == frozenset({line_of(MODEL, "  size: small")})
    assert yaml_block.line_numbers[-1] == line_of(MODEL, "  size: small")
    assert listed.lines == ("kubectl logs pods/example-0",)
    assert listed.line_numbers == (line_of(MODEL, "kubectl logs pods/example-0"),)
    assert (tilde.lang, tilde.role) == ("python", BlockRole.CODE)
    assert [b.heading.text if b.heading else None for b in page.blocks] == [
        "First steps",
        "First steps",
        "Session code and bold 🎉",
        "Session code and bold 🎉",
        "Session code and bold 🎉",
        "Session code and bold 🎉",
    ]


def test_prompted_session_splits_commands_and_output(page):
    session = page.blocks[2]
    assert session.role is BlockRole.COMMAND
    assert session.command_lines == ("$ kubectl get pods", "$ kubectl get pv")
    outputs = [(p.command_line, p.output.lines) for p in page.pairs if p.command.index == session.index]
    assert outputs == [
        (
            line_of(MODEL, "$ kubectl get pods"),
            (
                "NAME        READY   STATUS    RESTARTS   AGE",
                "example-0   1/1     Running   0          1m",
            ),
        ),
        (line_of(MODEL, "$ kubectl get pv"), ("No resources found",)),
    ]


def test_command_block_pairs_with_output_block_after_an_admonition(page):
    pair = next(p for p in page.pairs if p.command.index == 0)
    assert pair.output.block.index == 1
    assert pair.output.line == line_of(MODEL, "promise.platform.kratix.io/cache created")
    # The command the output belongs to starts on the first line of the continued command.
    assert pair.command_line == line_of(MODEL, "kubectl apply \\")


def test_nested_admonitions_keep_their_own_titles():
    text = ":::note Outer\n\n:::tip Inner\nbody\n:::\n\n:::\n"
    page = parse_page(text, "nested.md")
    assert [(a.kind, a.title, a.line, a.end_line) for a in page.admonitions] == [
        ("tip", "Inner", 3, 5),
        ("note", "Outer", 1, 7),
    ]


def test_admonitions_imports_jsx_and_links(page):
    assert [(a.kind, a.title, a.line) for a in page.admonitions] == [("note", "Watch out", line_of(MODEL, ":::note"))]
    assert [(i.names, i.source, i.line) for i in page.imports] == [
        (("Tabs",), "@theme/Tabs", line_of(MODEL, "import Tabs")),
        (("Details", "Sum"), "./_parts.mdx", line_of(MODEL, "import {Details")),
    ]
    assert [(j.name, j.line) for j in page.jsx] == [("Tabs", line_of(MODEL, "<Tabs />"))]
    links = [(link.text, link.target, link.line, link.is_image) for link in page.links]
    assert links == [
        ("wrapped link", "https://kratix.io/docs", line_of(MODEL, "[wrapped"), False),
        ("https://auto.acme.io/x", "https://auto.acme.io/x", line_of(MODEL, "<https://auto"), False),
        ("reference", "https://ref.acme.io/page", line_of(MODEL, "[reference][ref]"), False),
        ("diagram", "img/diagram.png", line_of(MODEL, "![diagram]"), True),
    ]


def test_paragraphs_keep_code_spans(page):
    paragraph = next(p for p in page.paragraphs if "Run this" in p.text)
    assert paragraph.line == line_of(MODEL, "Run this:")


def test_unclosed_fence_is_a_parse_problem():
    page = parse_page("# T\n\n```bash\nls\n", "inline.md")
    assert page.parse_problems == [(3, "code fence ```bash opened here is never closed")]


def test_missing_page_is_a_one_line_error(tmp_path):
    with pytest.raises(PageError, match=r"no such file"):
        load_page(tmp_path / "absent.mdx")


def test_non_utf8_page_is_a_one_line_error(tmp_path):
    bad = tmp_path / "latin1.md"
    bad.write_bytes("# Caf\xe9\n".encode("latin-1"))
    with pytest.raises(PageError, match=r"latin1.md: not UTF-8"):
        load_page(bad)
