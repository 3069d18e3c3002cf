from __future__ import annotations

import time

import pytest

from harness import waits
from harness.kube import KubeError
from harness.waits import NotYet, TerminalFailure, WaitTimeout, timeout_for, wait_for, wait_until_gone


@pytest.fixture(autouse=True)
def _reset_scale():
    before = waits.get_scale()
    yield
    waits.set_scale(before)


def test_returns_the_value_once_the_condition_holds():
    calls = iter([NotYet("Pending"), NotYet("Init:1/3"), "ready"])

    def probe() -> str:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert wait_for(probe, what="Pod/x", condition="Ready", tier=5, poll=0.01) == "ready"


def test_timeout_names_object_condition_timeout_and_last_observation():
    def probe() -> None:
        raise NotYet("Init:2/5 (reader done)")

    started = time.monotonic()
    with pytest.raises(WaitTimeout) as info:
        wait_for(probe, what="Pod/example-0 -n default on worker", condition="condition=Ready", tier=0.3, poll=0.05)
    elapsed = time.monotonic() - started
    message = str(info.value)
    assert "Pod/example-0 -n default on worker" in message
    assert "condition=Ready" in message
    assert "0.3s" in message
    assert "last observed: Init:2/5 (reader done)" in message
    assert info.value.attempts >= 2
    assert 0.25 <= elapsed < 2


def test_terminal_failure_stops_at_once():
    calls = []

    def probe() -> None:
        calls.append(1)
        raise TerminalFailure("pod p container c is ImagePullBackOff")

    started = time.monotonic()
    with pytest.raises(TerminalFailure, match="ImagePullBackOff"):
        wait_for(probe, what="Pod/p", condition="Ready", tier=30)
    assert len(calls) == 1
    assert time.monotonic() - started < 1


def test_transient_api_errors_are_retried():
    calls = iter([KubeError("platform", "get", 503, "ServiceUnavailable", "etcd busy"), "ok"])

    def probe() -> str:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert wait_for(probe, what="x", condition="y", tier=5, poll=0.01) == "ok"


def test_other_errors_propagate_immediately():
    def probe() -> None:
        raise KubeError("platform", "get", 403, "Forbidden", "no access")

    with pytest.raises(KubeError, match="Forbidden"):
        wait_for(probe, what="x", condition="y", tier=5)


def test_tiers_are_scaled_by_one_global_factor():
    waits.set_scale(0.5)
    assert timeout_for("pipeline") == waits.TIERS["pipeline"] * 0.5
    assert timeout_for(10) == 5
    with pytest.raises(ValueError, match="unknown timeout tier"):
        timeout_for("forever")
    with pytest.raises(ValueError):
        waits.set_scale(0)


def test_custom_sleep_is_used_between_checks():
    slept: list[float] = []
    calls = iter([NotYet("a"), NotYet("b"), "done"])

    def probe() -> str:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    wait_for(probe, what="x", condition="y", tier=5, poll=1.0, sleep=slept.append)
    assert len(slept) == 2
    assert all(0 < s <= 1.0 for s in slept)


def test_wait_until_gone_reports_finalizers():
    obj = {"metadata": {"name": "p", "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["kratix.io/x"]}}
    with pytest.raises(WaitTimeout) as info:
        wait_until_gone(lambda: obj, what="Promise/p", tier=0.2, poll=0.05)
    assert "deleted" in str(info.value)
    assert "kratix.io/x" in str(info.value)
    state = {"left": 2}

    def shrinking():
        state["left"] -= 1
        return obj if state["left"] > 0 else None

    wait_until_gone(shrinking, what="Promise/p", tier=5, poll=0.01)
