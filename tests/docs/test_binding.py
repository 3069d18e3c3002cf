"""Binding files: parsing, one-line errors, resolving heading/index and markers."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.docs.binding import BindingError, binding_files, bindings_for, load_binding_file, text_matches
from harness.docs.page import load_page
from tests.docs.conftest import FIXTURES, REPO, line_of

MODEL = FIXTURES / "model-page.mdx"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.docs.yaml"
    path.write_text(text)
    return path


def test_resolve_by_heading_index_anchor_and_marker(tmp_path):
    path = _write(
        tmp_path,
        """
page: model-page.mdx
bindings:
  - step: the cache is installed
    block: {heading: First steps, index: 0}
    compare: command
  - step: the pods are listed
    block: {heading: session-code-and-bold-, index: 0}
    compare: [command, output]
  - step: 'the platform user requests:'
    block: {marker: request}
    compare: manifest
  - step: installed by title
    block: {marker: install.sh}
    compare: command
  - step: gone
    block: {heading: First steps, index: 7}
    compare: command
""",
    )
    page = load_page(MODEL)
    file = load_binding_file(path)
    assert file.is_for(page)
    lines = [b.resolve(page).line if b.resolve(page) else None for b in file.bindings]
    assert lines == [
        line_of(MODEL, "```bash title"),
        line_of(MODEL, "```shell-session", 2),
        line_of(MODEL, "```yaml"),
        line_of(MODEL, "```bash title"),
        None,
    ]
    assert file.bindings[1].compare == ("command", "output")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("page: x.mdx\nbindings:\n  - step: s\n    compare: command\n", r"x.docs.yaml: bindings\[0\].block: missing"),
        (
            "page: x.mdx\nbindings:\n  - step: s\n    block: {heading: H}\n    compare: compile\n",
            r"bindings\[0\].compare: expected one or a list of command, manifest, output",
        ),
        (
            "page: x.mdx\nbindings:\n  - step: s\n    block: {heading: H, index: -1}\n    compare: command\n",
            r"bindings\[0\].block.index: must be 0 or more",
        ),
        (
            "page: x.mdx\nbindings:\n  - step: s\n    block: {heading: H, index: one}\n    compare: command\n",
            r"bindings\[0\].block.index: expected int, got str",
        ),
        (
            "page: x.mdx\nbindings:\n  - step: s\n    block: {headline: H}\n    compare: command\n",
            r"bindings\[0\].block: unknown field\(s\) headline",
        ),
        ("page: x.mdx\nbindings:\n  - step: a: b\n", r"x.docs.yaml:3: not valid YAML"),
        ("bindings: []\n", r"x.docs.yaml.page: missing"),
        ("page: x\nbindings: []\nextra: 1\n", r"unknown field\(s\) extra"),
        ("- just a list\n", r"expected a mapping with 'page' and 'bindings'"),
    ],
)
def test_malformed_binding_files_give_one_line_errors(tmp_path, text, message):
    with pytest.raises(BindingError, match=message) as caught:
        load_binding_file(_write(tmp_path, text))
    assert "\n" not in str(caught.value)


def test_step_text_matches_exactly_or_as_a_full_regex():
    assert text_matches('the promise "postgres-full" is installed', 'the promise "postgres-full" is installed')
    assert text_matches(r'the promise "(.+)" is installed', 'the promise "promise-clean" is installed')
    assert not text_matches("the promise", 'the promise "x" is installed')
    assert not text_matches("unbalanced (", "unbalanced")


def test_bindings_are_selected_by_page(tmp_path):
    (tmp_path / "a.docs.yaml").write_text("page: model-page\nbindings: []\n")
    (tmp_path / "b.docs.yaml").write_text(
        "page: other.mdx\nbindings:\n  - {step: s, block: {marker: m}, compare: output}\n"
    )
    files = binding_files(tmp_path)
    assert [f.path.name for f in files] == ["a.docs.yaml", "b.docs.yaml"]
    assert bindings_for(load_page(MODEL), files) == []


def test_part3_binding_file_parses():
    file = load_binding_file(REPO / "features" / "customising-a-promise.docs.yaml")
    assert file.page == "customising-a-promise.mdx"
    assert len(file.bindings) >= 15


def test_part3_bindings_resolve_on_the_published_page(tutorials):
    page = load_page(tutorials / "customising-a-promise.mdx")
    file = load_binding_file(REPO / "features" / "customising-a-promise.docs.yaml")
    unresolved = [b.source for b in file.bindings if b.resolve(page) is None]
    assert unresolved == []
