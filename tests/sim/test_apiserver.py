"""The emulated kube-apiserver, exercised through the official kubernetes client over HTTP.

Basics: lifecycle, kubeconfig, discovery, CRUD with server-set metadata, CRD registration,
selectors, pod logs. Validation, patches, deletion and watches have their own modules.
"""

from __future__ import annotations

import time
from pathlib import Path

import kubernetes
import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from harness.sim.apiserver import SimApiServer, write_kubeconfig

pytestmark = pytest.mark.sim

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.sim.io"},
    "spec": {
        "group": "test.sim.io",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"],
                  "categories": ["all"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        }],
    },
}


def _status(error: ApiException) -> dict:
    return yaml.safe_load(error.body)


# --- lifecycle and kubeconfig ---------------------------------------------------------------------------


def test_start_is_fast_and_stop_is_idempotent():
    srv = SimApiServer("quick")
    began = time.monotonic()
    srv.start()
    started = time.monotonic() - began
    try:
        assert srv.url.startswith("http://127.0.0.1:")
        assert started < 0.5
        srv.start()  # a second start while running is harmless
    finally:
        srv.stop()
    srv.stop()
    assert not srv.running


def test_two_servers_get_different_ports_and_separate_state(tmp_path):
    with SimApiServer("a") as a, SimApiServer("b") as b:
        assert a.url != b.url
        path = tmp_path / "config"
        write_kubeconfig(path, {"sim-platform": a.url, "sim-worker": b.url}, current="sim-worker")
        config = yaml.safe_load(path.read_text())
        assert config["current-context"] == "sim-worker"
        assert [c["name"] for c in config["contexts"]] == ["sim-platform", "sim-worker"]
        platform = kubernetes.client.CoreV1Api(
            kubernetes.config.new_client_from_config(config_file=str(path), context="sim-platform"))
        worker = kubernetes.client.CoreV1Api(
            kubernetes.config.new_client_from_config(config_file=str(path), context="sim-worker"))
        platform.create_namespaced_config_map("default", {"metadata": {"name": "only-here"}})
        assert platform.read_namespaced_config_map("only-here", "default").metadata.name == "only-here"
        with pytest.raises(ApiException) as caught:
            worker.read_namespaced_config_map("only-here", "default")
        assert caught.value.status == 404


def test_write_kubeconfig_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no clusters"):
        write_kubeconfig(tmp_path / "c", {})
    with pytest.raises(ValueError, match="'nope' is not one of"):
        write_kubeconfig(tmp_path / "c", {"sim-platform": "http://127.0.0.1:1"}, current="nope")
    with pytest.raises(ValueError, match="no http"):
        write_kubeconfig(tmp_path / "c", {"sim-platform": "127.0.0.1:1"})
    assert not (tmp_path / "c").exists()


def test_request_log_records_method_and_path(server, core):
    core.read_namespace("default")
    assert ("GET", "/api/v1/namespaces/default") in server.request_log()


# --- discovery ------------------------------------------------------------------------------------------


def test_version_and_core_discovery(api):
    version = kubernetes.client.VersionApi(api).get_code()
    assert version.git_version == "v1.33.1"
    assert (version.major, version.minor) == ("1", "33")
    resources = {r.name: r for r in kubernetes.client.CoreV1Api(api).get_api_resources().resources}
    assert resources["pods"].kind == "Pod"
    assert resources["pods"].short_names == ["po"]
    assert resources["pods"].categories == ["all"]
    assert resources["pods"].namespaced is True
    assert resources["pods/log"].verbs == ["get"]
    assert set(resources["pods/status"].verbs) == {"get", "patch", "update"}
    assert resources["namespaces"].namespaced is False
    assert "deletecollection" not in resources["namespaces"].verbs
    assert resources["persistentvolumes"].namespaced is False
    assert "persistentvolumeclaims/status" in resources


