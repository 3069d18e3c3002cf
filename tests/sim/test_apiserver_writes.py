"""Patches, deletion, finalizers, garbage collection and namespace termination on the emulated kube-apiserver."""

from __future__ import annotations

import time

import kubernetes
import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from harness.sim.apiserver import SimApiServer, write_kubeconfig
from harness.waits import NotYet, wait_for

pytestmark = pytest.mark.sim


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with SimApiServer("writes") as srv:
        path = tmp_path_factory.mktemp("kube") / "config"
        write_kubeconfig(path, {"sim-platform": srv.url})
        yield kubernetes.config.new_client_from_config(config_file=str(path), context="sim-platform")


@pytest.fixture(scope="module")
def core(api):
    return kubernetes.client.CoreV1Api(api)


@pytest.fixture
def namespace(core):
    return core.create_namespace({"metadata": {"generateName": "p-"}}).metadata.name


def _eventually(check, timeout: float = 3.0):
    """Retry ``check`` until its assertions hold (garbage collection runs in the background)."""
    def probe():
        try:
            return check()
        except AssertionError as exc:
            raise NotYet(str(exc) or "assertion failed") from None

    return wait_for(probe, what="garbage collection", condition="assertions hold", tier=timeout, poll=0.02)


def _gone(read) -> None:
    try:
        read()
    except ApiException as error:
        if error.status != 404:
            raise
        return
    raise AssertionError("the object still exists")


def _pod(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [
        {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}], "ports": [{"containerPort": 80}]},
        {"name": "sidecar", "image": "side:1"}]}}


# --- patches --------------------------------------------------------------------------------------------


def test_merge_patch_null_deletes_and_lists_replace(api, namespace):
    custom = kubernetes.client.CustomObjectsApi(api)  # CustomObjectsApi sends application/merge-patch+json
    kubernetes.client.ApiextensionsV1Api(api).create_custom_resource_definition({
        "metadata": {"name": "boxes.patch.sim.io"},
        "spec": {"group": "patch.sim.io", "scope": "Namespaced",
                 "names": {"plural": "boxes", "singular": "box", "kind": "Box"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}})
    custom.create_namespaced_custom_object("patch.sim.io", "v1", namespace, "boxes", {
        "apiVersion": "patch.sim.io/v1", "kind": "Box", "metadata": {"name": "b"},
        "spec": {"keep": 1, "drop": 2, "items": [{"name": "x", "v": 1}]}})
    patched = custom.patch_namespaced_custom_object("patch.sim.io", "v1", namespace, "boxes", "b", {
        "spec": {"drop": None, "items": [{"name": "y"}], "new": True}})
    assert patched["spec"] == {"keep": 1, "items": [{"name": "y"}], "new": True}


def test_json_patch(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "j"}, "data": {"a": "1", "b": "2"}})
    patched = core.patch_namespaced_config_map("j", namespace, [  # a list body is sent as json-patch+json
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/metadata/labels", "value": {"x~y/z": "1"}},
        {"op": "copy", "from": "/data/a", "path": "/data/c"},
    ])
    assert patched.data == {"a": "10", "c": "10"}
    assert patched.metadata.labels == {"x~y/z": "1"}
    with pytest.raises(ApiException) as failed:
        core.patch_namespaced_config_map("j", namespace, [{"op": "test", "path": "/data/a", "value": "nope"}])
    assert failed.value.status == 422
    with pytest.raises(ApiException) as bad_path:
        core.patch_namespaced_config_map("j", namespace, [{"op": "remove", "path": "/data/zzz"}])
    assert bad_path.value.status == 400


def test_strategic_merge_patch_merges_containers_by_name(core, namespace):
    core.create_namespaced_pod(namespace, _pod("s"))
    patched = core.patch_namespaced_pod("s", namespace, {"spec": {"containers": [
        {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "2"}]}]}})
    containers = {c.name: c for c in patched.spec.containers}
    assert set(containers) == {"app", "sidecar"}
    assert containers["app"].image == "app:2"
    assert [(e.name, e.value) for e in containers["app"].env] == [("A", "1"), ("B", "2")]
    assert containers["app"].ports[0].container_port == 80
    removed = core.patch_namespaced_pod("s", namespace, {"spec": {"containers": [
        {"name": "sidecar", "$patch": "delete"}]}})
    assert [c.name for c in removed.spec.containers] == ["app"]


