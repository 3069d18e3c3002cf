"""The kube adapter against the emulated API server, over HTTP with a generated kubeconfig."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import kube as kube_module
from harness.kube import ContextError, Kube, KubeError, Ref
from harness.sim.apiserver import SimApiServer, write_kubeconfig

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.example.io"},
    "spec": {
        "group": "test.example.io",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "required": ["owner"], "properties": {
                        "size": {"type": "string", "default": "small", "pattern": "^(small|large)$"},
                        "owner": {"type": "string"},
                    }},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }},
        }],
    },
}


@pytest.fixture(scope="module")
def server() -> Iterator[SimApiServer]:
    with SimApiServer("unit") as srv:
        yield srv


@pytest.fixture(scope="module")
def kubeconfig(server: SimApiServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kube") / "config"
    write_kubeconfig(path, {"sim-unit": server.url, "sim-dead": "http://127.0.0.1:9"}, current="sim-unit")
    return path


@pytest.fixture(scope="module")
def k(kubeconfig: Path) -> Kube:
    return Kube.connect(name="platform", context="sim-unit", kubeconfig=kubeconfig)


def cm(name: str, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default",
                                                                    "labels": {"app": "unit"}}, "data": data}


def test_missing_context_is_a_clear_error(kubeconfig: Path):
    with pytest.raises(ContextError, match=r"context 'kind-nope' \(worker\) not found in kubeconfig .*sim-unit"):
        Kube.connect(name="worker", context="kind-nope", kubeconfig=kubeconfig)


def test_unreachable_server_is_a_clear_error(kubeconfig: Path):
    dead = Kube.connect(name="worker", context="sim-dead", kubeconfig=kubeconfig)
    with pytest.raises(ContextError, match=r"cannot reach the worker cluster \(context 'sim-dead'"):
        dead.ping()


def test_ping_returns_the_server_version(k: Kube):
    assert k.ping().startswith("v1.")


def test_apply_reports_created_unchanged_configured(k: Kube):
    writes: list[tuple[str, str]] = []
    kube_module.WRITE_LISTENERS.append(lambda adapter, action: writes.append((adapter.name, action)))
    try:
        assert k.apply(cm("apply-me", a="1"))[1] == "created"
        assert k.apply(cm("apply-me", a="1"))[1] == "unchanged"
        obj, outcome = k.apply(cm("apply-me", a="2"))
    finally:
        kube_module.WRITE_LISTENERS.pop()
    assert outcome == "configured"
    assert obj["data"] == {"a": "2"}
    assert [w[1] for w in writes] == ["apply ConfigMap/apply-me -n default (created)",
                                      "apply ConfigMap/apply-me -n default (configured)"]


def test_get_list_delete(k: Kube):
    k.create(cm("one"))
    k.create(cm("two"))
    assert k.get("v1", "ConfigMap", "one", "default")["metadata"]["name"] == "one"
    assert k.get("v1", "ConfigMap", "missing", "default") is None
    assert k.get("nothing.example.io/v1", "Thing", "x") is None
    names = {o["metadata"]["name"] for o in k.list("v1", "ConfigMap", "default", labels={"app": "unit"})}
    assert {"one", "two"} <= names
    assert all(o["kind"] == "ConfigMap" for o in k.list("v1", "ConfigMap", "default"))
    assert k.delete("v1", "ConfigMap", "one", "default") is True
    assert k.delete("v1", "ConfigMap", "one", "default") is False


def test_create_conflict_carries_the_servers_message(k: Kube):
    k.create(cm("dupe"))
    with pytest.raises(KubeError) as info:
        k.create(cm("dupe"))
    assert info.value.status == 409
    assert 'configmaps "dupe" already exists' in str(info.value)
    assert not info.value.transient


def test_a_fresh_crd_is_discovered_and_validated(k: Kube):
    k.apply(CRD)
    widget = {"apiVersion": "test.example.io/v1", "kind": "Widget",
              "metadata": {"name": "w", "namespace": "default"}, "spec": {"owner": "me"}}
    stored, _ = k.apply(widget)
    assert stored["spec"] == {"owner": "me", "size": "small"}  # defaulted by the schema
    with pytest.raises(KubeError) as info:
        k.apply({**widget, "metadata": {"name": "bad", "namespace": "default"}, "spec": {"size": "huge"}})
    assert info.value.status == 422
    assert "spec.owner: Required value" in info.value.server_message
    with pytest.raises(KubeError) as strict:
        k.apply({**widget, "metadata": {"name": "odd", "namespace": "default"}, "spec": {"owner": "x", "extra": 1}})
    assert 'unknown field "spec.extra"' in strict.value.server_message


def test_status_subresource_patch(k: Kube):
    k.apply(CRD)
    k.apply({"apiVersion": "test.example.io/v1", "kind": "Widget",
             "metadata": {"name": "st", "namespace": "default"}, "spec": {"owner": "me"}})
    patched = k.patch("test.example.io/v1", "Widget", "st", {"status": {"message": "Resource requested"}},
                      "default", subresource="status")
    assert patched["status"]["message"] == "Resource requested"


def test_logs_and_events(k: Kube, server: SimApiServer):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    k.apply(pod)
    server.set_pod_log("default", "p", "b", "hello from b\n")
    assert k.logs("p", "default", container="b") == "hello from b\n"
    with pytest.raises(KubeError, match="a container name must be specified"):
        k.logs("p", "default")
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "p.1", "namespace": "default"},
             "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "Started",
             "message": "started", "type": "Normal", "lastTimestamp": "2026-01-01T00:00:00Z"}
    k.apply(event)
    assert [e["reason"] for e in k.events(about=Ref("v1", "Pod", "p", "default"))] == ["Started"]
    assert k.events(about=Ref("v1", "Pod", "other", "default")) == []


def test_wake_on_change_returns_early_on_a_change(k: Kube):
    def later() -> None:
        time.sleep(0.3)
        k.apply(cm("wake-up"))

    threading.Thread(target=later).start()
    started = time.monotonic()
    k.wake_on_change("v1", "ConfigMap", "default", seconds=5)
    assert 0.2 < time.monotonic() - started < 3


def test_watch_streams_changes(k: Kube):
    k.apply(cm("watched"))
    seen = [(kind, obj["metadata"]["name"]) for kind, obj in
            k.watch("v1", "ConfigMap", "default", labels={"app": "unit"}, timeout=1)]
    assert ("ADDED", "watched") in seen