def test_group_discovery(api):
    groups = {g.name: g for g in kubernetes.client.ApisApi(api).get_api_versions().groups}
    expected = {"apps", "batch", "rbac.authorization.k8s.io", "policy", "events.k8s.io",
                "apiextensions.k8s.io", "storage.k8s.io"}
    assert expected <= set(groups)
    assert groups["apps"].preferred_version.group_version == "apps/v1"
    apps = {r.name: r for r in kubernetes.client.AppsV1Api(api).get_api_resources().resources}
    assert {"deployments", "deployments/status", "statefulsets", "statefulsets/status", "replicasets"} <= set(apps)
    crds = {r.name: r for r in kubernetes.client.ApiextensionsV1Api(api).get_api_resources().resources}
    assert crds["customresourcedefinitions"].short_names == ["crd", "crds"]


def test_unknown_group_is_404(api):
    with pytest.raises(ApiException) as caught:
        api.call_api("/apis/nothing.example.com/v1", "GET", response_type="object", _return_http_data_only=True)
    assert caught.value.status == 404


def test_dynamic_client_finds_builtins_and_a_crd_created_after_it(api):
    dynamic = DynamicClient(api)
    assert dynamic.resources.get(api_version="apps/v1", kind="Deployment").namespaced is True
    assert dynamic.resources.get(api_version="v1", kind="Namespace").namespaced is False
    crd = dict(WIDGET_CRD, metadata={"name": "gadgets.late.sim.io"})
    crd["spec"] = dict(WIDGET_CRD["spec"], group="late.sim.io",
                       names={"plural": "gadgets", "kind": "Gadget", "singular": "gadget"})
    kubernetes.client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    # The LazyDiscoverer only knows the groups of its first discovery; a miss must make it re-discover.
    gadgets = dynamic.resources.get(api_version="late.sim.io/v1", kind="Gadget")
    assert gadgets.name == "gadgets"
    assert "status" in gadgets.subresources
    created = gadgets.create(namespace="default", body={"apiVersion": "late.sim.io/v1", "kind": "Gadget",
                                                         "metadata": {"name": "g1"}, "spec": {"x": 1}})
    assert created.spec.x == 1
    with pytest.raises(ResourceNotFoundError):
        dynamic.resources.get(api_version="late.sim.io/v1", kind="NoSuchKind")


# --- CRUD and metadata ----------------------------------------------------------------------------------


def test_boot_namespaces_are_active(core):
    names = {ns.metadata.name: ns.status.phase for ns in core.list_namespace().items}
    for expected in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert names[expected] == "Active"


def test_create_sets_server_metadata(core, namespace):
    first = core.create_namespaced_config_map(namespace, {"metadata": {"name": "a"}, "data": {"k": "v"}})
    second = core.create_namespaced_config_map(namespace, {"metadata": {"name": "b"}})
    assert first.metadata.uid
    assert first.metadata.uid != second.metadata.uid
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    assert first.metadata.generation == 1
    assert first.metadata.namespace == namespace
    assert first.metadata.creation_timestamp is not None
    assert first.kind == "ConfigMap"
    assert first.api_version == "v1"


def test_generate_name(core, namespace):
    made = core.create_namespaced_secret(namespace, {"metadata": {"generateName": "token-"}})
    assert made.metadata.name.startswith("token-")
    assert len(made.metadata.name) == len("token-") + 5
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_secret(namespace, {"metadata": {}})
    assert caught.value.status == 422
    assert "metadata.name: Required value: name or generateName is required" in _status(caught.value)["message"]


def test_create_errors_are_worded_like_the_real_server(core, namespace):
    with pytest.raises(ApiException) as missing_ns:
        core.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "a"}})
    assert missing_ns.value.status == 404
    assert _status(missing_ns.value)["message"] == 'namespaces "no-such-ns" not found'
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "dup"}})
    with pytest.raises(ApiException) as duplicate:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "dup"}})
    status = _status(duplicate.value)
    assert (duplicate.value.status, status["reason"]) == (409, "AlreadyExists")
    assert status["message"] == 'configmaps "dup" already exists'
    with pytest.raises(ApiException) as absent:
        core.read_namespaced_pod("ghost", namespace)
    assert (absent.value.status, _status(absent.value)["message"]) == (404, 'pods "ghost" not found')


