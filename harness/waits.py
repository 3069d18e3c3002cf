"""The one way the harness waits: tenacity, bounded by a deadline, and honest when it gives up.

A *probe* is a function that either returns the awaited value, raises ``NotYet(observed)`` when the
condition does not hold yet, or raises ``TerminalFailure`` when it never will (CrashLoopBackOff, a failed
Job, a failed Kratix workflow). Transient API and connection errors are retried too. Everything else
propagates at once.

Timeouts come in named tiers scaled by one global factor (``KRATIX_E2E_TIMEOUT_SCALE`` or
``--timeout-scale``), so slow laptops and CI runners tune one number instead of every wait.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity

from harness.kube import is_transient

T = TypeVar("T")

# Seconds, before scaling. Chosen from the upstream scripts: quick-start waits 180s for cert-manager
# and 300s for the Kratix controller; Zalando clusters take minutes to pull spilo on a cold node.
TIERS: dict[str, float] = {
    "instant": 5.0,  # an object the API server just accepted
    "short": 30.0,  # a controller reacting (CRD established, event recorded)
    "pipeline": 180.0,  # a Kratix pipeline pod running to completion
    "rollout": 300.0,  # a Deployment / StatefulSet becoming ready (image pulls)
    "cluster": 600.0,  # bootstrap: cert-manager, Kratix, Flux, first reconcile
    "delete": 180.0,  # finalizers, Flux pruning
}

_scale = float(os.environ.get("KRATIX_E2E_TIMEOUT_SCALE", "1") or 1)


def set_scale(factor: float) -> None:
    """Scale every tier (e.g. 0.1 on the simulated platform, 2 on a slow laptop)."""
    global _scale
    if factor <= 0:
        raise ValueError(f"timeout scale must be positive, got {factor}")
    _scale = factor


def get_scale() -> float:
    return _scale


def timeout_for(tier: str | float) -> float:
    """Seconds for a named tier (or a literal number of seconds), after scaling."""
    if isinstance(tier, (int, float)):
        return float(tier) * _scale
    try:
        return TIERS[tier] * _scale
    except KeyError:
        raise ValueError(f"unknown timeout tier {tier!r}; known: {', '.join(TIERS)}") from None


class NotYet(Exception):
    """The condition does not hold yet; ``observed`` says what was seen instead."""

    def __init__(self, observed: Any) -> None:
        self.observed = observed
        super().__init__(str(observed))


class TerminalFailure(AssertionError):
    """The condition can never hold now; stop waiting and say why."""


class WaitTimeout(AssertionError):
    """The deadline passed. The message names the object, the condition, the timeout, the last state."""

    def __init__(self, what: str, condition: str, timeout: float, observed: Any, attempts: int) -> None:
        self.what = what
        self.condition = condition
        self.timeout = timeout
        self.observed = observed
        self.attempts = attempts
        super().__init__(
            f"timed out after {timeout:g}s waiting for {what} to be {condition} "
            f"({attempts} checks); last observed: {observed}"
        )


@dataclass
class _Tracker:
    observed: Any = "nothing observed yet"
    attempts: int = 0


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, NotYet) or is_transient(exc)


def wait_for(
    probe: Callable[[], T],
    *,
    what: str,
    condition: str,
    tier: str | float = "short",
    poll: float = 0.5,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Call ``probe`` until it returns, it fails terminally, or the deadline passes.

    Args:
        probe: returns the awaited value, raises ``NotYet`` (not yet) or ``TerminalFailure`` (never).
        what: the object, as people name it (``Promise/postgresql on platform``).
        condition: the condition, in ``kubectl wait`` words (``condition=Available``, ``Running``).
        tier: a timeout tier name or seconds (both scaled).
        poll: the longest pause between checks; pauses grow from ``poll/10`` up to it.
        sleep: how to pause, e.g. a watch that returns early on change (``Kube.wake_on_change``).

    Raises:
        WaitTimeout: the deadline passed; carries the last observed state.
        TerminalFailure: the probe said the condition can never hold.
    """
    timeout = timeout_for(tier)
    tracker = _Tracker()

    def attempt() -> T:
        tracker.attempts += 1
        try:
            return probe()
        except NotYet as exc:
            tracker.observed = exc.observed
            raise
        except Exception as exc:
            if is_transient(exc):
                tracker.observed = f"transient error: {exc}"
            raise

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(timeout),
        wait=tenacity.wait_exponential(multiplier=poll / 10, min=poll / 10, max=poll),
        retry=tenacity.retry_if_exception(_retryable),
        sleep=sleep or time.sleep,
        reraise=False,
    )
    try:
        return retrying(attempt)
    except tenacity.RetryError:
        raise WaitTimeout(what, condition, timeout, tracker.observed, tracker.attempts) from None


def wait_until_gone(
    probe_exists: Callable[[], Any],
    *,
    what: str,
    tier: str | float = "delete",
    poll: float = 0.5,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Wait until ``probe_exists()`` returns a falsy value (the object is gone)."""

    def probe() -> None:
        current = probe_exists()
        if current:
            raise NotYet(_describe_existing(current))

    wait_for(probe, what=what, condition="deleted", tier=tier, poll=poll, sleep=sleep)


def _describe_existing(obj: Any) -> str:
    if isinstance(obj, dict):
        meta = obj.get("metadata") or {}
        bits = ["still exists"]
        if meta.get("deletionTimestamp"):
            bits.append(f"terminating since {meta['deletionTimestamp']}")
        if meta.get("finalizers"):
            bits.append(f"finalizers {meta['finalizers']}")
        return ", ".join(bits)
    return f"still exists: {obj}"
