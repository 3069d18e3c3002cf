"""Two emulated API servers (the sim's ``SimApiServer``) seeded as after kratix.yaml/MinIO/Flux, plus a tiny
reactor standing in for the controllers the bootstrap waits on (Kratix marks Ready, Flux applies the canary).

The reactor is deliberately minimal and slow-ish (a few hundred ms per reaction) so the bootstrap's waits
really wait; it records what it saw so tests can assert the order the bootstrap created things in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.kube import Kube, KubeError
from harness.sim.apiserver import SimApiServer, write_kubeconfig
from harness.targets.base import Clusters

KRATIX = "platform.kratix.io/v1alpha1"


def flux_crd(group: str, version: str, kind: str, plural: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [{
                "name": version, "served": True, "storage": True, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }],
        },
    }


def available_deployment(name: str, namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
    dep = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": f"example/{name}:v1"}]}}},
    }
    status = {"status": {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1,
                         "observedGeneration": 1,
                         "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}}
    return dep, status


@dataclass
class SimClusters:
    platform_api: SimApiServer
    worker_api: SimApiServer
    clusters: Clusters
    seen: list[str] = field(default_factory=list)
    nudges: list[str] = field(default_factory=list)
    #: Flux with a long interval: the canary is applied only after a reconcile request (an annotation).
    canary_needs_nudge: bool = False


def seed_after_install(platform: Kube, worker: Kube, crds_dir: Path) -> None:
    """What kubectl apply of cert-manager, MinIO, kratix.yaml (platform) and Flux (worker) leaves behind."""
    for path in sorted(crds_dir.glob("*.yaml")):
        platform.create(yaml.safe_load(path.read_text()))
    for ns in ("kratix-platform-system", "cert-manager"):
        platform.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    worker.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}})
    worker.create(flux_crd("source.toolkit.fluxcd.io", "v1beta2", "Bucket", "buckets"))
    worker.create(flux_crd("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations"))
    for kube, name, ns in (
        (platform, "cert-manager", "cert-manager"), (platform, "cert-manager-cainjector", "cert-manager"),
        (platform, "cert-manager-webhook", "cert-manager"), (platform, "minio", "kratix-platform-system"),
        (platform, "kratix-platform-controller-manager", "kratix-platform-system"),
        (worker, "source-controller", "flux-system"), (worker, "kustomize-controller", "flux-system"),
    ):
        dep, status = available_deployment(name, ns)
        kube.create(dep)
        kube.patch("apps/v1", "Deployment", name, status, ns, subresource="status")
    platform.create({"apiVersion": "batch/v1", "kind": "Job",
                     "metadata": {"name": "minio-create-bucket", "namespace": "default"},
                     "spec": {"template": {"spec": {"restartPolicy": "Never",
                                                    "containers": [{"name": "mc", "image": "minio/mc"}]}}}})
    platform.patch("batch/v1", "Job", "minio-create-bucket",
                   {"status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}, "default",
                   subresource="status")


def _ready(kube: Kube, kind: str, name: str, message: str) -> None:
    status: dict[str, Any] = {"conditions": [
        {"type": "Ready", "status": "True", "reason": f"{kind}Ready", "message": message,
         "lastTransitionTime": "2025-01-01T00:00:00Z"}]}
    if kind == "BucketStateStore":
        status["status"] = "Ready"  # required by the state store CRDs' status schema
    kube.patch(KRATIX, kind, name, {"status": status}, subresource="status")


def react_once(sim: SimClusters, platform: Kube, worker: Kube, delay: float) -> None:
    for kind, message in (("BucketStateStore", "State store is ready"), ("Destination", "Ready")):
        for obj in platform.list(KRATIX, kind):
            name = obj["metadata"]["name"]
            if f"{kind}/{name}" not in sim.seen:
                sim.seen.append(f"{kind}/{name}")
                time.sleep(delay)
                _ready(platform, kind, name, message)
    bucket = worker.get("source.toolkit.fluxcd.io/v1beta2", "Bucket", "kratix", "flux-system")
    if bucket is not None:
        stamp = (bucket["metadata"].get("annotations") or {}).get("reconcile.fluxcd.io/requestedAt")
        if stamp and stamp not in sim.nudges:
            sim.nudges.append(stamp)
    destinations = [d for d in platform.list(KRATIX, "Destination")
                    if any(c.get("type") == "Ready" and c.get("status") == "True"
                           for c in (d.get("status") or {}).get("conditions") or [])]
    kustomizations = worker.list("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system")
    nudged = bool(sim.nudges) or not sim.canary_needs_nudge
    if destinations and kustomizations and bucket is not None and nudged and "canary" not in sim.seen:
        sim.seen.append("canary")
        time.sleep(delay)
        worker.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kratix-worker-system"}})


@contextmanager
def sim_clusters(tmp_path: Path, crds_dir: Path, *, delay: float = 0.2, single: bool = False,
                 canary_needs_nudge: bool = False) -> Iterator[SimClusters]:
    """Platform and worker API servers seeded as after the install manifests, with the reactor running."""
    with SimApiServer("platform") as platform_api, SimApiServer("worker") as worker_api:
        kubeconfig = tmp_path / "sim-kubeconfig"
        write_kubeconfig(kubeconfig, {"kind-platform": platform_api.url, "kind-worker": worker_api.url})
        platform = Kube.connect(name="platform", context="kind-platform", kubeconfig=kubeconfig)
        worker = platform if single else Kube.connect(name="worker", context="kind-worker", kubeconfig=kubeconfig)
        seed_after_install(platform, _SameCluster(platform) if single else worker, crds_dir)
        sim = SimClusters(platform_api, worker_api, Clusters(platform=platform, worker=worker, kubeconfig=kubeconfig),
                          canary_needs_nudge=canary_needs_nudge)
        stop = threading.Event()
        errors: list[BaseException] = []
        # The reactor has its own connections: the dynamic client's discovery cache is not thread-safe.
        own_platform = Kube.connect(name="platform", context="kind-platform", kubeconfig=kubeconfig)
        own_worker = own_platform if single else Kube.connect(name="worker", context="kind-worker",
                                                              kubeconfig=kubeconfig)

        def loop() -> None:
            while not stop.is_set():
                try:
                    react_once(sim, own_platform, own_worker, delay)
                except (KubeError, OSError) as exc:  # API hiccup: try again, keep evidence
                    errors.append(exc)
                stop.wait(0.05)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield sim
        finally:
            stop.set()
            thread.join(5)
        assert not [e for e in errors if not isinstance(e, KubeError)], errors


class _SameCluster:
    """The worker half of the seed on the platform itself (single-cluster): skip what already exists."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def create(self, obj: dict[str, Any]) -> None:
        try:
            self.kube.create(obj)
        except KubeError as exc:
            if exc.status != 409:
                raise

    def patch(self, *args: Any, **kwargs: Any) -> None:
        self.kube.patch(*args, **kwargs)
