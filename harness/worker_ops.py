"""Waits on what lands on a worker: Deployments, pods, volume claims and volumes, Zalando clusters.

Zalando objects are found by the operator's labels (``application=spilo``, ``cluster-name=<cluster>``),
not by name patterns, except where the tutorial promises a name.
"""

from __future__ import annotations

from typing import Any

from harness import conditions as cond
from harness.kube import Kube
from harness.waits import NotYet, TerminalFailure, wait_for, wait_until_gone

ZALANDO_API = "acid.zalan.do/v1"
ZALANDO_KIND = "postgresql"
_CONTAINER_LISTS = frozenset({"containers", "initContainers", "sidecars", "ephemeralContainers"})
ZALANDO_FAILED = frozenset({"CreateFailed", "UpdateFailed", "SyncFailed", "Invalid"})


def spilo_labels(cluster: str) -> dict[str, str]:
    return {"application": "spilo", "cluster-name": cluster}


def wait_deployment_ready(kube: Kube, name: str, namespace: str | None = None, tier: str = "rollout") -> dict[str, Any]:
    """Wait for a Deployment (in ``namespace``, or any namespace) to have all replicas ready."""

    def probe() -> dict[str, Any]:
        found = [d for d in kube.list("apps/v1", "Deployment", namespace) if d["metadata"]["name"] == name]
        if not found:
            raise NotYet("not found")
        dep = found[0]
        selector = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if selector:
            for pod in kube.list("v1", "Pod", dep["metadata"]["namespace"], labels=selector):
                reason = cond.pod_terminal_reason(pod)
                if reason:
                    raise TerminalFailure(reason)
        if not cond.deployment_ready(dep):
            raise NotYet(cond.deployment_summary(dep))
        return dep

    where = f" -n {namespace}" if namespace else ""
    return wait_for(probe, what=f"Deployment/{name}{where} on {kube.name}", condition="condition=Available",
                    tier=tier, sleep=lambda s: kube.wake_on_change("apps/v1", "Deployment", namespace, seconds=s))


def wait_pod_ready(kube: Kube, name: str, namespace: str = "default", tier: str = "rollout") -> dict[str, Any]:
    """Wait for a pod to be Running and Ready; stop on CrashLoopBackOff, pull errors, Failed."""

    def probe() -> dict[str, Any]:
        pod = kube.get("v1", "Pod", name, namespace)
        if pod is None:
            raise NotYet("not found")
        reason = cond.pod_terminal_reason(pod)
        if reason:
            raise TerminalFailure(reason)
        if not cond.pod_ready(pod):
            raise NotYet(cond.pod_summary(pod))
        return pod

    return wait_for(probe, what=f"Pod/{name} -n {namespace} on {kube.name}", condition="condition=Ready",
                    tier=tier, sleep=lambda s: kube.wake_on_change("v1", "Pod", namespace, seconds=s))


def wait_pvc_bound(
    kube: Kube, name: str, size: str, namespace: str = "default", tier: str = "rollout"
) -> dict[str, Any]:
    """Wait for a claim to be Bound with ``size`` requested and provided."""

    def probe() -> dict[str, Any]:
        pvc = kube.get("v1", "PersistentVolumeClaim", name, namespace)
        if pvc is None:
            raise NotYet("not found")
        status = pvc.get("status") or {}
        requested = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
        if status.get("phase") != "Bound":
            raise NotYet(cond.pvc_summary(pvc))
        if requested != size:
            raise TerminalFailure(f"PersistentVolumeClaim/{name} requests {requested}, expected {size}")
        capacity = (status.get("capacity") or {}).get("storage")
        if capacity != size:
            raise NotYet(cond.pvc_summary(pvc))
        return pvc

    return wait_for(probe, what=f"PersistentVolumeClaim/{name} -n {namespace} on {kube.name}",
                    condition=f"Bound with {size}", tier=tier,
                    sleep=lambda s: kube.wake_on_change("v1", "PersistentVolumeClaim", namespace, seconds=s))


