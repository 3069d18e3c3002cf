"""Watches on the emulated kube-apiserver through ``kubernetes.watch.Watch`` (typed and dynamic clients)."""

from __future__ import annotations

import threading
import time

import kubernetes
import pytest
from kubernetes.dynamic import DynamicClient

from harness.sim.api_store import Store
from harness.sim.apiserver import SimApiServer, write_kubeconfig
from harness.waits import NotYet, wait_for

pytestmark = pytest.mark.sim


def _later(action, delay: float = 0.2) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), action()), daemon=True)
    thread.start()
    return thread


def test_typed_watch_sees_added_modified_deleted_with_full_objects(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "before"}, "data": {"k": "0"}})

    def changes():
        core.patch_namespaced_config_map("before", namespace, {"data": {"k": "1"}})
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "after"}})
        core.delete_namespaced_config_map("before", namespace)

    thread = _later(changes)
    seen = []
    watch = kubernetes.watch.Watch()
    for event in watch.stream(core.list_namespaced_config_map, namespace, timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name, dict(event["object"].data or {})))
        if event["type"] == "DELETED":
            watch.stop()
    thread.join()
    assert seen == [
        ("ADDED", "before", {"k": "0"}),  # no resourceVersion given: the current state comes first
        ("MODIFIED", "before", {"k": "1"}),
        ("ADDED", "after", {}),
        ("DELETED", "before", {"k": "1"}),
    ]


def test_watch_from_a_list_resource_version_sends_only_later_events(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "old"}})
    listed = core.list_namespaced_config_map(namespace)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "new"}})
    events = list(kubernetes.watch.Watch().stream(
        core.list_namespaced_config_map, namespace, resource_version=listed.metadata.resource_version,
        timeout_seconds=1))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "new")]


def test_timeout_seconds_ends_the_stream(core, namespace):
    began = time.monotonic()
    events = list(kubernetes.watch.Watch().stream(core.list_namespaced_secret, namespace, timeout_seconds=1))
    elapsed = time.monotonic() - began
    assert events == []
    assert 0.9 <= elapsed < 3


def test_selector_watch_reports_objects_entering_and_leaving_the_selection(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "m", "labels": {"team": "a"}}})

    def changes():
        core.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"team": "b"}}})
        core.patch_namespaced_config_map("m", namespace, {"metadata": {"labels": {"team": "a"}}})
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "other", "labels": {"team": "b"}}})

    thread = _later(changes)
    events = list(kubernetes.watch.Watch().stream(
        core.list_namespaced_config_map, namespace, label_selector="team=a", timeout_seconds=1))
    thread.join()
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("ADDED", "m"), ("DELETED", "m"), ("ADDED", "m")]


def test_field_selector_watch_on_one_name(core, namespace):
    for name in ("x", "y"):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name}})
    thread = _later(lambda: [core.patch_namespaced_config_map(n, namespace, {"data": {"a": "b"}}) for n in "xy"])
    events = list(kubernetes.watch.Watch().stream(
        core.list_namespaced_config_map, namespace, field_selector="metadata.name=y", timeout_seconds=1))
    thread.join()
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "y"), ("MODIFIED", "y")]


def test_dynamic_client_watch(api, core, namespace):
    configmaps = DynamicClient(api).resources.get(api_version="v1", kind="ConfigMap")
    thread = _later(lambda: core.create_namespaced_config_map(namespace, {"metadata": {"name": "dyn"}}))
    events = list(configmaps.watch(namespace=namespace, timeout=1))
    thread.join()
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "dyn")]
    assert events[0]["raw_object"]["metadata"]["uid"]


def test_cluster_wide_watch_spans_namespaces(core, namespace):
    other = core.create_namespace({"metadata": {"generateName": "w-"}}).metadata.name
    thread = _later(lambda: [core.create_namespaced_service_account(ns, {"metadata": {"name": "sa"}})
                             for ns in (namespace, other)])
    listed = core.list_service_account_for_all_namespaces()
    events = list(kubernetes.watch.Watch().stream(
        core.list_service_account_for_all_namespaces, resource_version=listed.metadata.resource_version,
        timeout_seconds=1))
    thread.join()
    assert {(e["object"].metadata.namespace, e["object"].metadata.name) for e in events} == {
        (namespace, "sa"), (other, "sa")}


def test_deleting_a_crd_deletes_its_objects_for_watchers(api, namespace):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "things.watch.sim.io"},
        "spec": {"group": "watch.sim.io", "scope": "Namespaced",
                 "names": {"plural": "things", "singular": "thing", "kind": "Thing"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
    }
    ext = kubernetes.client.ApiextensionsV1Api(api)
    custom = kubernetes.client.CustomObjectsApi(api)
    ext.create_custom_resource_definition(crd)
    custom.create_namespaced_custom_object("watch.sim.io", "v1", namespace, "things", {
        "apiVersion": "watch.sim.io/v1", "kind": "Thing", "metadata": {"name": "t1"}})
    listed = custom.list_namespaced_custom_object("watch.sim.io", "v1", namespace, "things")
    thread = _later(lambda: ext.delete_custom_resource_definition("things.watch.sim.io"))
    events = list(kubernetes.watch.Watch().stream(
        custom.list_namespaced_custom_object, "watch.sim.io", "v1", namespace, "things",
        resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=3))
    thread.join()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("DELETED", "t1")]
    with pytest.raises(kubernetes.client.ApiException) as caught:
        custom.list_namespaced_custom_object("watch.sim.io", "v1", namespace, "things")
    assert caught.value.status == 404


def test_stop_does_not_hang_on_open_watches(tmp_path):
    srv = SimApiServer("short-lived")
    srv.start()
    path = tmp_path / "config"
    write_kubeconfig(path, {"sim-platform": srv.url})
    core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(path)))
    ended = threading.Event()

    def watch_forever():
        try:
            for _ in kubernetes.watch.Watch().stream(core.list_namespaced_pod, "default", timeout_seconds=60):
                pass
        except Exception:  # the connection may be cut either way; only the ending matters here
            pass
        ended.set()

    threading.Thread(target=watch_forever, daemon=True).start()

    def watch_arrived() -> None:
        if not any(p == "/api/v1/namespaces/default/pods" for _, p in srv.request_log()):
            raise NotYet("no request for /api/v1/namespaces/default/pods yet")

    wait_for(watch_arrived, what="the pod watch on the emulated server", condition="received", tier=5, poll=0.02)
    began = time.monotonic()
    srv.stop()
    assert time.monotonic() - began < 3
    assert ended.wait(5)


def test_history_that_no_longer_reaches_back_means_410():
    store = Store(history_limit=3)
    for name in "abcde":
        obj = {"metadata": {"name": name, "resourceVersion": store.next_rv()}}
        store.put(("", "configmaps"), obj, None)
    assert [e.obj["metadata"]["name"] for e in store.history_since(("", "configmaps"), 3)] == ["d", "e"]
    assert store.history_since(("", "configmaps"), 1) is None  # events 2 was forgotten: the client must relist
