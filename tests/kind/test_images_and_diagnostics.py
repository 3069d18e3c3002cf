"""Pipeline images into kind (build/load with skips) and the extra diagnostics for real clusters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import waits
from harness.bootstrap import register_platform
from harness.diagnostics_kind import collect_real_cluster_extras
from harness.kind_images import ImageLoader, normalize_ref
from harness.kratix_install import InstallFiles
from harness.promise_edit import images as promise_images
from harness.targets.base import TargetOptions
from harness.targets.kind import KindTarget

from .conftest import KRATIX_CRDS, REPO, Standins, need_upstream
from .simapi import KRATIX, SimClusters, sim_clusters

PROMISE_CLEAN = REPO / "promises" / "promise-clean" / "promise.yaml"


def promise_clean() -> dict[str, Any]:
    if not PROMISE_CLEAN.exists():
        pytest.skip(f"{PROMISE_CLEAN} not present")
    return dict(yaml.safe_load(PROMISE_CLEAN.read_text()))


def one_pipeline_promise(*images: str) -> dict[str, Any]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    return {"apiVersion": "platform.kratix.io/v1alpha1", "kind": "Promise", "metadata": {"name": "p"},
            "spec": {"workflows": {"resource": {"configure": [
                {"apiVersion": "platform.kratix.io/v1alpha1", "kind": "Pipeline", "metadata": {"name": "p"},
                 "spec": {"containers": containers}}]}}}}


SCANNER = "kratix-workshop/security-scanner:v0.1.0"


def changes(standins: Standins) -> list[list[str]]:
    return [a[:3] if a[1] == "build" else a for a in standins.argvs()
            if a[:2] == ["docker", "build"] or a[:3] == ["kind", "load", "docker-image"]]


def test_images_are_built_and_loaded_once_then_skipped(standins: Standins) -> None:
    need_upstream()  # the dependencies image carries the pinned Zalando files (mirror: ../shared)
    standins.add_cluster("platform", ports=[31337])
    loader = ImageLoader("platform", env={})
    promise = promise_clean()
    # Every image the Promise's pipelines name, in workflow order (all declared by promises/*/images.yaml).
    clean_images = promise_images(promise)
    assert "kratix-workshop/postgresql-configure-pipeline:v0.2.0" in clean_images
    assert "kratix-workshop/postgresql-dependencies:v2.0.1" in clean_images
    outcomes, foreign = loader.ensure_for_promise(promise)
    assert foreign == []
    assert [o.ref for o in outcomes] == clean_images
    assert all(o.built and o.loaded for o in outcomes)
    builds = [a for a in standins.argvs("docker") if a[1] == "build"]
    assert [a[a.index("--tag") + 1] for a in builds] == clean_images
    assert [a for a in standins.argvs("kind") if a[1] == "load"] == [
        ["kind", "load", "docker-image", ref, "--name", "platform"] for ref in clean_images]
    # Each image is loaded right after it is built: a promise's images are ready before it is applied.
    kinds = [("build" if a[0] == "docker" else "load") for a in changes(standins)]
    assert kinds == ["build", "load"] * len(clean_images)

    before = len(changes(standins))
    again, _ = loader.ensure_for_promise(promise)
    assert [(o.built, o.loaded, o.status) for o in again] == [(False, False, "ok")] * len(clean_images)
    assert len(changes(standins)) == before, "unchanged sources and node images: no build, no load"
    assert {o.image_id for o in again} == {o.image_id for o in outcomes}


def test_a_changed_build_input_rebuilds_and_reloads(standins: Standins) -> None:
    need_upstream()
    standins.add_cluster("platform", ports=[31337])
    promise = one_pipeline_promise(SCANNER)
    [first], _ = ImageLoader("platform", env={}).ensure_for_promise(promise)
    [second], _ = ImageLoader("platform", base_image="kratix-e2e-base:bookworm", env={}).ensure_for_promise(promise)
    assert (second.built, second.loaded) == (True, True)
    assert first.image_id != second.image_id
    builds = [a for a in standins.argvs("docker") if a[1] == "build"]
    assert len(builds) == 2
    assert "BASE_IMAGE=kratix-e2e-base:bookworm" in builds[1]


def test_kind_target_prepares_only_declared_images(tmp_path: Path, standins: Standins,
                                                    install_files: InstallFiles) -> None:
    standins.add_cluster("platform", ports=[31337])
    promise = one_pipeline_promise(SCANNER, "ghcr.io/syntasso/workshop/security-scanner:v0.1.0")
    target = KindTarget(TargetOptions(artifacts_dir=tmp_path), install_files=install_files)
    target.prepare_images(promise)
    assert [o.ref for o in target.image_outcomes] == [SCANNER]
    assert target.notes == ["not built here, pulled by the cluster: ghcr.io/syntasso/workshop/security-scanner:v0.1.0"]
    loaded = [a[3] for a in standins.argvs("kind") if a[1] == "load"]
    assert "ghcr.io/syntasso/workshop/security-scanner:v0.1.0" not in loaded


@pytest.mark.parametrize(("ref", "full"), [
    ("kratix-workshop/x:v1", "docker.io/kratix-workshop/x:v1"),
    ("alpine", "docker.io/library/alpine:latest"),
    ("ghcr.io/syntasso/workshop/security-scanner:v0.1.0", "ghcr.io/syntasso/workshop/security-scanner:v0.1.0"),
    ("localhost:5000/a/b:1", "localhost:5000/a/b:1"),
])
def test_normalize_ref_as_containerd_names_images(ref: str, full: str) -> None:
    assert normalize_ref(ref) == full


# -- diagnostics --------------------------------------------------------------------------------------------


@pytest.fixture
def troubled(tmp_path: Path, install_files: InstallFiles) -> Iterator[SimClusters]:
    """A registered platform with a crash-looping pipeline pod, a controller error and a failing Kustomization."""
    need_upstream()
    before = waits.get_scale()
    waits.set_scale(0.05)
    try:
        with sim_clusters(tmp_path, KRATIX_CRDS) as sim:
            register_platform(sim.clusters, platform_address="172.18.0.9", files=install_files)
            platform, worker = sim.clusters.platform, sim.clusters.worker
            controller = controller_pod("kratix-platform-controller-manager-7d9f-abcde")
            platform.create(controller)  # like a real API server, the sim ignores status on create
            platform.patch("v1", "Pod", controller["metadata"]["name"], {"status": controller["status"]},
                           "kratix-platform-system", subresource="status")
            sim.platform_api.set_pod_log("kratix-platform-system", "kratix-platform-controller-manager-7d9f-abcde",
                                         "manager", '{"level":"info","msg":"starting"}\n'
                                         '{"level":"error","msg":"Reconciler error","error":"bucket not found"}\n')
            sim.platform_api.set_pod_log("kratix-platform-system", "kratix-platform-controller-manager-7d9f-abcde",
                                         "manager", "panic: boom\n", previous=True)
            labels = {"app.kubernetes.io/managed-by": "Kratix", "kratix.io/promise-name": "postgresql",
                      "kratix.io/resource-name": "example", "kratix.io/pipeline-name": "instance-configure",
                      "kratix.io/workflow-action": "configure"}
            failing = pipeline_pod("kratix-postgresql-example-instance-configure-1a2b3-xyz12", labels,
                                   "postgresql-configure-pipeline")
            platform.create(failing)
            platform.patch("v1", "Pod", failing["metadata"]["name"], {"status": {
                "phase": "Pending", "initContainerStatuses": [{
                    "name": "postgresql-configure-pipeline", "ready": False, "restartCount": 3,
                    "image": "x", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff",
                                                                        "message": "back-off 40s"}}}]}},
                "default", subresource="status")
            worker.patch("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "kratix-worker-resources",
                         {"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed",
                                                     "message": "kustomize build failed: missing namespace"}]}},
                         "flux-system", subresource="status")
            yield sim
    finally:
        waits.set_scale(before)


def controller_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "kratix-platform-system",
                         "labels": {"control-plane": "controller-manager"}},
            "spec": {"containers": [{"name": "manager", "image": "syntasso/kratix-platform:v1"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "manager", "restartCount": 1, "ready": True, "image": "x", "imageID": ""}]}}


def pipeline_pod(name: str, labels: dict[str, str], container: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"initContainers": [{"name": container, "image": "example/x:v1"}],
                     "containers": [{"name": "status-writer", "image": "example/x:v1"}]}}


def test_real_cluster_extras_collect_what_kratix_debugging_needs(
    tmp_path: Path, troubled: SimClusters, standins: Standins
) -> None:
    standins.add_cluster("platform", ports=[31337])
    dest = tmp_path / "diag"
    findings = collect_real_cluster_extras(troubled.clusters, dest, kind_clusters=["platform"])

    assert '"msg":"Reconciler error","error":"bucket not found"' in (dest / "kratix-controller.log").read_text()
    assert (dest / "kratix-controller.previous.log").read_text() == "panic: boom\n"
    assert "[platform] kratix controller: Reconciler error bucket not found" in findings
    assert "[platform] kratix controller pod kratix-platform-controller-manager-7d9f-abcde restarted 1 time(s)" \
        in findings
    assert any(f.startswith("[platform] pipeline pod kratix-postgresql-example-instance-configure-1a2b3-xyz12 "
                            "container postgresql-configure-pipeline is CrashLoopBackOff") for f in findings)
    assert "[worker] Kustomization/kratix-worker-resources not Ready: kustomize build failed: missing namespace" \
        in findings

    pipeline = (dest / "pipeline-pods.txt").read_text()
    assert "default/kratix-postgresql-example-instance-configure-1a2b3-xyz12 Pending" in pipeline
    assert "promise=postgresql resource=example pipeline=instance-configure action=configure" in pipeline
    flux = (dest / "flux.txt").read_text()
    assert "Kustomization/kratix-worker-resources -n flux-system: Ready=False BuildFailed" in flux
    assert (dest / "works.txt").read_text() == "(no works)\n"
    described = sorted(p.name for p in (dest / "describe").iterdir())
    assert "platform.Pod.default.kratix-postgresql-example-instance-configure-1a2b3-xyz12.yaml" in described
    assert "worker.Kustomization.flux-system.kratix-worker-resources.yaml" in described
    assert ["kind", "export", "logs", str(dest / "kind-logs" / "platform"), "--name", "platform"] in \
        standins.argvs("kind")
    assert (dest / "kind-logs" / "platform" / "platform-control-plane" / "kubelet.log").exists()


def test_one_broken_collector_does_not_stop_the_others(tmp_path: Path, troubled: SimClusters,
                                                      standins: Standins) -> None:
    standins.remove("kind")
    dest = tmp_path / "diag"
    findings = collect_real_cluster_extras(troubled.clusters, dest, kind_clusters=["platform"])
    assert any(f.startswith("kind export logs for platform failed: kind not found on PATH") for f in findings)
    assert (dest / "flux.txt").exists()
    assert troubled.clusters.platform.get(KRATIX, "Destination", "worker-1") is not None
