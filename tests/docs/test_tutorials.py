"""The lint on the two published tutorial pages (../shared/tutorials; skipped when absent).

These assert that the general rules find the defects a careful reader finds on the real pages, at the right
lines, without any rule knowing these pages.
"""

from __future__ import annotations

from collections import Counter

from harness.docs.lint import LintOptions, lint_page
from harness.docs.page import load_page
from tests.docs.conftest import line_of


def test_part3_page(tutorials):
    path = tutorials / "customising-a-promise.mdx"
    findings = lint_page(load_page(path), LintOptions())
    got = {(f.rule, f.line) for f in findings}
    expected = {
        # The apply output names kind "postgres"; the applied request (resource.yaml) is kind postgresql.
        ("API004", line_of(path, "postgres.workshop.kratix.io/example created")),
        # An image reference with a scheme.
        ("IMG001", line_of(path, "- image: https://ghcr.io/syntasso/workshop/security-scanner")),
        # No controller names a pod "postgres-dev-example" (no generated suffix, no such Pod manifest).
        ("NAME002", line_of(path, "postgres-dev-example                 0/1")),
        # The logs command's pod pattern matches none of the pipeline pods the page shows.
        ("NAME003", line_of(path, "pods/configure-pipeline-postgresql-<SHA>")),
        ("PH001", line_of(path, "pods/configure-pipeline-postgresql-<SHA>")),
        # Scanner output pasted inside the bash block that runs the logs command.
        ("DOC007", line_of(path, "Found follow images:")),
        # A heredoc fenced as yaml.
        ("DOC006", line_of(path, "```yaml", 4)),
        # "# Observe some external thing": a second page title.
        ("DOC002", line_of(path, "# Observe some external thing")),
        # [here](example.com): a host name without a scheme, and a reserved example domain.
        ("LINK003", line_of(path, "[here](example.com)")),
        # promise.yaml is applied twice but never shown or created on the page.
        ("NAME004", line_of(path, "apply -f promise.yaml")),
        ("NAME004", line_of(path, "apply -f promise.yaml", 2)),
        # Unused MDX imports.
        ("DOC004", line_of(path, "import useBaseUrl")),
        ("DOC004", line_of(path, "import PartialPromise")),
        # busybox and syntasso/external-something-example.com mean :latest.
        ("IMG002", line_of(path, "image: busybox")),
        ("IMG002", line_of(path, "- image: syntasso/external-something-example.com")),
    }
    assert expected <= got, sorted(expected - got)
    # Nothing is reported at a line outside the defects above and the three --watch commands.
    watch = {("CMD001", n) for n, line in enumerate(path.read_text().splitlines(), 1) if "--watch" in line}
    assert got - expected == watch


def test_part3_page_with_its_folder_as_docs_root(tutorials):
    path = tutorials / "customising-a-promise.mdx"
    findings = lint_page(load_page(path), LintOptions(docs_root=tutorials, select=frozenset({"LINK001", "DOC005"})))
    assert Counter(f.rule for f in findings) == {"LINK001": 4, "DOC005": 1}
    assert {f.message.split("'")[1] for f in findings if f.rule == "LINK001"} == {
        "a series",
        "Delivering your service on demand",
        "Promise",
        "deliver a service on each user request",
    }


def test_writing_a_promise_rendered_text(tutorials):
    path = tutorials / "writing-a-promise.txt"
    findings = lint_page(load_page(path), LintOptions())
    got = Counter((f.rule, f.line) for f in findings)
    # kratix init promise says --group demo.kratix.io; the Promise shown on the page uses test.kratix.io.
    assert got[("API002", line_of(path, "  api:"))] == 1
    # Four downloads without --fail.
    assert sorted(line for rule, line in got if rule == "URL002") == [
        line_of(path, "curl -o deps/operator.yaml"),
        line_of(path, "curl -o deps/operatorconfiguration"),
        line_of(path, "curl -o deps/postgresql.crd"),
        line_of(path, "curl -o deps/postgresteam"),
    ]
    assert {rule for rule, _ in got} == {"API002", "URL002", "CMD001"}
