"""pytest plugin: ``--docs PATH_OR_URL`` lints the page, binds steps to its blocks and reports drift.

Register it in the root conftest's ``pytest_plugins`` (``"harness.docs.plugin"``). Steps take the session
fixture ``docs_recorder`` and report what they ran, applied and observed (recorder.py); the plugin follows the
current scenario and step through pytest-bdd's hooks. At the end of the session it writes, per page,
``<artifacts>/docs/<page-stem>.md`` (findings grouped by heading, the page's value next to the run's, coverage
gaps) and ``<artifacts>/docs/<page-stem>.junit.xml``. Without ``--docs`` the fixture is a no-op recorder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.docs.binding import BindingError, BindingFile, binding_files, bindings_for
from harness.docs.drift import evaluate
from harness.docs.findings import Finding, Severity
from harness.docs.lint import LintOptions, lint_page
from harness.docs.model import Page
from harness.docs.page import PageError, load_page
from harness.docs.recorder import DocsRecorder, NullRecorder, StepKey
from harness.docs.report import PageReport, render_junit, render_markdown


@dataclass
class DocsSession:
    """Run-wide state: the pages, the binding files and the recorder."""

    recorder: DocsRecorder
    pages: list[Page] = field(default_factory=list)
    binding_files: list[BindingFile] = field(default_factory=list)
    options: LintOptions = field(default_factory=LintOptions)
    written: list[tuple[str, int, int, Path]] = field(default_factory=list)  # page, findings, errors, report


_SESSION = pytest.StashKey[DocsSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("docs", "tutorial page checks (harness.docs)")
    group.addoption(
        "--docs",
        action="append",
        default=[],
        metavar="PATH_OR_URL",
        help="a tutorial page (.md/.mdx, rendered .txt, or URL) to lint and compare with the run; repeatable",
    )
    group.addoption("--docs-root", default=None, metavar="DIR", help="docs tree for link/anchor/partial checks")
    group.addoption("--docs-online", action="store_true", help="fetch the URLs the page's commands use")
    group.addoption(
        "--docs-fail-on",
        default="error",
        type=Severity.parse,
        metavar="SEVERITY",
        help="findings at or above this severity are JUnit failures in the docs report (default error)",
    )
    group.addoption(
        "--docs-bindings",
        default=None,
        metavar="DIR",
        help="where *.docs.yaml binding files are (default: <rootdir>/features)",
    )


def _artifacts_dir(config: pytest.Config) -> Path:
    return Path(str(config.getoption("artifacts_dir", default="artifacts") or "artifacts"))


def pytest_configure(config: pytest.Config) -> None:
    sources: list[str] = config.getoption("docs", default=[]) or []
    if not sources or hasattr(config, "workerinput"):
        config.stash[_SESSION] = DocsSession(NullRecorder())
        return
    root = config.getoption("docs_root", default=None)
    options = LintOptions(
        docs_root=Path(root) if root else None, online=bool(config.getoption("docs_online", default=False))
    )
    session = DocsSession(DocsRecorder(), options=options)
    for source in sources:
        try:
            session.pages.append(load_page(source))
        except PageError as exc:
            raise pytest.UsageError(f"--docs: {exc}") from None
    bindings_dir = Path(config.getoption("docs_bindings", default=None) or config.rootpath / "features")
    try:
        session.binding_files = binding_files(bindings_dir) if bindings_dir.is_dir() else []
    except BindingError as exc:
        raise pytest.UsageError(f"docs bindings: {exc}") from None
    config.stash[_SESSION] = session


def docs_session(config: pytest.Config) -> DocsSession:
    """The run's docs state (a no-op session when the plugin was not configured)."""
    return config.stash.get(_SESSION, DocsSession(NullRecorder()))


@pytest.fixture(scope="session")
def docs_recorder(request: pytest.FixtureRequest) -> DocsRecorder:
    """Where steps report what they ran, applied and observed (a no-op without ``--docs``)."""
    return docs_session(request.config).recorder


def _key(feature: Any, scenario: Any, step: Any) -> StepKey:
    filename = getattr(feature, "filename", "") or ""
    return StepKey(
        feature=Path(filename).stem,
        scenario=str(getattr(scenario, "name", "")),
        step=str(getattr(step, "name", "")),
        keyword=str(getattr(step, "keyword", "")).strip(),
        line=int(getattr(step, "line_number", 0) or 0),
    )


def pytest_bdd_before_step(
    request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any, step_func: Callable[..., Any]
) -> None:
    recorder = docs_session(request.config).recorder
    if recorder.enabled:
        recorder.begin_step(_key(feature, scenario, step))


def pytest_bdd_after_step(
    request: pytest.FixtureRequest,
    feature: Any,
    scenario: Any,
    step: Any,
    step_func: Callable[..., Any],
    step_func_args: dict[str, Any],
) -> None:
    docs_session(request.config).recorder.end_step("passed")


def pytest_bdd_step_error(
    request: pytest.FixtureRequest,
    feature: Any,
    scenario: Any,
    step: Any,
    step_func: Callable[..., Any],
    step_func_args: dict[str, Any],
    exception: Exception,
) -> None:
    docs_session(request.config).recorder.end_step("failed")


def page_report(page: Page, session: DocsSession) -> PageReport:
    """Lint + drift + observed-vs-shown for one page from this run's records."""
    findings: list[Finding] = list(lint_page(page, session.options))
    bindings = bindings_for(page, session.binding_files)
    result = evaluate(page, bindings, session.recorder.records)
    return PageReport(page, findings + result.findings, result.coverage_gaps if bindings else [], result.checks)


def _records_json(session: DocsSession) -> str:
    def default(value: Any) -> Any:
        return repr(value)

    records = [
        {
            "feature": r.key.feature,
            "scenario": r.key.scenario,
            "step": r.key.step,
            "outcome": r.outcome,
            "events": [
                {
                    "kind": e.kind,
                    "argv": list(e.argv),
                    "manifest": e.manifest,
                    "context": e.context,
                    "observed_kind": e.observed_kind,
                    "value": e.value,
                }
                for e in r.events
            ],
        }
        for r in session.recorder.records
        if r.events
    ]
    return json.dumps(records, indent=2, default=default, sort_keys=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = docs_session(session.config)
    if not state.recorder.enabled:
        return
    out = _artifacts_dir(session.config) / "docs"
    out.mkdir(parents=True, exist_ok=True)
    for page in state.pages:
        report = page_report(page, state)
        markdown = out / f"{page.stem}.md"
        markdown.write_text(render_markdown(report), encoding="utf-8")
        fail_on = session.config.getoption("docs_fail_on", default=Severity.ERROR)
        (out / f"{page.stem}.junit.xml").write_text(render_junit([report], fail_on), encoding="utf-8")
        errors = len(report.failing(Severity.ERROR))
        state.written.append((page.name, len(report.findings), errors, markdown))
    (out / "recorded-steps.json").write_text(_records_json(state), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = docs_session(config)
    if not state.written:
        return
    terminalreporter.section("docs")
    for name, count, errors, path in state.written:
        terminalreporter.write_line(f"{name}: {count} findings ({errors} errors) -> {path}")
    if state.recorder.unattributed:
        terminalreporter.write_line(f"{state.recorder.unattributed} recorder calls came outside any step (ignored)")