def test_put_replaces_and_checks_resource_version(core, namespace):
    made = core.create_namespaced_config_map(namespace, {"metadata": {"name": "r"}, "data": {"a": "1", "b": "2"}})
    replaced = core.replace_namespaced_config_map("r", namespace, {
        "metadata": {"name": "r", "resourceVersion": made.metadata.resource_version}, "data": {"c": "3"}})
    assert replaced.data == {"c": "3"}  # replaced, not merged
    assert replaced.metadata.uid == made.metadata.uid
    assert int(replaced.metadata.resource_version) > int(made.metadata.resource_version)
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("r", namespace, {
            "metadata": {"name": "r", "resourceVersion": made.metadata.resource_version}, "data": {}})
    status = _status(stale.value)
    assert (stale.value.status, status["reason"]) == (409, "Conflict")
    assert status["message"].startswith('Operation cannot be fulfilled on configmaps "r": the object has been modified')


def test_generation_counts_spec_changes_only(api, namespace):
    apps = kubernetes.client.AppsV1Api(api)
    body = {"metadata": {"name": "d", "labels": {"a": "1"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    made = apps.create_namespaced_deployment(namespace, body)
    assert made.metadata.generation == 1
    relabelled = apps.patch_namespaced_deployment("d", namespace, {"metadata": {"labels": {"a": "2"}}})
    assert relabelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("d", namespace, {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2


def test_status_subresource_separates_spec_and_status(api, namespace):
    apps = kubernetes.client.AppsV1Api(api)
    body = {"metadata": {"name": "s"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "s"}},
                     "template": {"metadata": {"labels": {"app": "s"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
            "status": {"replicas": 99}}
    made = apps.create_namespaced_deployment(namespace, body)
    assert made.status is None or made.status.replicas is None  # status is reset on create
    ignored = apps.patch_namespaced_deployment("s", namespace, {"status": {"replicas": 5}})
    assert ignored.status is None or ignored.status.replicas is None
    written = apps.patch_namespaced_deployment_status("s", namespace, {"status": {"readyReplicas": 1},
                                                                         "spec": {"replicas": 7}})
    assert written.status.ready_replicas == 1
    assert written.spec.replicas == 1  # /status writes leave the spec alone
    assert written.metadata.generation == 1


def test_cluster_wide_list_spans_namespaces(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "wide", "labels": {"probe": namespace}}})
    core.create_namespaced_config_map("default", {"metadata": {"name": f"wide-{namespace}",
                                                               "labels": {"probe": namespace}}})
    listed = core.list_config_map_for_all_namespaces(label_selector=f"probe={namespace}")
    assert {(i.metadata.namespace, i.metadata.name) for i in listed.items} == {
        (namespace, "wide"), ("default", f"wide-{namespace}")}
    assert listed.kind == "ConfigMapList"
    assert listed.api_version == "v1"
    assert int(listed.metadata.resource_version) >= int(listed.items[0].metadata.resource_version)


@pytest.mark.parametrize(("selector", "expected"), [
    ("tier=web", {"a", "b"}),
    ("tier==web", {"a", "b"}),
    ("tier!=web", {"c", "d"}),
    ("tier in (web,db)", {"a", "b", "c"}),
    ("tier notin (web)", {"c", "d"}),
    ("tier", {"a", "b", "c"}),
    ("!tier", {"d"}),
    ("tier=web,env=prod", {"a"}),
    ("tier in (web, db),!env", {"c"}),
])
def test_label_selectors(core, namespace, selector, expected):
    labels = {"a": {"tier": "web", "env": "prod"}, "b": {"tier": "web", "env": "dev"}, "c": {"tier": "db"}, "d": {}}
    for name, values in labels.items():
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name, "labels": values}})
    found = core.list_namespaced_config_map(namespace, label_selector=selector).items
    assert {i.metadata.name for i in found} == expected


def test_bad_label_selector_is_400(core):
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", label_selector="a in b")
    assert caught.value.status == 400


# --- CRDs -----------------------------------------------------------------------------------------------


def test_crd_registration_status_and_custom_objects(api):
    ext = kubernetes.client.ApiextensionsV1Api(api)
    created = ext.create_custom_resource_definition(WIDGET_CRD)
    conditions = {c.type: c.status for c in created.status.conditions}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert created.status.accepted_names.kind == "Widget"
    assert created.status.accepted_names.list_kind == "WidgetList"
    resources = {r.name: r for r in kubernetes.client.CustomObjectsApi(api).get_api_resources(
        "test.sim.io", "v1").resources}
    assert resources["widgets"].short_names == ["wd"]
    assert resources["widgets"].categories == ["all"]
    assert "widgets/status" in resources
    custom = kubernetes.client.CustomObjectsApi(api)
    widget = custom.create_namespaced_custom_object("test.sim.io", "v1", "default", "widgets", {
        "apiVersion": "test.sim.io/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": "s"}})
    assert widget["metadata"]["generation"] == 1
    listed = custom.list_namespaced_custom_object("test.sim.io", "v1", "default", "widgets")
    assert listed["kind"] == "WidgetList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    with pytest.raises(ApiException) as dup:
        custom.create_namespaced_custom_object("test.sim.io", "v1", "default", "widgets", {
            "apiVersion": "test.sim.io/v1", "kind": "Widget", "metadata": {"name": "w1"}})
    assert _status(dup.value)["message"] == 'widgets.test.sim.io "w1" already exists'
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object("test.sim.io", "v1", "default", "widgets", "nope")
    assert _status(missing.value)["message"] == 'widgets.test.sim.io "nope" not found'


def test_crd_with_inconsistent_name_is_invalid(api):
    bad = dict(WIDGET_CRD, metadata={"name": "wrong.test.sim.io"})
    with pytest.raises(ApiException) as caught:
        kubernetes.client.ApiextensionsV1Api(api).create_custom_resource_definition(bad)
    assert caught.value.status == 422
    assert 'must be spec.names.plural+"."+spec.group' in _status(caught.value)["message"]


# --- pod logs -------------------------------------------------------------------------------------------


def _pod(name: str, *containers: str, init: tuple[str, ...] = ()) -> dict:
    return {"metadata": {"name": name}, "spec": {
        "containers": [{"name": c, "image": "busybox"} for c in containers],
        "initContainers": [{"name": c, "image": "busybox"} for c in init]}}


def test_pod_logs(server, core, namespace):
    core.create_namespaced_pod(namespace, _pod("solo", "main"))
    server.set_pod_log(namespace, "solo", "main", "line 1\n")
    server.append_pod_log(namespace, "solo", "main", "line 2\n")
    assert core.read_namespaced_pod_log("solo", namespace) == "line 1\nline 2\n"
    assert core.read_namespaced_pod_log("solo", namespace, container="main", tail_lines=1) == "line 2\n"
    server.set_pod_log(namespace, "solo", "main", "before restart\n", previous=True)
    assert core.read_namespaced_pod_log("solo", namespace, previous=True) == "before restart\n"


def test_pod_log_errors(server, core, namespace):
    core.create_namespaced_pod(namespace, _pod("multi", "a", "b", init=("setup",)))
    server.set_pod_log(namespace, "multi", "setup", "init done\n")
    assert core.read_namespaced_pod_log("multi", namespace, container="setup") == "init done\n"
    cases = [
        ({}, "a container name must be specified for pod multi, choose one of: [a b] "
             "or one of the init containers: [setup]"),
        ({"container": "zzz"}, "container zzz is not valid for pod multi"),
        ({"container": "a", "previous": True}, 'previous terminated container "a" in pod "multi" not found'),
    ]
    for kwargs, message in cases:
        with pytest.raises(ApiException) as caught:
            core.read_namespaced_pod_log("multi", namespace, **kwargs)
        assert caught.value.status == 400
        assert _status(caught.value)["message"] == message
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod_log("ghost", namespace)
    assert caught.value.status == 400
    assert missing.value.status == 404


def test_pod_log_container_choice_two_containers_no_init(core, namespace):
    core.create_namespaced_pod(namespace, _pod("pair", "a", "b"))
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("pair", namespace)
    assert _status(caught.value)["message"] == "a container name must be specified for pod pair, choose one of: [a b]"


def test_events_keep_their_timestamps_and_count(core, namespace):
    event = core.create_namespaced_event(namespace, {
        "metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": namespace},
        "reason": "Started", "message": "started", "type": "Normal", "count": 3,
        "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:01:00Z"})
    assert event.count == 3
    assert event.first_timestamp.isoformat() == "2025-01-01T00:00:00+00:00"
    assert event.last_timestamp.isoformat() == "2025-01-01T00:01:00+00:00"


