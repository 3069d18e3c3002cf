"""What the steps did, step by step, for comparison with the page (see drift.py).

Steps call the session fixture ``docs_recorder`` (plugin.py):

* ``ran(argv)``: the command the step ran, or the kubectl command equivalent to the API calls it made;
* ``applied(manifest, context)``: an object the step applied, as data;
* ``observed(kind, value)``: what the cluster showed: ``"pods"``/``"deployments"``/``"pvc"``/``"pv"``/
  ``"promises"``/``"<plural>.<group>"`` with a list of API objects (rendered as kubectl would), ``"table"``
  with kubectl's text or a ``Table``, ``"names"`` with a list of names, ``"log"`` with log text, ``"output"``
  with a command's output (``postgresql.workshop.kratix.io/example created``).

The plugin tells the recorder which scenario and step are current (pytest-bdd hooks), so steps never say
which step they are. Without ``--docs`` the fixture is a ``NullRecorder`` whose methods return at once.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.tools import mask_argv


@dataclass(frozen=True)
class StepKey:
    """Which step of which scenario of which feature."""

    feature: str  # feature file stem
    scenario: str
    step: str  # step text without its keyword
    keyword: str = ""
    line: int = 0  # line in the feature file

    def __str__(self) -> str:
        return f"{self.feature}: {self.scenario}: {self.keyword} {self.step}".replace("  ", " ")


@dataclass(frozen=True)
class Event:
    """One thing a step reported."""

    kind: str  # "ran", "applied" or "observed"
    argv: tuple[str, ...] = ()
    manifest: Mapping[str, Any] | None = None
    context: str = ""
    observed_kind: str = ""
    value: Any = None


@dataclass
class StepRecord:
    """Events of one execution of one step."""

    key: StepKey
    events: list[Event] = field(default_factory=list)
    outcome: str = "running"  # "passed", "failed"

    def ran(self) -> list[tuple[str, ...]]:
        return [e.argv for e in self.events if e.kind == "ran"]

    def applied(self) -> list[Mapping[str, Any]]:
        return [e.manifest for e in self.events if e.kind == "applied" and e.manifest is not None]

    def observed(self) -> list[Event]:
        return [e for e in self.events if e.kind == "observed"]


class DocsRecorder:
    """Collects what steps ran, applied and observed, per step execution."""

    enabled = True

    def __init__(self) -> None:
        self.records: list[StepRecord] = []
        self.unattributed = 0  # events reported outside any step (fixture setup ...)
        self._current: StepRecord | None = None

    # -- called by the plugin ----------------------------------------------------------------------

    def begin_step(self, key: StepKey) -> None:
        self._current = StepRecord(key)
        self.records.append(self._current)

    def end_step(self, outcome: str) -> None:
        if self._current is not None:
            self._current.outcome = outcome
        self._current = None

    # -- called by steps ---------------------------------------------------------------------------

    def _add(self, event: Event) -> None:
        if self._current is None:
            self.unattributed += 1
            return
        self._current.events.append(event)

    def ran(self, argv: Sequence[str]) -> None:
        """The step ran ``argv`` (or made the API calls this kubectl command stands for).

        Secret values (``--token X``, ``--from-literal=k=v`` ...) are masked as ``harness.tools`` masks them:
        the argv ends up in drift reports and ``recorded-steps.json``.
        """
        if isinstance(argv, str):
            raise TypeError("docs_recorder.ran() takes an argument list, not a shell string")
        self._add(Event("ran", argv=tuple(mask_argv([str(a) for a in argv]))))

    def applied(self, manifest: Mapping[str, Any], context: str) -> None:
        """The step applied ``manifest`` to the cluster ``context`` (platform, worker, a kube context)."""
        self._add(Event("applied", manifest=copy.deepcopy(dict(manifest)), context=context))

    def observed(self, kind: str, value: object) -> None:
        """The cluster showed ``value`` (see the module docstring for kinds and values)."""
        self._add(Event("observed", observed_kind=kind, value=copy.deepcopy(value)))

    def matching(self, step: str, scenario: str | None = None) -> list[StepRecord]:
        """Records whose step text equals ``step`` (or fully matches it as a regex)."""
        from harness.docs.binding import text_matches

        return [
            r
            for r in self.records
            if text_matches(step, r.key.step) and (scenario is None or text_matches(scenario, r.key.scenario))
        ]


class NullRecorder(DocsRecorder):
    """The recorder without ``--docs``: every call returns at once."""

    enabled = False

    def begin_step(self, key: StepKey) -> None:
        return None

    def end_step(self, outcome: str) -> None:
        return None

    def ran(self, argv: Sequence[str]) -> None:
        return None

    def applied(self, manifest: Mapping[str, Any], context: str) -> None:
        return None

    def observed(self, kind: str, value: object) -> None:
        return None
