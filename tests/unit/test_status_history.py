"""Status histories against the emulated API server: every value a field took, even when read afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from harness.kube import Kube
from harness.sim.apiserver import SimApiServer, write_kubeconfig
from harness.status_history import DELETED, UNSET, start_history


@pytest.fixture(scope="module")
def server() -> Iterator[SimApiServer]:
    with SimApiServer("history") as srv:
        yield srv


@pytest.fixture(scope="module")
def k(server: SimApiServer, tmp_path_factory: pytest.TempPathFactory) -> Kube:
    path = tmp_path_factory.mktemp("kube") / "config"
    write_kubeconfig(path, {"sim-history": server.url}, current="sim-history")
    return Kube.connect(name="platform", context="sim-history", kubeconfig=path)


def _cm(name: str, state: str | None = None) -> dict:
    data = {"state": state} if state is not None else {}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": data}


def _set(k: Kube, name: str, state: str) -> None:
    k.patch("v1", "ConfigMap", name, {"data": {"state": state}}, "default")


def test_every_value_is_replayed_after_the_fact(k: Kube):
    history = start_history(k, "v1", "ConfigMap", "h1", "default", field_path="data.state")
    k.create(_cm("h1"))
    for state in ("Unavailable", "Unavailable", "Available"):
        _set(k, "h1", state)
    k.create(_cm("someone-else", "Broken"))
    seen = history.read_until(lambda values: values[-1:] == ["Available"], tier=5)
    assert seen == [UNSET, "Unavailable", "Available"]


def test_current_value_comes_first_and_deletion_is_recorded(k: Kube):
    k.create(_cm("h2", "Available"))
    history = start_history(k, "v1", "ConfigMap", "h2", "default", field_path="data.state")
    assert history.values == ["Available"]
    k.delete("v1", "ConfigMap", "h2", "default")
    k.create(_cm("h2", "Unavailable"))
    seen = history.read_until(lambda values: values[-1:] == ["Unavailable"], tier=5)
    assert seen == ["Available", DELETED, "Unavailable"]


def test_gives_up_after_the_timeout_with_what_it_saw(k: Kube):
    history = start_history(k, "v1", "ConfigMap", "h3", "default", field_path="data.state")
    k.create(_cm("h3", "Unavailable"))
    started = time.monotonic()
    seen = history.read_until(lambda values: values[-1:] == ["Available"], tier=1.5)
    assert seen == ["Unavailable"]
    assert 1.0 <= time.monotonic() - started < 10


def test_reading_twice_continues_where_it_stopped(k: Kube):
    history = start_history(k, "v1", "ConfigMap", "h4", "default", field_path="data.state")
    k.create(_cm("h4", "A"))
    assert history.read_until(lambda values: "A" in values, tier=5) == ["A"]
    _set(k, "h4", "B")
    assert history.read_until(lambda values: "B" in values, tier=5) == ["A", "B"]


def test_history_of_a_path_that_is_not_there_yet(k: Kube):
    history = start_history(k, "v1", "ConfigMap", "h5", "default", field_path="data.deep.state")
    k.create(_cm("h5", "x"))
    assert history.read_until(lambda values: bool(values), tier=5) == [UNSET]
