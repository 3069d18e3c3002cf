"""Every lint rule fires on its defect fixture (at the expected lines) and stays quiet on the clean one."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.docs.findings import Severity
from harness.docs.lint import LintOptions, all_rules, lint_page
from harness.docs.page import load_page
from tests.docs.conftest import FIXTURES, line_of

RULES_DIR = FIXTURES / "rules"
SITE = FIXTURES / "site"

# rule id -> (directory, fixture stem suffix, lines expected on the defect page as (text, occurrence))
CASES: dict[str, tuple[Path, str, list[tuple[str, int]]]] = {
    "DOC001": (RULES_DIR, "md", [("```bash", 1)]),
    "DOC002": (RULES_DIR, "md", [("#### Too deep", 1), ("# A second title", 1)]),
    "DOC003": (RULES_DIR, "md", [("## Set up the client {#setup}", 1)]),
    "DOC004": (RULES_DIR, "mdx", [("import Tabs", 1)]),
    "DOC005": (SITE, "mdx", [("import Architecture", 1)]),
    "DOC006": (RULES_DIR, "md", [("```yaml", 1), ("```", 3)]),
    "DOC007": (RULES_DIR, "md", [("Starting cache operator", 1)]),
    "DOC008": (RULES_DIR, "md", [("// highlight-next-line", 1)]),
    "YAML001": (RULES_DIR, "md", [(" spec:", 1), ("metadata: [name: broken", 1)]),
    "YAML002": (RULES_DIR, "md", [("replicas: 2", 1)]),
    "YAML003": (RULES_DIR, "md", [("apiVersion: demo.acme.io/v1", 1), ("apiVersion: v1", 1)]),
    "IMG001": (
        RULES_DIR,
        "md",
        [("https://ghcr.io", 1), ("Acme/Notifier", 1), ("busybox:1.36:extra", 1), ("kind load", 1), ("kratix add", 1)],
    ),
    "IMG002": (RULES_DIR, "md", [("image: nginx", 1), ("docker pull", 1)]),
    "API001": (
        RULES_DIR,
        "md",
        [("apiVersion: demo.acme.io/v1", 1), ("apiVersion: demo.acme.io/v2", 1), ("apiVersion: other.acme.io/v1", 1)],
    ),
    "API002": (RULES_DIR, "md", [("  api:", 1)]),
    "API003": (RULES_DIR, "md", [("cachez", 1), ("caches.other", 1)]),
    "API004": (RULES_DIR, "md", [("caches.demo.acme.io/example created", 1), ("cache.demo.acme.io/other", 1)]),
    "API005": (RULES_DIR, "md", [("cache   Available", 1), ("cache   Available", 1)]),
    "NAME001": (RULES_DIR, "md", [("delete promise cache-service", 1)]),
    "NAME002": (RULES_DIR, "md", [("cache-server", 1), ("web-7d9c6b8f5d-x2k4p", 1)]),
    "NAME003": (RULES_DIR, "md", [("kubectl logs", 1)]),
    "NAME004": (RULES_DIR, "md", [("missing.yaml", 1)]),
    "URL001": (RULES_DIR, "md", [("htps://", 1), (":99999", 1), ("bad_host", 1)]),
    "URL002": (RULES_DIR, "md", [("curl -sSL", 1), ("curl --silent", 1)]),
    "LINK001": (SITE, "md", [("no-such-page", 1), ("no-such-page", 1)]),
    "LINK002": (SITE, "md", [("#nowhere", 1), ("#nowhere", 1)]),
    "LINK003": (RULES_DIR, "md", [("example.com", 1), ("example.com", 1), ("[nothing]()", 1)]),
    "PH001": (RULES_DIR, "md", [("<pod-name>", 1), ("api.example.com", 1)]),
    "CMD001": (RULES_DIR, "md", [("get pods -w", 1), ("logs -f", 1)]),
}
ONLINE_RULES = {"URL003", "URL004"}  # tests/docs/test_rules_online.py


def _lint(path: Path, rule: str):
    options = LintOptions(docs_root=SITE, select=frozenset({rule}))
    return lint_page(load_page(path), options)


def test_every_rule_has_a_fixture_pair():
    assert set(all_rules()) == set(CASES) | ONLINE_RULES
    for rule, (directory, suffix, _) in CASES.items():
        assert (directory / f"{rule}.bad.{suffix}").is_file()
        assert (directory / f"{rule}.good.{suffix}").is_file()


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fires_on_its_defect_fixture(rule):
    directory, suffix, expected = CASES[rule]
    bad = directory / f"{rule}.bad.{suffix}"
    findings = _lint(bad, rule)
    assert sorted(f.line for f in findings) == sorted(line_of(bad, text, n) for text, n in expected), [
        f.format() for f in findings
    ]
    for finding in findings:
        assert finding.rule == rule
        assert finding.severity == all_rules()[rule].severity or finding.severity in Severity
        assert finding.source == str(bad)
        assert finding.message


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_stays_quiet_on_the_clean_fixture(rule):
    directory, suffix, _ = CASES[rule]
    good = directory / f"{rule}.good.{suffix}"
    assert [f.format() for f in _lint(good, rule)] == []


def test_a_clean_tutorial_page_has_no_findings_at_all():
    page = load_page(SITE / "clean-tutorial.mdx")
    assert [f.format() for f in lint_page(page, LintOptions(docs_root=SITE))] == []


def test_fixes_are_offered_where_evident():
    def fixes(rule: str) -> list[str | None]:
        return [f.fix for f in _lint(RULES_DIR / f"{rule}.bad.md", rule)]

    assert "ghcr.io/acme/scanner:v1.0.0" in fixes("IMG001")
    assert "acme/notifier:v1" in fixes("IMG001")
    assert fixes("API004") == ["cache.demo.acme.io/example created", "cache.demo.acme.io/second created"]
    assert fixes("NAME001") == ["promise cache"]
    assert fixes("URL002") == ["add --fail (or -f)"] * 2
    assert fixes("NAME003") == ["pods/kratix-cache-example-configure-x2k4p"]


def test_links_and_partials_are_only_resolved_with_a_docs_root():
    for rule, suffix in (("LINK001", "md"), ("DOC005", "mdx")):
        page = load_page(SITE / f"{rule}.bad.{suffix}")
        assert lint_page(page, LintOptions(select=frozenset({rule}))) == []


def test_same_page_anchors_are_checked_without_a_docs_root():
    page = load_page(SITE / "LINK002.bad.md")
    findings = lint_page(page, LintOptions(select=frozenset({"LINK002"})))
    assert [f.message for f in findings] == ["link 'down' → #nowhere: no such anchor on this page"]


def test_rules_work_on_rendered_text_pages():
    page = load_page(FIXTURES / "rendered-guide.txt")
    found = {(f.rule, f.line) for f in lint_page(page)}
    guide = FIXTURES / "rendered-guide.txt"
    assert found == {("API002", line_of(guide, "  api:")), ("URL002", line_of(guide, "curl -o"))}


def test_unknown_rule_selection_is_refused():
    with pytest.raises(ValueError, match="unknown rule id"):
        lint_page(load_page(RULES_DIR / "DOC001.good.md"), LintOptions(select=frozenset({"NOPE1"})))
