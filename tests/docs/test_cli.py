"""scripts/docs-check and python -m harness.docs: formats, exit codes, one-line errors."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

from harness.docs.cli import docs_check, main
from harness.tools import run
from tests.docs.conftest import FIXTURES, REPO

BAD = str(FIXTURES / "rules" / "API004.bad.md")
GOOD = str(FIXTURES / "rules" / "API004.good.md")


def test_text_output_and_exit_status(capsys):
    assert docs_check([BAD]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [
        f"{BAD}:35: error API004 output shows caches.demo.acme.io/example but the command applies "
        "cache.demo.acme.io/example (fix: cache.demo.acme.io/example created)",
        f"{BAD}:48: error API004 output shows cache.demo.acme.io/other but the command applies "
        "cache.demo.acme.io/second (fix: cache.demo.acme.io/second created)",
    ]
    assert docs_check([GOOD]) == 0


def test_fail_on_threshold(capsys):
    warning_only = str(FIXTURES / "rules" / "URL002.bad.md")
    assert docs_check([warning_only]) == 0
    assert docs_check([warning_only, "--fail-on", "warning"]) == 1
    capsys.readouterr()


def test_markdown_and_junit_reports_in_out_dir(tmp_path, capsys):
    assert docs_check([BAD, GOOD, "--format", "junit", "--out", str(tmp_path)]) == 1
    suite = ET.parse(tmp_path / "API004.bad.junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "2"
    case = suite.find("testcase")
    assert case is not None
    assert (case.get("file"), case.get("line")) == (BAD, "35")
    assert docs_check([BAD, "--format", "markdown", "--out", str(tmp_path)]) == 1
    markdown = (tmp_path / "API004.bad.md").read_text()
    assert "## Cache API (line 1, #cache-api)" in markdown
    assert "| API004 | error | 2 |" in markdown
    assert "-> " in capsys.readouterr().out


def test_usage_errors_exit_2(tmp_path, capsys):
    assert docs_check([str(tmp_path / "absent.md")]) == 2
    assert "absent.md: no such file" in capsys.readouterr().err
    assert docs_check([GOOD, "--docs-root", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert docs_check([GOOD, "--select", "XYZ999"]) == 2
    assert "unknown rule id" in capsys.readouterr().err


def test_module_entry_point_lists_rules_and_lints(capsys):
    assert main(["rules"]) == 0
    assert "API004" in capsys.readouterr().out
    assert main(["lint", GOOD]) == 0


def test_script_runs_as_a_program():
    result = run(
        [sys.executable, str(REPO / "scripts" / "docs-check"), BAD, "--select", "API004"], timeout=60, check=False
    )
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2
    assert all(" error API004 " in line for line in result.stdout.splitlines())
