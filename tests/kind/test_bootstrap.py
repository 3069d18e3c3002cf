"""The platform bootstrap's API calls against emulated API servers, and its kubectl layer against stand-ins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness import waits
from harness.bootstrap import (
    BootstrapError,
    Kubectl,
    ReleaseManifests,
    ensure_objects,
    full_bootstrap,
    platform_node_address,
    register_platform,
    summarize_apply,
    verify_platform,
)
from harness.kratix_install import InstallFiles
from harness.kube import Kube, KubeError
from harness.versions import load_versions

from .conftest import KRATIX_CRDS, Standins, need_upstream
from .simapi import KRATIX, SimClusters, sim_clusters

REGISTRATION_STEPS = [
    ("kratix controller available", "ok"),
    ("bucket state store", "changed"),
    ("bucket state store ready", "ok"),
    ("gitops resources on worker", "changed"),
    ("destination worker-1", "changed"),
    ("destination worker-1 ready", "ok"),
    ("worker ready", "ok"),
]


@pytest.fixture
def fast_waits() -> Iterator[None]:
    before = waits.get_scale()
    waits.set_scale(0.05)  # "cluster" tier = 30 s, "short" = 1.5 s
    yield
    waits.set_scale(before)


@pytest.fixture
def sim(tmp_path: Path, fast_waits: None) -> Iterator[SimClusters]:
    need_upstream()
    with sim_clusters(tmp_path, KRATIX_CRDS) as clusters:
        yield clusters


def write_paths(sim_api: Any, resource: str) -> list[int]:
    """Indexes of the requests that wrote ``resource`` (POST/PATCH/PUT)."""
    return [i for i, (method, path) in enumerate(sim_api.request_log())
            if method in ("POST", "PATCH", "PUT") and f"/{resource}" in path]


def test_register_platform_creates_what_quick_start_does(sim: SimClusters, install_files: InstallFiles) -> None:
    outcomes = register_platform(sim.clusters, platform_address="172.18.0.9", files=install_files)
    assert [(o.step, o.status) for o in outcomes] == REGISTRATION_STEPS
    platform, worker = sim.clusters.platform, sim.clusters.worker

    state_store = platform.get(KRATIX, "BucketStateStore", "default")
    assert state_store is not None
    assert state_store["spec"] == {
        "endpoint": "minio.kratix-platform-system.svc.cluster.local", "insecure": True, "bucketName": "kratix",
        "authMethod": "accessKey", "secretRef": {"name": "minio-credentials", "namespace": "default"}}
    destination = platform.get(KRATIX, "Destination", "worker-1")
    assert destination is not None
    assert destination["metadata"]["labels"] == {"environment": "dev"}
    assert destination["spec"]["path"] == "worker-1"
    assert destination["spec"]["stateStoreRef"] == {"name": "default", "kind": "BucketStateStore"}

    bucket = worker.get("source.toolkit.fluxcd.io/v1beta2", "Bucket", "kratix", "flux-system")
    assert bucket is not None
    assert bucket["spec"]["endpoint"] == "172.18.0.9:31337"
    kustomizations = {k["metadata"]["name"]: k["spec"] for k in
                      worker.list("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system")}
    assert kustomizations["kratix-worker-dependencies"]["path"] == "./worker-1/dependencies"
    assert kustomizations["kratix-worker-resources"]["path"] == "./worker-1/resources"
    assert kustomizations["kratix-worker-resources"]["dependsOn"] == [{"name": "kratix-worker-dependencies"}]
    assert worker.get("v1", "Secret", "minio-credentials", "flux-system") is not None

    # Kratix objects only after the controller was seen available (kratix#557), state store before destination.
    log = sim.platform_api.request_log()
    controller_read = next(i for i, (m, p) in enumerate(log)
                           if m == "GET" and "/namespaces/kratix-platform-system/deployments" in p)
    assert controller_read < min(write_paths(sim.platform_api, "bucketstatestores"))
    assert max(write_paths(sim.platform_api, "bucketstatestores")) < min(write_paths(sim.platform_api, "destinations"))
    assert sim.seen == ["BucketStateStore/default", "Destination/worker-1", "canary"]


def test_flux_is_nudged_while_waiting_for_the_canary(tmp_path: Path, fast_waits: None,
                                                     install_files: InstallFiles) -> None:
    need_upstream()
    with sim_clusters(tmp_path, KRATIX_CRDS, canary_needs_nudge=True) as sim:
        outcomes = register_platform(sim.clusters, platform_address="172.18.0.9", files=install_files)
        assert outcomes[-1].step == "worker ready"
        assert sim.nudges, "reconcile.fluxcd.io/requestedAt set on Bucket/kratix"
        assert write_paths(sim.worker_api, "buckets/kratix")


def test_register_platform_is_idempotent(sim: SimClusters, install_files: InstallFiles) -> None:
    register_platform(sim.clusters, platform_address="172.18.0.9", files=install_files)
    again = register_platform(sim.clusters, platform_address="172.18.0.9", files=install_files)
    assert [(o.step, o.status) for o in again] == [(step, "ok") for step, _ in REGISTRATION_STEPS]


def test_single_cluster_registers_the_platform_itself(tmp_path: Path, fast_waits: None,
                                                      install_files: InstallFiles) -> None:
    need_upstream()
    with sim_clusters(tmp_path, KRATIX_CRDS, single=True) as sim:
        outcomes = register_platform(sim.clusters, single_cluster=True, files=install_files)
        platform = sim.clusters.platform
        assert [o.step for o in outcomes][4] == "destination platform-cluster"
        destination = platform.get(KRATIX, "Destination", "platform-cluster")
        assert destination is not None
        assert "labels" not in destination["metadata"]
        bucket = platform.get("source.toolkit.fluxcd.io/v1beta2", "Bucket", "kratix", "flux-system")
        assert bucket is not None
        assert bucket["spec"]["endpoint"] == "minio.kratix-platform-system.svc.cluster.local"
        names = {k["metadata"]["name"] for k in
                 platform.list("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system")}
        assert names == {"kratix-platform-dependencies", "kratix-platform-resources"}
        assert platform.get("v1", "Namespace", "kratix-worker-system") is not None


def test_a_missing_controller_fails_the_step_by_name(tmp_path: Path, fast_waits: None,
                                                     install_files: InstallFiles) -> None:
    need_upstream()
    waits.set_scale(0.01)  # the rollout tier becomes 3 s: this test waits for the timeout
    with sim_clusters(tmp_path, KRATIX_CRDS) as sim:
        sim.clusters.platform.delete("apps/v1", "Deployment", "kratix-platform-controller-manager",
                                     "kratix-platform-system")
        with pytest.raises(BootstrapError) as err:
            register_platform(sim.clusters, platform_address="172.18.0.9", files=install_files)
        assert str(err.value).startswith(
            "bootstrap step 'kratix controller available' failed: timed out after ")
        assert ("waiting for Deployment/kratix-platform-controller-manager -n kratix-platform-system on platform "
                "to be condition=Available") in str(err.value)
        assert sim.clusters.platform.list(KRATIX, "BucketStateStore") == [], "nothing Kratix before the webhook"


class FlakyWebhook:
    """A Kube whose first applies fail the way an API server does while Kratix's webhook is starting."""

    def __init__(self, kube: Kube, failures: int) -> None:
        self.kube = kube
        self.failures = failures
        self.name = kube.name

    def apply(self, obj: dict[str, Any]) -> tuple[dict[str, Any], str]:
        if self.failures:
            self.failures -= 1
            raise KubeError("platform", "apply BucketStateStore/default", 500, "InternalError",
                            'Internal error occurred: failed calling webhook "vbucketstatestore-v1alpha1.kb.io": '
                            "connect: connection refused")
        return self.kube.apply(obj)