def test_field_selectors(core, namespace):
    for name, kind in (("e-pod", "Pod"), ("e-job", "Job")):
        core.create_namespaced_event(namespace, {
            "metadata": {"name": name}, "involvedObject": {"kind": kind, "name": "x", "namespace": namespace},
            "reason": "R", "message": "m"})
    found = core.list_namespaced_event(namespace, field_selector="involvedObject.kind=Pod,involvedObject.name=x")
    assert [e.metadata.name for e in found.items] == ["e-pod"]
    assert [e.metadata.name for e in core.list_namespaced_event(
        namespace, field_selector="metadata.name!=e-pod").items] == ["e-job"]
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_event(namespace, field_selector="spec.nothing=1")
    assert caught.value.status == 400
    assert _status(caught.value)["message"] == "field label not supported: spec.nothing"


def test_pod_field_selectors(core, namespace):
    core.create_namespaced_pod(namespace, _pod("running", "c"))
    core.create_namespaced_pod(namespace, _pod("waiting", "c"))
    core.patch_namespaced_pod_status("running", namespace, {"status": {"phase": "Running"}})
    running = core.list_namespaced_pod(namespace, field_selector="status.phase=Running").items
    assert [p.metadata.name for p in running] == ["running"]
    pending = core.list_namespaced_pod(namespace, field_selector="status.phase=Pending").items
    assert [p.metadata.name for p in pending] == ["waiting"]


