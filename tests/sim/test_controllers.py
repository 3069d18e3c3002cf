"""The simulated controllers end to end, through the kube adapter over HTTP (as the suite's steps talk to them).

One SimPlatform for the module (started like the sim target does, registered like quick-start does);
each test uses its own Promise/request names. Skipped without ../shared/upstream (the Kratix CRDs).
"""

from __future__ import annotations

import base64
import http.server
import re
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from harness.kube import Kube, Ref
from harness.sim.bucket import BucketMissing, SimBucket
from harness.sim.ctl_bootstrap import BootstrapError
from harness.sim.flux import BuildError, manifests_under
from harness.sim.platform import SimPlatform
from harness.waits import NotYet, wait_for

REPO = Path(__file__).resolve().parents[2]
UPSTREAM = REPO.parent / "shared" / "upstream"
KRATIX = "platform.kratix.io/v1alpha1"

pytestmark = [
    pytest.mark.sim,
    pytest.mark.upstream,
    pytest.mark.skipif(not (UPSTREAM / "kratix-crds").is_dir(),
                       reason=f"needs the upstream Kratix CRDs in {UPSTREAM / 'kratix-crds'}"),
]


# -- helpers -----------------------------------------------------------------------------------------


def until(probe: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll ``probe`` until it returns something truthy (a falsy value or an exception means "not yet")."""
    last: list[Any] = ["nothing yet"]

    def attempt() -> Any:
        try:
            value = probe()
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            last[0] = f"{type(exc).__name__}: {exc}"
            raise NotYet(last[0]) from None
        if not value:
            raise NotYet(last[0] if value is None else value)
        return value

    return wait_for(attempt, what=what, condition="true", tier=timeout, poll=0.05)


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def is_true(obj: dict[str, Any] | None, type_: str) -> bool:
    return condition(obj, type_).get("status") == "True"


def events_about(kube: Kube, kind: str, name: str, namespace: str | None) -> list[tuple[str, str, str, str]]:
    found = kube.events(namespace or "default", about=Ref("v1", kind, name, namespace))
    return [(str(e.get("type")), str(e.get("reason")), str(e.get("message")),
             str((e.get("source") or {}).get("component"))) for e in found]


def promise_available(kube: Kube, name: str) -> bool:
    return bool((kube.get(KRATIX, "Promise", name) or {}).get("status", {}).get("status") == "Available")


def deployment_ready(kube: Kube, name: str, namespace: str) -> bool:
    return bool((kube.get("apps/v1", "Deployment", name, namespace) or {}).get("status", {}).get("readyReplicas"))


def gone(kube: Kube, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
    return kube.get(api_version, kind, name, namespace) is None


def one(items: list[dict[str, Any]], what: str) -> dict[str, Any]:
    assert len(items) == 1, f"expected exactly one {what}, found {[i['metadata']['name'] for i in items]}"
    return items[0]


def promise_doc(name: str, image: str, *, group: str = "test.kratix.io", pipeline: str = "configure") -> dict[str, Any]:
    """A minimal Promise of our own: an API with a free-form spec and one resource configure pipeline."""
    kind = name.capitalize()
    return {
        "apiVersion": KRATIX, "kind": "Promise",
        "metadata": {"name": name, "labels": {"kratix.io/promise-version": "v0.0.1"}},
        "spec": {
            "api": {
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{name}s.{group}"},
                "spec": {"group": group, "scope": "Namespaced",
                         "names": {"kind": kind, "plural": f"{name}s", "singular": name},
                         "versions": [{"name": "v1alpha1", "served": True, "storage": True, "schema": {
                             "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                                 "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]},
            },
            "workflows": {"resource": {"configure": [{
                "apiVersion": KRATIX, "kind": "Pipeline", "metadata": {"name": pipeline},
                "spec": {"containers": [{"name": "step", "image": image}]}}]}},
        },
    }


def request_doc(promise: str, name: str, spec: dict[str, Any], group: str = "test.kratix.io") -> dict[str, Any]:
    return {"apiVersion": f"{group}/v1alpha1", "kind": promise.capitalize(),
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimPlatform]:
    platform = SimPlatform(tmp_path_factory.mktemp("sim"), kratix_crds=UPSTREAM / "kratix-crds", speed=0.5)
    platform.start()
    yield platform
    platform.stop()
    assert platform.errors == [], f"simulated controllers failed: {platform.errors} (log: {platform.log_file})"


@pytest.fixture(scope="module")
def platform(sim: SimPlatform) -> Kube:
    assert sim.endpoints is not None
    return Kube.connect(name="platform", context=sim.endpoints.platform_context, kubeconfig=sim.endpoints.kubeconfig)


@pytest.fixture(scope="module")
def worker(sim: SimPlatform) -> Kube:
    assert sim.endpoints is not None
    return Kube.connect(name="worker", context=sim.endpoints.worker_context, kubeconfig=sim.endpoints.kubeconfig)


@pytest.fixture(scope="module")
def registered(sim: SimPlatform, platform: Kube, worker: Kube) -> str:
    """Quick-start step 3: BucketStateStore, Flux sources on the worker, Destination ``worker-1``."""
    until(lambda: (platform.get("apps/v1", "Deployment", "kratix-platform-controller-manager",
                                "kratix-platform-system") or {}).get("status", {}).get("readyReplicas") == 1,
          "Kratix controller manager Available")
    platform.create({"apiVersion": KRATIX, "kind": "BucketStateStore", "metadata": {"name": "default"},
                     "spec": {"endpoint": "minio.kratix-platform-system.svc.cluster.local", "insecure": True,
                              "bucketName": "kratix", "authMethod": "accessKey",
                              "secretRef": {"name": "minio-credentials", "namespace": "default"}}})
    minio = base64.b64encode(b"minioadmin").decode()
    worker.create({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "minio-credentials", "namespace": "flux-system"},
                   "type": "Opaque", "data": {"accesskey": minio, "secretkey": minio}})
    worker.create({"apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "Bucket",
                   "metadata": {"name": "kratix", "namespace": "flux-system"},
                   "spec": {"interval": "10s", "provider": "generic", "bucketName": "kratix",
                            "endpoint": "172.18.0.2:31337", "insecure": True,
                            "secretRef": {"name": "minio-credentials"}}})
    for part, interval, depends in (("dependencies", "8s", None), ("resources", "3s", "dependencies")):
        spec: dict[str, Any] = {"interval": interval, "prune": True, "sourceRef": {"kind": "Bucket", "name": "kratix"},
                                "path": f"./worker-1/{part}"}
        if depends:
            spec["dependsOn"] = [{"name": f"kratix-worker-{depends}"}]
        worker.create({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                       "metadata": {"name": f"kratix-worker-{part}", "namespace": "flux-system"}, "spec": spec})
    platform.create({"apiVersion": KRATIX, "kind": "Destination",
                     "metadata": {"name": "worker-1", "labels": {"environment": "dev"}},
                     "spec": {"path": "worker-1", "stateStoreRef": {"name": "default", "kind": "BucketStateStore"}}})
    until(lambda: is_true(platform.get(KRATIX, "Destination", "worker-1"), "Ready"), "Destination worker-1 Ready")
    until(lambda: worker.get("v1", "Namespace", "kratix-worker-system"), "canary namespace on the worker")
    return "worker-1"


# -- quick-start state -------------------------------------------------------------------------------


def test_start_installs_the_quick_start_state(sim: SimPlatform, platform: Kube, worker: Kube) -> None:
    manager = until(lambda: platform.get("apps/v1", "Deployment", "kratix-platform-controller-manager",
                                         "kratix-platform-system"), "manager Deployment")
    assert manager["metadata"]["labels"] == {
        "control-plane": "controller-manager", "app.kubernetes.io/instance": "kratix-platform",
        "app.kubernetes.io/component": "kratix-manager", "app.kubernetes.io/part-of": "kratix"}
    manager = until(lambda: (d := platform.get("apps/v1", "Deployment", "kratix-platform-controller-manager",
                                               "kratix-platform-system")) and is_true(d, "Available") and d,
                    "manager Available")
    assert [c["name"] for c in manager["spec"]["template"]["spec"]["containers"]] == ["manager"]
    crds = {c["metadata"]["name"] for c in platform.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")}
    assert {f"{p}.platform.kratix.io" for p in (
        "promises", "works", "destinations", "workplacements", "bucketstatestores", "gitstatestores",
        "promisereleases", "healthrecords", "promiserevisions", "resourcebindings", "dryruns")} <= crds
    adapter = platform.get("v1", "ConfigMap", "kratix-platform-pipeline-adapter-config", "kratix-platform-system")
    assert adapter is not None
    assert adapter["data"]["PIPELINE_ADAPTER_IMG"]
    minio_svc = platform.get("v1", "Service", "minio", "kratix-platform-system")
    assert minio_svc is not None
    assert minio_svc["spec"]["ports"][0]["nodePort"] == 31337
    until(lambda: [p for p in platform.list("v1", "Pod", "kratix-platform-system", labels={"run": "minio"})
                   if is_true(p, "Ready")], "MinIO pod Ready")
    creds = platform.get("v1", "Secret", "minio-credentials", "default")
    assert creds is not None
    assert base64.b64decode(creds["data"]["accessKeyID"]) == b"minioadmin"
    for name in ("source-controller", "kustomize-controller"):
        until(partial(deployment_ready, worker, name, "flux-system"), f"Flux {name} ready")
    assert worker.has_kind("source.toolkit.fluxcd.io/v1beta2", "Bucket")
    assert worker.has_kind("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
    # Nothing the harness' bootstrap is meant to create exists yet.
    assert platform.get(KRATIX, "BucketStateStore", "default") is None
    assert platform.list(KRATIX, "Destination") == []


def test_registering_a_destination_writes_the_canary_that_flux_applies(
    sim: SimPlatform, platform: Kube, worker: Kube, registered: str
) -> None:
    store = platform.get(KRATIX, "BucketStateStore", "default")
    assert store is not None
    assert store["status"]["status"] == "Ready"
    assert condition(store, "Ready") | {"lastTransitionTime": ""} == {
        "type": "Ready", "status": "True", "reason": "StateStoreReady", "message": "State store is ready",
        "lastTransitionTime": ""}
    dest = platform.get(KRATIX, "Destination", registered)
    assert condition(dest, "Ready")["reason"] == "TestDocumentsWritten"
    assert ("Normal", "DestinationReady", "Destination is Ready", "DestinationController") in \
        events_about(platform, "Destination", registered, None)
    keys = set(sim.bucket.list("kratix", registered))
    assert "worker-1/dependencies/kratix-canary-namespace.yaml" in keys
    assert "worker-1/resources/kratix-canary-configmap.yaml" in keys
    info = until(lambda: worker.get("v1", "ConfigMap", "kratix-info", "kratix-worker-system"), "canary ConfigMap")
    assert info["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "kratix-worker-resources"
    resources = until(lambda: (k := worker.get("kustomize.toolkit.fluxcd.io/v1", "Kustomization",
                                               "kratix-worker-resources", "flux-system")) and is_true(k, "Ready") and k,
                      "resources Kustomization Ready")
    assert condition(resources, "Ready")["message"].startswith("Applied revision: sha256:")
    inventory = resources["status"]["inventory"]["entries"]
    assert {"id": "kratix-worker-system_kratix-info__ConfigMap", "v": "v1"} in inventory


def test_destination_with_a_missing_state_store_is_not_ready(platform: Kube, registered: str) -> None:
    platform.create({"apiVersion": KRATIX, "kind": "Destination", "metadata": {"name": "orphan"},
                     "spec": {"path": "orphan", "stateStoreRef": {"name": "nowhere", "kind": "BucketStateStore"}}})
    try:
        cond = until(lambda: condition(platform.get(KRATIX, "Destination", "orphan"), "Ready") or None,
                     "Destination orphan has a Ready condition")
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "False", "StateStoreNotFound", "BucketStateStore/nowhere: not found")
    finally:
        platform.delete(KRATIX, "Destination", "orphan")


# -- the database promise (Writing a Promise), end to end ----------------------------------------------


def test_database_promise_request_runs_pipelines_and_creates_the_cluster_on_the_worker(
    sim: SimPlatform, platform: Kube, worker: Kube, registered: str
) -> None:
    promise_doc_ = yaml.safe_load((REPO / "promises" / "database" / "promise.yaml").read_text())
    platform.create(promise_doc_)
    promise = until(lambda: (p := platform.get(KRATIX, "Promise", "database")) and
                    p.get("status", {}).get("status") == "Available" and p, "Promise database Available")
    assert set(promise["metadata"]["finalizers"]) >= {
        "kratix.io/api-crd-cleanup", "kratix.io/resource-request-cleanup", "kratix.io/dependencies-cleanup"}
    assert promise["status"]["version"] == "v0.0.1"
    assert promise["status"]["kind"] == "Database"
    assert promise["status"]["apiVersion"] == "demo.kratix.io/v1alpha1"
    assert {c["type"]: (c["status"], c["reason"]) for c in promise["status"]["conditions"]} == {
        "ConfigureWorkflowCompleted": ("True", "PipelinesExecutedSuccessfully"),
        "RequirementsFulfilled": ("True", "RequirementsInstalled"),
        "Available": ("True", "PromiseAvailable"),
        "WorksSucceeded": ("True", "WorksSucceeded"),
        "Reconciled": ("True", "Reconciled"),
    }
    promise_events = events_about(platform, "Promise", "database", None)
    assert ("Normal", "PipelineStarted", "Configure Pipeline started: dependencies", "PromiseController") \
        in promise_events
    assert ("Normal", "Available", "Promise is available", "PromiseController") in promise_events
    crd = platform.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "databases.demo.kratix.io")
    assert crd is not None
    assert crd["metadata"]["labels"]["kratix.io/promise-name"] == "database"
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["message", "status"]
    assert version["schema"]["openAPIV3Schema"]["properties"]["status"]["x-kubernetes-preserve-unknown-fields"]
    promise_job = one(platform.list("batch/v1", "Job", "kratix-platform-system", labels={
        "kratix.io/promise-name": "database", "kratix.io/workflow-type": "promise"}), "promise Job")
    assert re.fullmatch(r"kratix-database-dependencies-[0-9a-f]{5}", promise_job["metadata"]["name"])
    # The dependencies reach the worker through the bucket and Flux; the operator starts there.
    until(lambda: (worker.get("apps/v1", "Deployment", "postgres-operator", "default") or {})
          .get("status", {}).get("readyReplicas") == 1, "postgres-operator ready on the worker")
    assert any(k.startswith("worker-1/dependencies/database/dependencies/") for k in sim.bucket.list("kratix"))

    platform.create(yaml.safe_load((REPO / "promises" / "database" / "example-resource.yaml").read_text()) |
                    {"metadata": {"name": "example-database", "namespace": "default"}})
    request = until(lambda: (r := platform.get("demo.kratix.io/v1alpha1", "Database", "example-database",
                                               "default")) and is_true(r, "Reconciled") and r,
                    "Database example-database Reconciled")
    assert request["status"]["message"] == "Resource requested"
    assert request["status"]["teamId"] == "kratix"  # from the pipeline's status.yaml
    assert {c["type"]: (c["status"], c["reason"], c["message"]) for c in request["status"]["conditions"]} == {
        "ConfigureWorkflowCompleted": ("True", "PipelinesExecutedSuccessfully", "Pipelines completed"),
        "WorksSucceeded": ("True", "WorksSucceeded", "All works associated with this resource are ready"),
        "Reconciled": ("True", "Reconciled", "Reconciled"),
    }
    assert request["metadata"]["labels"]["kratix.io/promise-name"] == "database"
    assert set(request["metadata"]["finalizers"]) == {"kratix.io/work-cleanup", "kratix.io/workflows-cleanup"}
    request_events = events_about(platform, "Database", "example-database", "default")
    for expected in (("Normal", "PipelineStarted", "Configure Pipeline started: database-configure"),
                     ("Normal", "WorksSucceeded", "All works associated with this resource are ready"),
                     ("Normal", "ReconcileSucceeded", "Successfully reconciled")):
        assert (*expected, "ResourceRequestController") in request_events

    job = one(platform.list("batch/v1", "Job", "default", labels={"kratix.io/resource-name": "example-database"}),
              "request Job")
    job_name = job["metadata"]["name"]
    assert re.fullmatch(r"kratix-database-example-database-database-configure-[0-9a-f]{5}", job_name)
    assert is_true(job, "Complete")
    assert job["metadata"]["annotations"]["kratix.io/job-resource-kind"] == "Database"
    pod = one(platform.list("v1", "Pod", "default", labels={"job-name": job_name}), "pipeline pod")
    assert re.fullmatch(re.escape(job_name) + r"-[a-z0-9]{5}", pod["metadata"]["name"])
    labels = pod["metadata"]["labels"]
    assert {k: labels[k] for k in ("kratix.io/promise-name", "kratix.io/pipeline-name", "kratix.io/resource-name",
                                   "kratix.io/workflow-type", "kratix.io/workflow-action",
                                   "app.kubernetes.io/managed-by")} == {
        "kratix.io/promise-name": "database", "kratix.io/pipeline-name": "database-configure",
        "kratix.io/resource-name": "example-database", "kratix.io/workflow-type": "resource",
        "kratix.io/workflow-action": "configure", "app.kubernetes.io/managed-by": "Kratix"}
    assert re.fullmatch(r"[0-9a-f]{32}", labels["kratix.io/hash"])
    spec = pod["spec"]
    assert [c["name"] for c in spec["initContainers"]] == [
        "reader", "kratix-guide-database-resource-pipeline", "work-writer"]
    assert [c["name"] for c in spec["containers"]] == ["status-writer"]
    assert {v["name"] for v in spec["volumes"]} >= {"shared-input", "shared-output", "shared-metadata"}
    user = spec["initContainers"][1]
    env = {e["name"]: e.get("value") for e in user["env"]}
    assert env["KRATIX_WORKFLOW_TYPE"] == "resource"
    assert env["KRATIX_OBJECT_NAME"] == "example-database"
    assert env["KRATIX_PROMISE_NAME"] == "database"
    assert env["KRATIX_PIPELINE_NAME"] == "database-configure"
    assert {"mountPath": "/kratix/input", "name": "shared-input", "readOnly": True} in user["volumeMounts"]
    assert pod["status"]["phase"] == "Succeeded"
    assert [cs["state"]["terminated"]["reason"] for cs in pod["status"]["initContainerStatuses"]] == ["Completed"] * 3
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert "object.yaml" in platform.logs(pod["metadata"]["name"], "default", container="reader")
    assert "Work created" in platform.logs(pod["metadata"]["name"], "default", container="work-writer")

    work = one(platform.list(KRATIX, "Work", "default", labels={"kratix.io/resource-name": "example-database"}),
               "Work")
    assert work["metadata"]["labels"]["kratix.io/work-type"] == "resource"
    assert [w["filepath"] for w in work["spec"]["workloadGroups"][0]["workloads"]] == ["database.yaml"]
    placement = one(platform.list(KRATIX, "WorkPlacement", "default",
                                  labels={"kratix.io/work": work["metadata"]["name"]}), "WorkPlacement")
    assert placement["spec"]["targetDestinationName"] == "worker-1"
    key = "worker-1/resources/default/database/example-database/database-configure/5058f/database.yaml"
    manifest = yaml.safe_load(sim.bucket.get("kratix", key) or b"")
    assert manifest["kind"] == "postgresql"
    assert manifest["metadata"]["name"] == "example-database"

    # The Zalando operator turns the delivered postgresql into a StatefulSet with volumes.
    pg = until(lambda: (p := worker.get("acid.zalan.do/v1", "postgresql", "example-database", "default")) and
               p.get("status", {}).get("PostgresClusterStatus") == "Running" and p, "postgresql Running", 30)
    assert pg["spec"]["teamId"] == "kratix"
    pods = {p["metadata"]["name"]: p for p in worker.list("v1", "Pod", "default", labels={
        "application": "spilo", "cluster-name": "example-database"})}
    assert sorted(pods) == ["example-database-0", "example-database-1"]
    assert pods["example-database-0"]["metadata"]["labels"]["spilo-role"] == "master"
    assert pods["example-database-1"]["metadata"]["labels"]["spilo-role"] == "replica"
    assert pods["example-database-0"]["metadata"]["labels"]["team"] == "kratix"
    pvcs = {p["metadata"]["name"]: p for p in worker.list("v1", "PersistentVolumeClaim", "default")}
    for ordinal in (0, 1):
        pvc = pvcs[f"pgdata-example-database-{ordinal}"]
        assert pvc["status"]["phase"] == "Bound"
        assert pvc["status"]["capacity"]["storage"] == "1Gi"
        pv = worker.get("v1", "PersistentVolume", pvc["spec"]["volumeName"])
        assert pv is not None
        assert pv["spec"]["capacity"]["storage"] == "1Gi"
        assert pv["spec"]["claimRef"]["name"] == pvc["metadata"]["name"]
        assert pv["status"]["phase"] == "Bound"
        assert pv["spec"]["storageClassName"] == "standard"
    assert worker.get("v1", "Secret", "team-a.example-database.credentials.postgresql.acid.zalan.do", "default")
    assert worker.get("v1", "Secret", "postgres.example-database.credentials.postgresql.acid.zalan.do", "default")
    assert worker.get("v1", "Service", "example-database-repl", "default")
    assert worker.get("policy/v1", "PodDisruptionBudget", "postgres-example-database-pdb", "default")

    # A manual reconciliation re-runs the pipeline (a second Job) and Kratix removes the label.
    platform.patch("demo.kratix.io/v1alpha1", "Database", "example-database",
                   {"metadata": {"labels": {"kratix.io/manual-reconciliation": "true"}}}, "default")
    until(lambda: len([j for j in platform.list("batch/v1", "Job", "default",
                                                labels={"kratix.io/resource-name": "example-database"})
                       if is_true(j, "Complete")]) == 2, "second pipeline Job complete")
    assert "kratix.io/manual-reconciliation" not in (platform.get(
        "demo.kratix.io/v1alpha1", "Database", "example-database", "default") or {})["metadata"].get("labels", {})

    # Deleting the request removes its Work; Flux prunes the postgresql; the operator removes the cluster.
    platform.delete("demo.kratix.io/v1alpha1", "Database", "example-database", "default")
    until(lambda: platform.get("demo.kratix.io/v1alpha1", "Database", "example-database", "default") is None,
          "request deleted")
    until(lambda: worker.get("acid.zalan.do/v1", "postgresql", "example-database", "default") is None,
          "postgresql pruned by Flux")
    until(lambda: not worker.list("v1", "Pod", "default", labels={"cluster-name": "example-database"}),
          "cluster pods deleted")
    until(lambda: not [p for p in worker.list("v1", "PersistentVolume")
                       if p["spec"]["claimRef"]["name"].startswith("pgdata-example-database")], "PVs deleted")

    # Deleting the Promise removes its CRD and its dependencies from the worker.
    platform.delete(KRATIX, "Promise", "database")
    until(lambda: platform.get(KRATIX, "Promise", "database") is None, "Promise deleted", 30)
    assert platform.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", "databases.demo.kratix.io") is None
    until(lambda: worker.get("apps/v1", "Deployment", "postgres-operator", "default") is None, "operator pruned")
    assert sorted(sim.bucket.list("kratix", "worker-1")) == [
        "worker-1/dependencies/kratix-canary-namespace.yaml", "worker-1/resources/kratix-canary-configmap.yaml"]


# -- pipeline failures ---------------------------------------------------------------------------------


def _first_pod(platform: Kube, request: str) -> dict[str, Any]:
    pods: list[dict[str, Any]] = until(
        lambda: platform.list("v1", "Pod", "default", labels={"kratix.io/resource-name": request}),
        f"pipeline pod of {request}")
    return pods[0]


def test_a_pipeline_that_really_fails_marks_the_request_failed(platform: Kube, registered: str) -> None:
    # The database resource pipeline reads spec.size; without it the real script raises and exits non-zero.
    platform.create(promise_doc("broken", "kratix-guide/database-resource-pipeline:v0.1.0"))
    until(lambda: (platform.get(KRATIX, "Promise", "broken") or {}).get("status", {}).get("status") == "Available",
          "Promise broken Available")
    platform.create(request_doc("broken", "no-size", {"other": "x"}))
    request = until(lambda: (r := platform.get("test.kratix.io/v1alpha1", "Broken", "no-size", "default")) and
                    condition(r, "ConfigureWorkflowCompleted").get("reason") == "ConfigureWorkflowFailed" and r,
                    "request failed")
    assert condition(request, "ConfigureWorkflowCompleted")["message"] == "A Configure Pipeline has failed: configure"
    assert (condition(request, "Reconciled")["status"], condition(request, "Reconciled")["message"]) == (
        "False", "Failing")
    pod = _first_pod(platform, "no-size")
    assert pod["status"]["phase"] == "Failed"
    step = pod["status"]["initContainerStatuses"][1]
    assert step["name"] == "step"
    assert step["state"]["terminated"]["reason"] == "Error"
    assert step["state"]["terminated"]["exitCode"] != 0
    assert "spec.size" in platform.logs(pod["metadata"]["name"], "default", container="step")
    job = one(platform.list("batch/v1", "Job", "default", labels={"kratix.io/resource-name": "no-size"}), "Job")
    assert (condition(job, "Failed")["status"], condition(job, "Failed")["reason"]) == ("True", "BackoffLimitExceeded")
    assert ("Warning", "ConfigureWorkflowFailed", "A Configure Pipeline has failed: configure",
            "ResourceRequestController") in events_about(platform, "Broken", "no-size", "default")
    platform.delete(KRATIX, "Promise", "broken")
    until(lambda: platform.get(KRATIX, "Promise", "broken") is None, "Promise broken deleted")


def test_injected_container_failure_and_unknown_image(sim: SimPlatform, platform: Kube, registered: str) -> None:
    image = "kratix-workshop/external-notifier:v0.1.0"
    sim.faults.fail_container(image, exit_code=3, message="notifier crashed: connection refused")
    platform.create(promise_doc("faulty", image))
    platform.create(promise_doc("ghost", "example.com/not-declared/anywhere:v9"))
    try:
        for name in ("faulty", "ghost"):
            until(partial(promise_available, platform, name), f"Promise {name} Available")
        platform.create(request_doc("faulty", "crashes", {}))
        platform.create(request_doc("ghost", "never-pulls", {}))
        until(lambda: condition(platform.get("test.kratix.io/v1alpha1", "Faulty", "crashes", "default"),
                                "ConfigureWorkflowCompleted").get("reason") == "ConfigureWorkflowFailed",
              "injected failure reported")
        crashed = _first_pod(platform, "crashes")
        assert crashed["status"]["initContainerStatuses"][1]["state"]["terminated"]["exitCode"] == 3
        assert platform.logs(crashed["metadata"]["name"], "default", container="step") == \
            "notifier crashed: connection refused\n"

        def backoff() -> dict[str, Any] | None:
            pod = _first_pod(platform, "never-pulls")
            waiting = pod["status"]["initContainerStatuses"][1]["state"].get("waiting") or {}
            return pod if waiting.get("reason") == "ImagePullBackOff" else None

        pod = until(backoff, "ImagePullBackOff on the undeclared image")
        waiting = pod["status"]["initContainerStatuses"][1]["state"]["waiting"]
        assert waiting["message"] == 'Back-off pulling image "example.com/not-declared/anywhere:v9"'
        assert pod["status"]["phase"] == "Pending"
        reasons = [e[1] for e in events_about(platform, "Pod", pod["metadata"]["name"], "default")]
        assert "ErrImagePull" in reasons
        assert "BackOff" in reasons
        ghost = platform.get("test.kratix.io/v1alpha1", "Ghost", "never-pulls", "default")
        assert ghost is not None
        assert ghost["status"]["message"] == "Pending"
        assert condition(ghost, "Reconciled")["status"] == "Unknown"
    finally:
        sim.faults.clear()
        for name in ("faulty", "ghost"):
            platform.delete(KRATIX, "Promise", name)
        for name in ("faulty", "ghost"):
            until(partial(gone, platform, KRATIX, "Promise", name), f"Promise {name} deleted")


# -- kubelet faults on the worker ----------------------------------------------------------------------


def _deployment(name: str, image: str, replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}}}


def _pod_of(worker: Kube, app: str) -> dict[str, Any]:
    pods: list[dict[str, Any]] = until(lambda: worker.list("v1", "Pod", "default", labels={"app": app}),
                                       f"pod of {app}")
    return pods[0]


def test_kubelet_faults_unpullable_invalid_and_never_ready(sim: SimPlatform, worker: Kube) -> None:
    sim.faults.unpullable("registry.example.com/team/app:1.0")
    sim.faults.never_ready("worker", r"^stuck-")
    try:
        worker.create(_deployment("pull", "registry.example.com/team/app:1.0"))
        worker.create(_deployment("bad", "Not A Valid:Ref"))
        worker.create(_deployment("stuck", "nginx:1.27"))
        worker.create(_deployment("fine", "nginx:1.27", replicas=2))

        def waiting(app: str, reason: str) -> dict[str, Any] | None:
            pod = _pod_of(worker, app)
            statuses = pod.get("status", {}).get("containerStatuses") or [{}]
            return pod if (statuses[0].get("state", {}).get("waiting") or {}).get("reason") == reason else None

        pull = until(lambda: waiting("pull", "ImagePullBackOff"), "ImagePullBackOff")
        assert "registry.example.com/team/app:1.0" in pull["status"]["containerStatuses"][0]["state"]["waiting"][
            "message"]
        until(lambda: waiting("bad", "InvalidImageName"), "InvalidImageName")
        stuck = until(lambda: (p := _pod_of(worker, "stuck")) and p["status"].get("phase") == "Running" and p,
                      "stuck pod Running")
        fine = until(lambda: (d := worker.get("apps/v1", "Deployment", "fine", "default")) and
                     d.get("status", {}).get("readyReplicas") == 2 and d, "fine Deployment ready")
        assert is_true(fine, "Available")
        assert re.fullmatch(r"stuck-[a-z0-9]{10}-[a-z0-9]{5}", stuck["metadata"]["name"])
        time.sleep(0.5)
        stuck = _pod_of(worker, "stuck")
        assert condition(stuck, "Ready")["status"] == "False"
        assert not stuck["status"]["containerStatuses"][0]["ready"]
        dep = worker.get("apps/v1", "Deployment", "stuck", "default")
        assert dep is not None
        assert condition(dep, "Available")["status"] == "False"
    finally:
        sim.faults.clear()
        for name in ("pull", "bad", "stuck", "fine"):
            worker.delete("apps/v1", "Deployment", name, "default")


# -- the Zalando operator on its own -------------------------------------------------------------------


ZALANDO = UPSTREAM / "zalando-postgres-operator-v2.0.1"


@pytest.mark.skipif(not ZALANDO.is_dir(), reason=f"needs the Zalando operator manifests in {ZALANDO}")
def test_zalando_operator_creates_scales_invalidates_and_leaves_orphans_without_operator(
    sim: SimPlatform, worker: Kube
) -> None:
    crd = yaml.safe_load((ZALANDO / "postgresql.crd.yaml").read_text())
    if worker.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd["metadata"]["name"]) is None:
        worker.create(crd, strict=False)
    until(lambda: worker.has_kind("acid.zalan.do/v1", "postgresql"), "postgresql kind served")
    worker.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pg"}})
    config = yaml.safe_load((ZALANDO / "configmap.yaml").read_text())
    config["metadata"]["namespace"] = "pg"
    config["data"]["enable_team_id_clustername_prefix"] = "true"
    worker.create(config)
    operator = yaml.safe_load((ZALANDO / "postgres-operator.yaml").read_text())
    operator["metadata"]["namespace"] = "pg"
    worker.create(operator)
    until(lambda: (worker.get("apps/v1", "Deployment", "postgres-operator", "pg") or {})
          .get("status", {}).get("readyReplicas") == 1, "operator ready")

    def pg(name: str, instances: int, size: str = "1Gi") -> dict[str, Any]:
        return {"apiVersion": "acid.zalan.do/v1", "kind": "postgresql", "metadata": {"name": name, "namespace": "pg"},
                "spec": {"teamId": "acid", "numberOfInstances": instances, "volume": {"size": size},
                         "users": {"foo_user": []}, "postgresql": {"version": "17"}}}

    def status(name: str) -> str:
        return str(((worker.get("acid.zalan.do/v1", "postgresql", name, "pg") or {}).get("status") or {})
                   .get("PostgresClusterStatus", ""))

    worker.create(pg("acid-one", 1))
    worker.create(pg("noprefix", 1))  # the configuration requires the team prefix
    until(lambda: status("noprefix") == "Invalid", "cluster without team prefix Invalid")
    assert worker.get("apps/v1", "StatefulSet", "noprefix", "pg") is None
    until(lambda: status("acid-one") == "Running", "acid-one Running")
    sts = worker.get("apps/v1", "StatefulSet", "acid-one", "pg")
    assert sts is not None
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == config["data"]["docker_image"]
    assert worker.get("v1", "Secret", "foo-user.acid-one.credentials.postgresql.acid.zalan.do", "pg")

    worker.patch("acid.zalan.do/v1", "postgresql", "acid-one", {"spec": {"numberOfInstances": 2, "volume": {
        "size": "2Gi"}}}, "pg")
    until(lambda: len([p for p in worker.list("v1", "Pod", "pg", labels={"cluster-name": "acid-one"})
                       if is_true(p, "Ready")]) == 2 and status("acid-one") == "Running", "scaled to two pods")
    until(lambda: all(p["status"].get("capacity", {}).get("storage") == "2Gi"
                      for p in worker.list("v1", "PersistentVolumeClaim", "pg",
                                           labels={"cluster-name": "acid-one"})), "volumes resized to 2Gi")

    # Without the operator, deleting the postgresql leaves its StatefulSet, pods and volumes behind.
    worker.delete("apps/v1", "Deployment", "postgres-operator", "pg")
    until(lambda: worker.get("apps/v1", "Deployment", "postgres-operator", "pg") is None, "operator gone")
    time.sleep(0.3)
    worker.delete("acid.zalan.do/v1", "postgresql", "acid-one", "pg")
    time.sleep(0.5)
    assert worker.get("apps/v1", "StatefulSet", "acid-one", "pg") is not None
    assert len(worker.list("v1", "PersistentVolumeClaim", "pg", labels={"cluster-name": "acid-one"})) == 2
    worker.delete("v1", "Namespace", "pg")


# -- secrets in env, spec changes, delete pipelines, scheduling -----------------------------------------


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.received.append(self.rfile.read(length).decode())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP endpoint standing in for the notifier's webhook; yields (url, bodies received)."""
    _Hook.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook.received
    server.shutdown()


def test_secret_env_spec_change_and_delete_pipeline(
    platform: Kube, registered: str, webhook: tuple[str, list[str]]
) -> None:
    url, received = webhook
    image = "kratix-workshop/external-notifier:v0.1.0"
    promise = promise_doc("notify", image, pipeline="notify")
    container = promise["spec"]["workflows"]["resource"]["configure"][0]["spec"]["containers"][0]
    container["env"] = [{"name": "NOTIFIER_WEBHOOK_URL", "valueFrom": {"secretKeyRef": {
        "name": "notifier-webhook", "key": "url", "optional": True}}}]
    promise["spec"]["workflows"]["resource"]["delete"] = [{
        "apiVersion": KRATIX, "kind": "Pipeline", "metadata": {"name": "farewell"},
        "spec": {"containers": [{"name": "goodbye", "image": image}]}}]
    platform.create({"apiVersion": "v1", "kind": "Secret",
                     "metadata": {"name": "notifier-webhook", "namespace": "default"},
                     "type": "Opaque", "data": {"url": base64.b64encode(url.encode()).decode()}})
    platform.create(promise)
    try:
        until(partial(promise_available, platform, "notify"), "Promise notify Available")
        platform.create(request_doc("notify", "alice-db", {"requester": "alice"}))
        until(lambda: is_true(platform.get("test.kratix.io/v1alpha1", "Notify", "alice-db", "default"), "Reconciled"),
              "first run reconciled")
        assert len(received) == 1
        assert "Hello alice" in received[0]

        platform.patch("test.kratix.io/v1alpha1", "Notify", "alice-db", {"spec": {"requester": "bob"}}, "default")
        request = until(lambda: (r := platform.get("test.kratix.io/v1alpha1", "Notify", "alice-db", "default")) and
                        r["status"].get("observedGeneration") == 2 and is_true(r, "Reconciled") and r,
                        "second run for generation 2")
        assert request["metadata"]["finalizers"] == [
            "kratix.io/work-cleanup", "kratix.io/workflows-cleanup", "kratix.io/delete-workflows"]
        assert "Hello bob" in received[-1]
        assert len(platform.list("batch/v1", "Job", "default", labels={"kratix.io/resource-name": "alice-db"})) == 2

        platform.delete("test.kratix.io/v1alpha1", "Notify", "alice-db", "default")
        delete_job = until(lambda: platform.list("batch/v1", "Job", "default", labels={
            "kratix.io/resource-name": "alice-db", "kratix.io/workflow-action": "delete"}), "delete Job")[0]
        assert re.fullmatch(r"kratix-notify-alice-db-farewell-[0-9a-f]{5}", delete_job["metadata"]["name"])
        template = delete_job["spec"]["template"]["spec"]
        assert [c["name"] for c in template["initContainers"]] == ["reader"]
        assert [c["name"] for c in template["containers"]] == ["goodbye"]
        until(partial(gone, platform, "test.kratix.io/v1alpha1", "Notify", "alice-db", "default"),
              "request deleted after its delete pipeline")
        assert ("Normal", "PipelineStarted", "Delete Pipeline started: farewell", "ResourceRequestController") in \
            events_about(platform, "Notify", "alice-db", "default")
    finally:
        platform.delete(KRATIX, "Promise", "notify")
        platform.delete("v1", "Secret", "notifier-webhook", "default")
        until(partial(gone, platform, KRATIX, "Promise", "notify"), "Promise notify deleted")


def test_resource_work_waits_for_a_matching_destination(sim: SimPlatform, platform: Kube, registered: str) -> None:
    promise = promise_doc("placed", "kratix-guide/database-resource-pipeline:v0.1.0")
    promise["spec"]["destinationSelectors"] = [{"matchLabels": {"environment": "prod"}}]
    platform.create(promise)
    try:
        until(partial(promise_available, platform, "placed"), "Promise placed Available")
        platform.create(request_doc("placed", "big", {"size": "5Gi"}))
        work = until(lambda: (w := platform.list(KRATIX, "Work", "default", labels={"kratix.io/resource-name": "big"}))
                     and condition(w[0], "ScheduleSucceeded").get("reason") == "UnscheduledWorkloads" and w[0],
                     "Work unscheduled")
        assert condition(work, "Ready")["message"] == "Pending"
        assert work["spec"]["workloadGroups"][0]["destinationSelectors"] == [
            {"matchLabels": {"environment": "prod"}, "source": "promise"}]
        request = until(lambda: (r := platform.get("test.kratix.io/v1alpha1", "Placed", "big", "default")) and
                        condition(r, "WorksSucceeded") and r, "request waiting for its Work")
        assert condition(request, "WorksSucceeded")["status"] == "Unknown"
        assert condition(request, "Reconciled")["message"] == "Pending"
        assert is_true(request, "ConfigureWorkflowCompleted")
        # A Destination with the label arrives: the Work is placed there (and only there).
        platform.create({"apiVersion": KRATIX, "kind": "Destination",
                         "metadata": {"name": "prod-1", "labels": {"environment": "prod"}},
                         "spec": {"path": "prod-1", "stateStoreRef": {"name": "default", "kind": "BucketStateStore"}}})
        until(lambda: is_true(platform.get("test.kratix.io/v1alpha1", "Placed", "big", "default"), "Reconciled"),
              "request reconciled once placed")
        keys = list(sim.bucket.list("kratix", "prod-1/resources/default/placed/big"))
        assert keys == ["prod-1/resources/default/placed/big/configure/5058f/database.yaml"]
        assert not sim.bucket.list("kratix", "worker-1/resources/default/placed")
    finally:
        platform.delete(KRATIX, "Promise", "placed")
        until(partial(gone, platform, KRATIX, "Promise", "placed"), "Promise placed deleted")
        platform.delete(KRATIX, "Destination", "prod-1")


# -- bad input, diagnostics, units ---------------------------------------------------------------------


def test_start_refuses_a_directory_without_the_kratix_crds(tmp_path: Path) -> None:
    (tmp_path / "crds").mkdir()
    (tmp_path / "crds" / "one.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(BootstrapError, match=r"one\.yaml: expected a CustomResourceDefinition, found ConfigMap"):
        SimPlatform(tmp_path / "work", kratix_crds=tmp_path / "crds").start()
    with pytest.raises(BootstrapError, match="does not exist"):
        SimPlatform(tmp_path / "work", kratix_crds=tmp_path / "missing").start()


def test_flux_reports_a_broken_manifest_by_file_and_recovers(sim: SimPlatform, worker: Kube, registered: str) -> None:
    key = "worker-1/resources/default/hand-written/broken.yaml"
    sim.bucket.put("kratix", key, "apiVersion: v1\nkind: ConfigMap\nmetadata: [not, a, mapping\n")

    def ready() -> dict[str, Any]:
        return condition(worker.get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "kratix-worker-resources",
                                    "flux-system"), "Ready")

    try:
        cond = until(lambda: (c := ready()) and c["reason"] == "BuildFailed" and c, "BuildFailed")
        assert cond["status"] == "False"
        assert "default/hand-written/broken.yaml" in cond["message"]
        assert "\n" not in cond["message"]
    finally:
        sim.bucket.delete("kratix", key)
    until(lambda: ready().get("status") == "True", "Kustomization Ready again")


def test_kratix_log_reaches_the_manager_pod(platform: Kube, registered: str) -> None:
    pod = one(platform.list("v1", "Pod", "kratix-platform-system", labels={"app.kubernetes.io/instance":
                                                                          "kratix-platform"}), "manager pod")
    log = platform.logs(pod["metadata"]["name"], "kratix-platform-system", container="manager")
    first = yaml.safe_load(log.splitlines()[0])
    assert set(first) == {"level", "ts", "logger", "msg"}
    assert "Destination is Ready" in log


def test_bucket_replace_prefix_and_manifest_parsing() -> None:
    bucket = SimBucket(["kratix"])
    bucket.replace_prefix("kratix", "dest/resources/a", {"x.yaml": b"1", "sub/y.yaml": b"2"})
    generation = bucket.generation
    bucket.replace_prefix("kratix", "dest/resources/a", {"x.yaml": b"1", "sub/y.yaml": b"2"})
    assert bucket.generation == generation  # unchanged content is not a new revision
    bucket.replace_prefix("kratix", "dest/resources/a", {"x.yaml": b"1"})
    assert list(bucket.list("kratix")) == ["dest/resources/a/x.yaml"]
    assert bucket.delete_prefix("kratix", "dest/resources") == ["dest/resources/a/x.yaml"]
    with pytest.raises(BucketMissing, match="'nope' does not exist"):
        bucket.put("nope", "k", b"v")
    docs = manifests_under({"p/a.yaml": b"kind: Namespace\napiVersion: v1\nmetadata: {name: n}\n---\n",
                            "p/readme.md": b"# not a manifest"}, "p")
    assert [d["metadata"]["name"] for d in docs] == ["n"]
    with pytest.raises(BuildError, match=r"kustomize build failed: b\.yaml: document 0 is missing kind"):
        manifests_under({"p/b.yaml": b"apiVersion: v1\nmetadata: {name: n}\n"}, "p")
