"""Output people can read: one line per step (ok / changed / skipped / failed + duration), a recap per
feature naming the target, and diagnostics saved and attached when a step fails.

"changed" is not guessed: a step is changed when it wrote to a cluster (the kube adapter reports every
successful create/apply/patch/delete that changed something).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import diagnostics, kube
from harness.plugin import current_target

STATUS_WIDTH = 8


@dataclass
class FeatureTally:
    """Counts for one feature's recap."""

    ok: int = 0
    changed: int = 0
    skipped: int = 0
    failed: int = 0
    scenarios_passed: int = 0
    scenarios_failed: int = 0
    seconds: float = 0.0


@dataclass
class _ScenarioState:
    started: float = 0.0
    step_started: float = 0.0
    writes: list[str] = field(default_factory=list)
    steps_done: int = 0
    failed: bool = False
    touched: dict[str, kube.Kube] = field(default_factory=dict)


class StepReporter:
    """pytest plugin object; registered by ``pytest_configure`` below."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tallies: dict[str, FeatureTally] = defaultdict(FeatureTally)
        self.state = _ScenarioState()
        kube.WRITE_LISTENERS.append(self._on_write)
        kube.TOUCH_LISTENERS.append(self._on_touch)

    # -- listeners ---------------------------------------------------------------------------------

    def _ours(self, k: kube.Kube) -> bool:
        target = current_target(self.config)
        clusters = target.clusters if target is not None else None
        return clusters is not None and any(k is c for c in clusters.all)

    def _on_write(self, k: kube.Kube, action: str) -> None:
        if self._ours(k):
            self.state.writes.append(f"{k.name}: {action}")

    def _on_touch(self, k: kube.Kube) -> None:
        if self._ours(k):
            self.state.touched[k.name] = k

    # -- output ------------------------------------------------------------------------------------

    def _line(self, text: str, **markup: bool) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is None:
            return
        # Steps run while pytest captures output; the report line must reach the terminal as it happens.
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
            tr.ensure_newline()
            tr.write_line(text, **markup)

    def _step_line(self, status: str, step: Any, seconds: float | None, **markup: bool) -> None:
        duration = f" ({seconds:.2f}s)" if seconds is not None else ""
        self._line(f"  {status:<{STATUS_WIDTH}} {step.keyword} {step.name}{duration}", **markup)

    # -- pytest-bdd hooks --------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_bdd_before_scenario(self, request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
        self.state = _ScenarioState(started=time.monotonic())
        target = current_target(self.config)
        where = f" [{target.name}]" if target else ""
        self._line(f"SCENARIO{where} {scenario.name}", bold=True)

    def pytest_bdd_before_step(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                               step_func: Any) -> None:
        self.state.step_started = time.monotonic()
        self.state.writes = []

    def pytest_bdd_after_step(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                              step_func: Any, step_func_args: dict[str, Any]) -> None:
        seconds = time.monotonic() - self.state.step_started
        tally = self.tallies[feature.name]
        self.state.steps_done += 1
        if self.state.writes:
            tally.changed += 1
            self._step_line("changed", step, seconds, yellow=True)
        else:
            tally.ok += 1
            self._step_line("ok", step, seconds, green=True)

    def pytest_bdd_step_error(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                              step_func: Any, step_func_args: dict[str, Any], exception: Exception) -> None:
        self._failed_step(request, feature, scenario, step, exception)

    def pytest_bdd_step_func_lookup_error(self, request: pytest.FixtureRequest, feature: Any, scenario: Any,
                                          step: Any, exception: Exception) -> None:
        self._failed_step(request, feature, scenario, step, exception, collect=False)

    def _failed_step(self, request: pytest.FixtureRequest, feature: Any, scenario: Any, step: Any,
                     exception: Exception, collect: bool = True) -> None:
        seconds = time.monotonic() - self.state.step_started
        tally = self.tallies[feature.name]
        tally.failed += 1
        self.state.steps_done += 1
        self.state.failed = True
        self._step_line("failed", step, seconds, red=True, bold=True)
        first = str(exception).strip().splitlines()
        self._line(f"  {'':<{STATUS_WIDTH}} {first[0] if first else type(exception).__name__}", red=True)
        if collect:
            self._diagnose(request, scenario, step)

    def pytest_bdd_after_scenario(self, request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
        tally = self.tallies[feature.name]
        for step in scenario.steps[self.state.steps_done:]:
            tally.skipped += 1
            self._step_line("skipped", step, None, cyan=True)
        tally.seconds += time.monotonic() - self.state.started
        if self.state.failed:
            tally.scenarios_failed += 1
        else:
            tally.scenarios_passed += 1

    # -- diagnostics -------------------------------------------------------------------------------

    def _diagnose(self, request: pytest.FixtureRequest, scenario: Any, step: Any) -> None:
        target = current_target(self.config)
        base = Path(self.config.getoption("artifacts_dir")).resolve() / "diagnostics"
        dest = base / diagnostics.slug(request.node.name)
        touched = list(self.state.touched.values())
        if target is not None and target.clusters is not None and not touched:
            touched = target.clusters.all
        findings = diagnostics.collect(touched, dest)
        if target is not None:
            try:
                findings.extend(target.collect_extra_diagnostics(dest))
            except Exception as exc:  # never hide the step's own failure
                findings.append(f"target diagnostics incomplete: {exc}")
        summary = "\n".join(
            [f"failed step: {step.keyword} {step.name}", f"diagnostics: {dest}",
             f"clusters: {', '.join(k.name for k in touched) or 'none'}"]
            + [f"- {f}" for f in findings[:40]]
            + ([f"... {len(findings) - 40} more in {dest}"] if len(findings) > 40 else [])
        )
        (dest / "SUMMARY.txt").parent.mkdir(parents=True, exist_ok=True)
        (dest / "SUMMARY.txt").write_text(summary + "\n")
        request.node.add_report_section("call", "diagnostics", summary)
        request.node.user_properties.append(("diagnostics", str(dest)))
        self._line(f"  {'':<{STATUS_WIDTH}} diagnostics saved to {dest}", red=True)

    # -- recap -------------------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.tallies:
            return
        target = current_target(self.config)
        described = target.describe() if target else "no target"
        terminalreporter.section("RECAP", bold=True)
        terminalreporter.write_line(f"target: {described}")
        for name, t in self.tallies.items():
            terminalreporter.write_line(
                f"{name}: scenarios passed={t.scenarios_passed} failed={t.scenarios_failed} "
                f"| steps ok={t.ok} changed={t.changed} skipped={t.skipped} "
                f"failed={t.failed} | {t.seconds:.1f}s",
                red=bool(t.failed or t.scenarios_failed), green=not (t.failed or t.scenarios_failed),
            )


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("kratix-step-reporter"):
        config.pluginmanager.register(StepReporter(config), "kratix-step-reporter")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin("kratix-step-reporter")
    if isinstance(plugin, StepReporter):
        kube.WRITE_LISTENERS[:] = [f for f in kube.WRITE_LISTENERS if getattr(f, "__self__", None) is not plugin]
        kube.TOUCH_LISTENERS[:] = [f for f in kube.TOUCH_LISTENERS if getattr(f, "__self__", None) is not plugin]
        config.pluginmanager.unregister(plugin)