def test_kubeconfig_file_is_loadable_by_load_kube_config(server, tmp_path: Path):
    path = tmp_path / "config"
    write_kubeconfig(path, {"sim-platform": server.url})
    client_config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(path), context="sim-platform",
                                       client_configuration=client_config)
    assert client_config.host == server.url


def test_crd_update_changes_the_registration(api):
    ext = kubernetes.client.ApiextensionsV1Api(api)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "dials.update.sim.io"},
        "spec": {"group": "update.sim.io", "scope": "Cluster",
                 "names": {"plural": "dials", "singular": "dial", "kind": "Dial"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
    }
    ext.create_custom_resource_definition(crd)
    custom = kubernetes.client.CustomObjectsApi(api)
    custom.create_cluster_custom_object("update.sim.io", "v1", "dials", {
        "apiVersion": "update.sim.io/v1", "kind": "Dial", "metadata": {"name": "d1"}, "spec": {"n": 1}})
    current = ext.read_custom_resource_definition("dials.update.sim.io")
    crd["metadata"]["resourceVersion"] = current.metadata.resource_version
    crd["spec"]["names"]["shortNames"] = ["dl"]
    crd["spec"]["versions"] = [
        dict(crd["spec"]["versions"][0], storage=False),
        {"name": "v2", "served": True, "storage": True,
         "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}},
    ]
    updated = ext.replace_custom_resource_definition("dials.update.sim.io", crd)
    assert updated.metadata.generation == 2
    group = kubernetes.client.ApisApi(api).get_api_versions()
    dials = next(g for g in group.groups if g.name == "update.sim.io")
    assert dials.preferred_version.version == "v2"  # the storage version is preferred
    assert {v.version for v in dials.versions} == {"v1", "v2"}
    v2 = {r.name: r for r in custom.get_api_resources("update.sim.io", "v2").resources}
    assert v2["dials"].short_names == ["dl"]
    assert v2["dials"].namespaced is False
    # Both versions serve the same stored objects (conversion strategy None: only apiVersion changes).
    read = custom.get_cluster_custom_object("update.sim.io", "v2", "dials", "d1")
    assert read["apiVersion"] == "update.sim.io/v2"
    assert read["spec"] == {"n": 1}


def test_rbac_names_may_contain_colons(api):
    rbac = kubernetes.client.RbacAuthorizationV1Api(api)
    made = rbac.create_cluster_role({"metadata": {"name": "system:sim:reader"}, "rules": []})
    assert made.metadata.name == "system:sim:reader"
    with pytest.raises(ApiException) as caught:
        kubernetes.client.CoreV1Api(api).create_namespaced_config_map("default", {"metadata": {"name": "a:b"}})
    assert caught.value.status == 422
