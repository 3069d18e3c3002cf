"""Reports for one page: text lines, Markdown (findings grouped by heading, the page's value next to the
run's), and JUnit XML with ``file`` and ``line`` on every test case."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from harness.docs.findings import Finding, Severity
from harness.docs.model import CodeBlock, Heading, Page


@dataclass(frozen=True)
class Check:
    """A comparison that ran (a bound block against a step), for JUnit's passing test cases."""

    name: str
    line: int
    passed: bool
    detail: str = ""


@dataclass
class PageReport:
    """Everything known about one page after lint (and, in a run, drift and observed-vs-shown)."""

    page: Page
    findings: list[Finding]
    # Executable blocks no step is bound to; None when no binding was evaluated (lint only).
    coverage_gaps: list[CodeBlock] | None = None
    checks: list[Check] = field(default_factory=list)

    def counts(self) -> Counter[Severity]:
        return Counter(f.severity for f in self.findings)

    def failing(self, fail_on: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= fail_on]


def render_text(findings: Iterable[Finding]) -> str:
    return "\n".join(f.format() for f in findings)


def _summary(report: PageReport) -> str:
    counts = report.counts()
    parts = [f"{counts.get(s, 0)} {s}" for s in sorted(Severity, reverse=True)]
    return f"{len(report.findings)} findings ({', '.join(parts)})"


def _fence(text: str) -> str:
    longest = max((len(run) for run in text.split("\n") if set(run) == {"`"}), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def _section_key(page: Page, line: int) -> Heading | None:
    return page.heading_at(line)


def render_markdown(report: PageReport) -> str:
    """The Markdown report: summary, per-rule counts, findings per heading in page order, coverage gaps."""
    page = report.page
    lines = [f"# Docs check: {page.name}", "", f"Source: `{page.source}` · {_summary(report)}", ""]
    if report.findings:
        lines += ["| Rule | Severity | Count |", "|---|---|---|"]
        by_rule = Counter((f.rule, f.severity) for f in report.findings)
        for (rule_id, severity), count in sorted(by_rule.items(), key=lambda item: (-item[0][1], item[0][0])):
            lines.append(f"| {rule_id} | {severity} | {count} |")
        lines.append("")
    sections: dict[int, list[Finding]] = {}
    headings: dict[int, Heading | None] = {}
    for finding in sorted(report.findings, key=Finding.sort_key):
        heading = _section_key(page, finding.line)
        key = heading.line if heading else 0
        headings[key] = heading
        sections.setdefault(key, []).append(finding)
    for key in sorted(sections):
        heading = headings[key]
        title = f"{heading.text} (line {heading.line}, #{heading.anchor})" if heading else "Before the first heading"
        lines += [f"## {title}", ""]
        for finding in sections[key]:
            lines.append(f"- **{finding.severity}** `{finding.rule}` line {finding.line}: {finding.message}")
            if finding.fix:
                lines.append(f"  - fix: `{finding.fix}`")
            if finding.shown is not None or finding.observed is not None:
                lines += ["", "  <table><tr><th>Page shows</th><th>Run observed</th></tr><tr><td>", ""]
                lines += ["  " + row for row in _fence(finding.shown or "(nothing)").split("\n")]
                lines += ["", "  </td><td>", ""]
                lines += ["  " + row for row in _fence(finding.observed or "(nothing)").split("\n")]
                lines += ["", "  </td></tr></table>", ""]
        lines.append("")
    if report.coverage_gaps is not None:
        lines += ["## Coverage", ""]
        if report.checks:
            passed = sum(1 for c in report.checks if c.passed)
            lines.append(f"{passed} of {len(report.checks)} bound comparisons matched.")
            lines.append("")
        if report.coverage_gaps:
            lines.append("Executable blocks no step is bound to:")
            lines.append("")
            for block in report.coverage_gaps:
                where = block.heading.text if block.heading else "(top)"
                first = next((line.strip() for line in block.lines if line.strip()), "")
                lines.append(f"- line {block.line} ({where}, {block.role.value}): `{first[:80]}`")
        else:
            lines.append("Every executable block is bound to a step.")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _testcase(suite: ET.Element, classname: str, name: str, file: str, line: int) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, file=file, line=str(line), time="0")


def junit_suite(report: PageReport, fail_on: Severity = Severity.ERROR) -> ET.Element:
    """One <testsuite> for a page: a test case per finding (failing at or above ``fail_on``) and per check."""
    page = report.page
    suite = ET.Element("testsuite", name=f"docs.{page.stem}")
    failures = 0
    classname = f"docs.{page.stem}"
    for finding in sorted(report.findings, key=Finding.sort_key):
        case = _testcase(
            suite, classname, f"{finding.source}:{finding.line} {finding.rule}", finding.source, finding.line
        )
        text = finding.format()
        if finding.shown is not None or finding.observed is not None:
            text += f"\n--- page shows ---\n{finding.shown or ''}\n--- run observed ---\n{finding.observed or ''}"
        if finding.severity >= fail_on:
            failures += 1
            failure = ET.SubElement(case, "failure", message=finding.message, type=f"{finding.rule} {finding.severity}")
            failure.text = text
        else:
            ET.SubElement(case, "system-out").text = text
    for check in report.checks:
        if check.passed:
            case = _testcase(suite, classname, f"{page.source}:{check.line} {check.name}", page.source, check.line)
            if check.detail:
                ET.SubElement(case, "system-out").text = check.detail
    if len(suite) == 0:
        _testcase(suite, classname, f"{page.source} lint", page.source, 1)
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    return suite


def render_junit(reports: Sequence[PageReport], fail_on: Severity = Severity.ERROR) -> str:
    """JUnit XML for one or more pages."""
    root = ET.Element("testsuites", name="docs-check")
    total = failures = 0
    for report in reports:
        suite = junit_suite(report, fail_on)
        total += int(suite.get("tests", "0"))
        failures += int(suite.get("failures", "0"))
        root.append(suite)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