def test_strategic_merge_patch_merges_conditions_by_type(core, namespace):
    core.create_namespaced_pod(namespace, _pod("c"))
    core.patch_namespaced_pod_status("c", namespace, {"status": {"conditions": [
        {"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}})
    patched = core.patch_namespaced_pod_status("c", namespace, {"status": {"conditions": [
        {"type": "Ready", "status": "True"}]}})
    assert {c.type: c.status for c in patched.status.conditions} == {"Ready": "True", "Initialized": "True"}


def test_server_side_apply_creates_then_merges(api, namespace):
    configmaps = DynamicClient(api).resources.get(api_version="v1", kind="ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": namespace},
            "data": {"a": "1"}}
    created = configmaps.server_side_apply(body=body, namespace=namespace, field_manager="test", force_conflicts=True)
    assert created.to_dict()["data"] == {"a": "1"}
    assert created.metadata.uid
    body["data"] = {"b": "2"}
    merged = configmaps.server_side_apply(body=body, namespace=namespace, field_manager="test")
    assert merged.to_dict()["data"] == {"a": "1", "b": "2"}
    assert merged.metadata.uid == created.metadata.uid
    with pytest.raises(ApiException) as no_manager:
        configmaps.patch(body=body, namespace=namespace, content_type="application/apply-patch+yaml")
    assert no_manager.value.status == 422
    assert "fieldManager: Required value" in yaml.safe_load(no_manager.value.body)["message"]


def test_patch_of_missing_object_is_404(core, namespace):
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("ghost", namespace, {"data": {}})
    assert yaml.safe_load(caught.value.body)["message"] == 'configmaps "ghost" not found'


def test_noop_update_keeps_the_resource_version(core, namespace):
    made = core.create_namespaced_config_map(namespace, {"metadata": {"name": "n"}, "data": {"a": "1"}})
    same = core.patch_namespaced_config_map("n", namespace, {"data": {"a": "1"}})
    assert same.metadata.resource_version == made.metadata.resource_version


# --- deletion -------------------------------------------------------------------------------------------


def test_delete_returns_a_success_status_and_removes(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "d"}})
    status = core.delete_namespaced_config_map("d", namespace)
    assert status.status == "Success"
    assert status.details.name == "d"
    _gone(lambda: core.read_namespaced_config_map("d", namespace))
    _gone(lambda: core.delete_namespaced_config_map("d", namespace))


def test_finalizers_hold_deletion_until_removed(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "f", "finalizers": ["sim.io/hold"]}})
    core.delete_namespaced_config_map("f", namespace)
    held = core.read_namespaced_config_map("f", namespace)
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.deletion_grace_period_seconds == 0
    with pytest.raises(ApiException) as more:
        core.patch_namespaced_config_map("f", namespace, {"metadata": {"finalizers": ["sim.io/hold", "sim.io/x"]}})
    assert more.value.status == 422
    core.patch_namespaced_config_map("f", namespace, {"metadata": {"finalizers": None}})
    _gone(lambda: core.read_namespaced_config_map("f", namespace))


def test_owner_references_are_garbage_collected_recursively(core, namespace):
    root = core.create_namespaced_config_map(namespace, {"metadata": {"name": "root"}})

    def owned(name: str, *owners) -> object:
        refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": o.metadata.name, "uid": o.metadata.uid}
                for o in owners]
        return core.create_namespaced_config_map(namespace, {"metadata": {"name": name, "ownerReferences": refs}})

    child = owned("child", root)
    owned("grandchild", child)
    other_owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "other"}})
    owned("shared", root, other_owner)
    core.delete_namespaced_config_map("root", namespace)

    def collected():
        names = {c.metadata.name for c in core.list_namespaced_config_map(namespace).items}
        assert names == {"other", "shared"}

    _eventually(collected)  # "shared" stays: one of its owners still exists
    core.delete_namespaced_config_map("other", namespace)
    _eventually(lambda: _gone(lambda: core.read_namespaced_config_map("shared", namespace)))


def test_orphan_propagation_keeps_dependents(core, namespace):
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "dep", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}]}})
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Orphan")
    time.sleep(0.1)
    assert core.read_namespaced_config_map("dep", namespace).metadata.owner_references is None


def test_delete_collection_with_label_selector(core, namespace):
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name, "labels": {"team": team}}})
    core.delete_collection_namespaced_config_map(namespace, label_selector="team=x")
    assert [c.metadata.name for c in core.list_namespaced_config_map(namespace).items] == ["c"]


def test_namespace_deletion_terminates_and_removes_content(core):
    ns = core.create_namespace({"metadata": {"generateName": "gone-"}}).metadata.name
    core.create_namespaced_config_map(ns, {"metadata": {"name": "held", "finalizers": ["sim.io/hold"]}})
    core.create_namespaced_secret(ns, {"metadata": {"name": "free"}})
    core.delete_namespace(ns)
    terminating = core.read_namespace(ns)
    assert terminating.status.phase == "Terminating"
    assert terminating.metadata.deletion_timestamp is not None
    _eventually(lambda: _gone(lambda: core.read_namespaced_secret("free", ns)))
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_secret(ns, {"metadata": {"name": "late"}})
    assert refused.value.status == 403
    assert "because it is being terminated" in yaml.safe_load(refused.value.body)["message"]
    assert core.read_namespace(ns).status.phase == "Terminating"  # the finalizer still holds "held"
    core.patch_namespaced_config_map("held", ns, {"metadata": {"finalizers": []}})
    _eventually(lambda: _gone(lambda: core.read_namespace(ns)))


def test_dry_run_writes_nothing(core, namespace):
    made = core.create_namespaced_config_map(namespace, {"metadata": {"name": "dry"}}, dry_run="All")
    assert made.metadata.name == "dry"
    _gone(lambda: core.read_namespaced_config_map("dry", namespace))


def test_kmock_reactions_override_the_emulation(tmp_path):
    with SimApiServer("faulty") as srv:
        path = tmp_path / "config"
        write_kubeconfig(path, {"sim-platform": srv.url})
        core = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(path)))
        srv.kmock["get /api/v1/namespaces/default/configmaps/boom"] << 503
        with pytest.raises(ApiException) as caught:
            core.read_namespaced_config_map("boom", "default")
        assert caught.value.status == 503
        with pytest.raises(ApiException) as emulated:
            core.read_namespaced_config_map("other", "default")
        assert emulated.value.status == 404
