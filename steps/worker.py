"""Steps about what lands on the worker: the operator, Zalando clusters, pods, volumes."""

from __future__ import annotations

from pytest_bdd import parsers, then

from harness import worker_ops as w
from harness.docs.recorder import DocsRecorder
from harness.targets import Clusters

# Then


@then(parsers.parse('the deployment "{name}" becomes ready on the worker'))
def _(name: str, clusters: Clusters, docs_recorder: DocsRecorder) -> None:
    w.wait_deployment_ready(clusters.worker, name)
    docs_recorder.ran(["kubectl", "--context", clusters.worker.context, "get", "deployments"])
    docs_recorder.observed("deployments", clusters.worker.list("apps/v1", "Deployment", "default"))


@then(parsers.parse('the Zalando cluster "{cluster}" is Running on the worker'))
def _(cluster: str, clusters: Clusters) -> None:
    w.wait_zalando_running(clusters.worker, cluster)


@then(parsers.parse('the Zalando cluster "{cluster}" is Running on the worker with {instances:d} instances'))
def _(cluster: str, instances: int, clusters: Clusters) -> None:
    w.wait_zalando_running(clusters.worker, cluster, instances=instances)


@then(parsers.parse('the pod "{name}" is running and ready on the worker'))
def _(name: str, clusters: Clusters, docs_recorder: DocsRecorder) -> None:
    w.wait_pod_ready(clusters.worker, name)
    docs_recorder.ran(["kubectl", "--context", clusters.worker.context, "get", "pods"])
    docs_recorder.observed("pods", clusters.worker.list("v1", "Pod", "default"))


@then(parsers.parse('the volume claim "{name}" is bound with {size} on the worker'))
def _(name: str, size: str, clusters: Clusters, docs_recorder: DocsRecorder) -> None:
    w.wait_pvc_bound(clusters.worker, name, size)
    docs_recorder.ran(["kubectl", "--context", clusters.worker.context, "get", "persistentvolumeclaims"])
    docs_recorder.observed("pvc", clusters.worker.list("v1", "PersistentVolumeClaim", "default"))


@then(parsers.parse('a {size} persistent volume is bound to the claim "{claim}" on the worker'))
def _(size: str, claim: str, clusters: Clusters, docs_recorder: DocsRecorder) -> None:
    w.wait_pv_for_claim(clusters.worker, claim, size)
    docs_recorder.ran(["kubectl", "--context", clusters.worker.context, "get", "persistentvolume"])
    docs_recorder.observed("pv", clusters.worker.list("v1", "PersistentVolume"))


@then(parsers.parse('every volume claim of the Zalando cluster "{cluster}" is bound with {size}'))
def _(cluster: str, size: str, clusters: Clusters) -> None:
    pg = clusters.worker.get(w.ZALANDO_API, w.ZALANDO_KIND, cluster, "default")
    assert pg is not None, f"postgresql/{cluster} not found on the worker"
    instances = int((pg.get("spec") or {}).get("numberOfInstances") or 0)
    names = [f"pgdata-{cluster}-{i}" for i in range(instances)]
    for name in names:
        w.wait_pvc_bound(clusters.worker, name, size)
    labelled = sorted(c["metadata"]["name"] for c in w.zalando_claims(clusters.worker, cluster))
    assert labelled == sorted(names), f"claims labelled for {cluster}: {labelled}, expected {sorted(names)}"


@then(parsers.parse('the Zalando cluster "{cluster}" and its pods and volume claims are gone from the worker'))
def _(cluster: str, clusters: Clusters) -> None:
    w.wait_zalando_gone(clusters.worker, cluster)