def test_apply_retries_while_the_kratix_webhook_is_not_serving(sim: SimClusters, install_files: InstallFiles) -> None:
    flaky = FlakyWebhook(sim.clusters.platform, failures=2)
    obj = {"apiVersion": KRATIX, "kind": "BucketStateStore", "metadata": {"name": "other"},
           "spec": {"endpoint": "minio:80", "bucketName": "b"}}
    status, detail = ensure_objects(flaky, [obj])  # type: ignore[arg-type]
    assert (status, detail) == ("changed", "BucketStateStore/other created")
    assert flaky.failures == 0


def test_apply_does_not_retry_a_rejected_object(sim: SimClusters) -> None:
    bad = {"apiVersion": KRATIX, "kind": "Destination", "metadata": {"name": "bad"},
           "spec": {"stateStoreRef": {"name": "default", "kind": "S3"}}}
    with pytest.raises(KubeError) as err:
        ensure_objects(sim.clusters.platform, [bad])
    assert err.value.status == 422


def test_verify_platform_checks_without_changing(sim: SimClusters, install_files: InstallFiles) -> None:
    with pytest.raises(BootstrapError, match=r"no Destination is Ready on context 'kind-platform'; install Kratix "
                                             r"first \(scripts/quick-start"):
        verify_platform(sim.clusters)
    register_platform(sim.clusters, platform_address="172.18.0.9", files=install_files)
    writes_before = len(write_paths(sim.platform_api, ""))
    outcomes = verify_platform(sim.clusters)
    assert [(o.step, o.status) for o in outcomes] == [
        ("kratix controller available", "ok"), ("destination ready", "ok"), ("worker ready", "ok")]
    assert outcomes[1].detail == "ready: worker-1"
    assert len(write_paths(sim.platform_api, "")) == writes_before