def wait_pv_for_claim(kube: Kube, claim: str, size: str, namespace: str = "default",
                      tier: str = "short") -> dict[str, Any]:
    """Wait for a PersistentVolume of ``size`` bound to ``namespace/claim``."""

    def probe() -> dict[str, Any]:
        seen = []
        for pv in kube.list("v1", "PersistentVolume"):
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            if ref.get("name") == claim and ref.get("namespace") == namespace:
                capacity = ((pv.get("spec") or {}).get("capacity") or {}).get("storage")
                phase = (pv.get("status") or {}).get("phase")
                if capacity == size and phase == "Bound":
                    return pv
                seen.append(f"{pv['metadata']['name']} {phase} {capacity}")
        raise NotYet(", ".join(seen) or "no volume claims it")

    return wait_for(probe, what=f"a PersistentVolume for claim {namespace}/{claim} on {kube.name}",
                    condition=f"Bound with {size}", tier=tier,
                    sleep=lambda s: kube.wake_on_change("v1", "PersistentVolume", seconds=s))


def _zalando_probe(kube: Kube, cluster: str, namespace: str, instances: int | None) -> dict[str, Any]:
    pg = kube.get(ZALANDO_API, ZALANDO_KIND, cluster, namespace)
    if pg is None:
        raise NotYet("not found")
    phase = (pg.get("status") or {}).get("PostgresClusterStatus") or ""
    if phase in ZALANDO_FAILED:
        raise TerminalFailure(f"postgresql/{cluster}: PostgresClusterStatus {phase}")
    pods = kube.list("v1", "Pod", namespace, labels=spilo_labels(cluster))
    for pod in pods:
        reason = cond.pod_terminal_reason(pod)
        if reason:
            raise TerminalFailure(reason)
    ready = [p for p in pods if cond.pod_ready(p)]
    if phase != "Running" or (instances is not None and len(ready) != instances):
        summary = ", ".join(cond.pod_summary(p) for p in pods) or "no pods"
        raise NotYet(f"PostgresClusterStatus {phase or '(none)'}; pods: {summary}")
    return pg


def wait_zalando_running(kube: Kube, cluster: str, namespace: str = "default", *, instances: int | None = None,
                         tier: str = "rollout") -> dict[str, Any]:
    """Wait for a Zalando cluster to report Running (and, if given, that many ready pods)."""
    wanted = "Running" + (f" with {instances} ready pods" if instances is not None else "")
    return wait_for(lambda: _zalando_probe(kube, cluster, namespace, instances),
                    what=f"postgresql/{cluster} -n {namespace} on {kube.name}", condition=wanted, tier=tier,
                    sleep=lambda s: kube.wake_on_change("v1", "Pod", namespace, seconds=s))


def wait_zalando_gone(kube: Kube, cluster: str, namespace: str = "default", tier: str = "delete") -> None:
    """Wait until a Zalando cluster, its pods and its volume claims are all gone (the operator deletes the
    claims with the cluster; a leftover claim would hand the next cluster of that name an old volume)."""

    def leftovers() -> list[str]:
        found = []
        if kube.get(ZALANDO_API, ZALANDO_KIND, cluster, namespace) is not None:
            found.append(f"postgresql/{cluster}")
        pods = kube.list("v1", "Pod", namespace, labels=spilo_labels(cluster))
        found += [f"Pod/{p['metadata']['name']}" for p in pods]
        found += [f"PersistentVolumeClaim/{c['metadata']['name']}" for c in zalando_claims(kube, cluster, namespace)]
        return found

    wait_until_gone(leftovers, what=f"Zalando cluster {cluster} -n {namespace} on {kube.name}", tier=tier,
                    sleep=lambda s: kube.wake_on_change("v1", "Pod", namespace, seconds=s))


def zalando_claims(kube: Kube, cluster: str, namespace: str = "default") -> list[dict[str, Any]]:
    return kube.list("v1", "PersistentVolumeClaim", namespace, labels=spilo_labels(cluster))


def images_in(objects: list[dict[str, Any]]) -> list[str]:
    """Container images referenced by manifests: pod templates of any workload, Zalando dockerImage,
    sidecars and init containers. Used to check what a scanner claims to have found."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "dockerImage" and isinstance(value, str):
                    found.append(value)
                elif key in _CONTAINER_LISTS and isinstance(value, list):
                    found.extend(str(c["image"]) for c in value if isinstance(c, dict) and c.get("image"))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for obj in objects:
        walk(obj)
    return list(dict.fromkeys(found))