def test_full_bootstrap_applies_manifests_in_quick_start_order(
    tmp_path: Path, standins: Standins, sim: SimClusters, install_files: InstallFiles
) -> None:
    kubeconfig = sim.clusters.kubeconfig
    assert kubeconfig is not None
    releases = ReleaseManifests(cert_manager=tmp_path / "cert-manager.yaml", kratix=tmp_path / "kratix.yaml")
    releases.cert_manager.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cert-manager\n")
    releases.kratix.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kratix-platform-system\n")
    seen: list[str] = []
    outcomes = full_bootstrap(
        sim.clusters, load_versions(), install_files, kubectl=Kubectl(kubeconfig), cache_dir=tmp_path,
        releases=releases, platform_address="172.18.0.3", on_step=lambda o: seen.append(o.step),
    )
    applies = [a for a in standins.argvs("kubectl") if "apply" in a]
    assert applies == [
        ["kubectl", "--kubeconfig", str(kubeconfig), "--context", "kind-platform", "apply", "--filename", str(f)]
        for f in (releases.cert_manager, install_files.minio_install, releases.kratix)
    ] + [["kubectl", "--kubeconfig", str(kubeconfig), "--context", "kind-worker", "apply", "--filename",
          str(install_files.gitops_install)]]
    assert [o.step for o in outcomes] == seen == [
        "cert-manager", "cert-manager available", "minio", "kratix", "flux on worker", "minio bucket",
        *[step for step, _ in REGISTRATION_STEPS]]
    bucket = sim.clusters.worker.get("source.toolkit.fluxcd.io/v1beta2", "Bucket", "kratix", "flux-system")
    assert bucket is not None
    assert bucket["spec"]["endpoint"] == "172.18.0.3:31337"


def test_summarize_apply_counts_kubectls_verbs() -> None:
    assert summarize_apply("namespace/a created\ndeployment.apps/b unchanged\n") == (
        "changed", "1 created, 1 unchanged")
    assert summarize_apply("namespace/a unchanged\nservice/b unchanged") == ("ok", "2 unchanged")
    assert summarize_apply("Warning: resource is missing an annotation\nsecret/c configured") == (
        "changed", "1 configured")


class NodeList:
    name = "platform"

    def __init__(self, nodes: list[dict[str, Any]]) -> None:
        self.nodes = nodes

    def list(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        assert (api_version, kind) == ("v1", "Node")
        return self.nodes


def node(name: str, ip: str, *, control_plane: bool) -> dict[str, Any]:
    labels = {"node-role.kubernetes.io/control-plane": ""} if control_plane else {}
    return {"metadata": {"name": name, "labels": labels},
            "status": {"addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]}}


def test_platform_address_is_the_control_plane_internal_ip() -> None:
    nodes = NodeList([node("platform-worker", "172.18.0.5", control_plane=False),
                      node("platform-control-plane", "172.18.0.4", control_plane=True)])
    assert platform_node_address(nodes) == "172.18.0.4"  # type: ignore[arg-type]
    with pytest.raises(BootstrapError, match="lists no nodes"):
        platform_node_address(NodeList([]))  # type: ignore[arg-type]

