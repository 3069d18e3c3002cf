"""The simulated Kratix controller manager on the platform cluster.

Reconciles what the real ``kratix-platform-controller-manager`` reconciles, with the names, labels,
conditions, messages and events of Kratix (``../shared/reference/kratix.md`` §4-§7):

* Promise → finalizers, the API's CRD (with Kratix's status injection), static dependencies as a Work,
  promise configure pipelines, then ``Available`` with its conditions and events; deletion removes
  requests, Works (so Flux prunes them), the CRD, then the finalizers.
* Resource requests → configure pipelines in the request's namespace, Works, status from ``status.yaml``,
  conditions and events; re-run on spec change or ``kratix.io/manual-reconciliation=true``; deletion runs
  delete pipelines and removes the Works.

State stores and Destinations: :class:`harness.sim.ctl_kratix_destinations.DestinationController`; Works
are scheduled and written by :class:`harness.sim.ctl_kratix_works.WorkController`; pipelines run through
:class:`harness.sim.ctl_kratix_pipeline.PipelineRunner`. :class:`KratixController` owns them all.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.conditions import condition_is
from harness.kube import Kube, KubeError
from harness.sim.ctl_base import (
    Controller,
    EventRecorder,
    Informer,
    Obj,
    SimContext,
    deleting,
    has_ready_replica,
    labels_of,
    meta,
    name_of,
    now_iso,
    ns_of,
    same_conditions,
    set_condition,
    uid_of,
)
from harness.sim.ctl_kratix_destinations import DestinationController
from harness.sim.ctl_kratix_pipeline import PipelineRun, PipelineRunner, generate_name
from harness.sim.ctl_kratix_works import (
    API,
    PROMISE_LABEL,
    RESOURCE_LABEL,
    SYSTEM_NS,
    WORK_TYPE_LABEL,
    WorkController,
    dependencies_work_groups,
    work_ready,
)

MANAGER = "kratix-platform-controller-manager"
CRD_API = "apiextensions.k8s.io/v1"
MANUAL_RECONCILE = "kratix.io/manual-reconciliation"
RECONCILE_RESOURCES = "kratix.io/reconcile-resources"
PROMISE_VERSION = "kratix.io/promise-version"
PROMISE_FINALIZERS = {
    "requests": "kratix.io/resource-request-cleanup",
    "controller": "kratix.io/dynamic-controller-dependant-resources-cleanup",
    "crd": "kratix.io/api-crd-cleanup",
    "deps": "kratix.io/dependencies-cleanup",
    "jobs": "kratix.io/workflows-cleanup",
    "delete": "kratix.io/delete-workflows",
}
REQUEST_FINALIZERS = {"works": "kratix.io/work-cleanup", "jobs": "kratix.io/workflows-cleanup",
                      "delete": "kratix.io/delete-workflows"}


def pipelines_of(promise: Mapping[str, Any], workflow: str, action: str) -> list[Obj]:
    """``spec.workflows.<workflow>.<action>`` Pipelines of a Promise."""
    found = (((promise.get("spec") or {}).get("workflows") or {}).get(workflow) or {}).get(action) or []
    return [p for p in found if isinstance(p, dict)]


def crd_of(promise: Mapping[str, Any]) -> Obj | None:
    """The CRD Kratix creates from a Promise's ``spec.api``, with its status injection; None without an API."""
    api = (promise.get("spec") or {}).get("api")
    if not api:
        return None
    crd = copy.deepcopy(dict(api))
    crd_meta = crd.setdefault("metadata", {})
    crd_meta["labels"] = {**(crd_meta.get("labels") or {}), PROMISE_LABEL: name_of(promise)}
    for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
        crd_meta.pop(key, None)
    crd.pop("status", None)
    for version in (crd.get("spec") or {}).get("versions") or []:
        version["subresources"] = {**(version.get("subresources") or {}), "status": {}}
        if not version.get("additionalPrinterColumns"):
            version["additionalPrinterColumns"] = [
                {"name": "message", "type": "string", "jsonPath": ".status.message"},
                {"name": "status", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Reconciled")].message'},
            ]
        schema = version.setdefault("schema", {}).setdefault("openAPIV3Schema", {"type": "object"})
        schema.setdefault("properties", {})["status"] = {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {
                "message": {"type": "string"},
                "observedGeneration": {"type": "integer", "format": "int64"},
                "workflows": {"type": "integer", "format": "int64"},
                "workflowsSucceeded": {"type": "integer", "format": "int64"},
                "workflowsFailed": {"type": "integer", "format": "int64"},
                "conditions": {"type": "array", "items": {"type": "object", "properties": {
                    "lastTransitionTime": {"type": "string", "format": "datetime"},
                    "message": {"type": "string"}, "reason": {"type": "string"},
                    "status": {"type": "string"}, "type": {"type": "string"}}}},
                "kratix": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        }
    return crd


def storage_version(crd: Mapping[str, Any]) -> str:
    versions = (crd.get("spec") or {}).get("versions") or []
    for version in versions:
        if version.get("storage"):
            return str(version.get("name"))
    return str(versions[0].get("name")) if versions else "v1"


@dataclass
class Workflow:
    """Sequential execution of one object's pipelines (configure or delete)."""

    action: str
    pipelines: list[Obj]
    generation: int
    promise_generation: int
    index: int = 0
    current: PipelineRun | None = None
    outcome: str = ""  # "" running | Succeeded | Failed | Stuck
    failed_pipeline: str = ""
    finished_at: str = ""
    phases: dict[str, tuple[str, str]] = field(default_factory=dict)  # pipeline -> (phase, time)

    @property
    def running(self) -> bool:
        return not self.outcome

    def pipeline_status(self) -> list[dict[str, Any]]:
        result = []
        for pipeline in self.pipelines:
            phase, stamp = self.phases.get(name_of(pipeline), ("Pending", ""))
            entry: dict[str, Any] = {"name": name_of(pipeline), "phase": phase,
                                     "attempts": 1 if phase != "Pending" else 0}
            if stamp:
                entry["lastTransitionTime"] = stamp
            result.append(entry)
        return result


class KratixController(Controller):
    """Promise, resource-request, Destination and state-store reconcilers of the simulated Kratix."""

    name = "kratix"

    def __init__(self, ctx: SimContext, kube: Kube, *, set_log: Callable[[str, str, str, str], None],
                 workdir: Path) -> None:
        super().__init__(ctx)
        self.kube = kube

        def served(kind: str) -> Callable[[], bool]:
            return lambda: kube.has_kind(API, kind)

        self.promises = Informer(kube, API, "Promise", ctx, ready_check=served("Promise"))
        self.destinations = Informer(kube, API, "Destination", ctx, ready_check=served("Destination"))
        self.bucket_stores = Informer(kube, API, "BucketStateStore", ctx, ready_check=served("BucketStateStore"))
        self.git_stores = Informer(kube, API, "GitStateStore", ctx, ready_check=served("GitStateStore"))
        self.works = Informer(kube, API, "Work", ctx, ready_check=served("Work"))
        self.placements = Informer(kube, API, "WorkPlacement", ctx, ready_check=served("WorkPlacement"))
        self.crds = Informer(kube, CRD_API, "CustomResourceDefinition", ctx)
        self.system_deployments = Informer(kube, "apps/v1", "Deployment", ctx, namespace=SYSTEM_NS)
        self.informers = [self.promises, self.destinations, self.bucket_stores, self.git_stores, self.works,
                          self.placements, self.crds, self.system_deployments]
        self.watch(*self.informers)
        self.promise_events = EventRecorder(kube, "PromiseController", ctx)
        self.request_events = EventRecorder(kube, "ResourceRequestController", ctx)
        self.work_events = EventRecorder(kube, "WorkController", ctx)
        self.runner = PipelineRunner(ctx, kube, set_log=set_log, workdir=workdir / "pipelines",
                                     on_done=self.wake.set)
        self.work_controller = WorkController(ctx, kube, works=self.works, placements=self.placements,
                                              destinations=self.destinations, bucket_stores=self.bucket_stores,
                                              events=self.work_events)
        self.destination_controller = DestinationController(
            ctx, kube, bucket_stores=self.bucket_stores, git_stores=self.git_stores, destinations=self.destinations,
            placements=self.placements, manager_ready=self.manager_ready)
        # Per Promise name: the request informer of its API, and the CRD it was built from.
        self._requests: dict[str, Informer] = {}
        self._applied_crds: dict[str, str] = {}
        self._promise_wf: dict[str, Workflow] = {}  # promise uid -> configure workflow
        self._promise_delete_wf: dict[str, Workflow] = {}
        self._request_wf: dict[str, Workflow] = {}  # request uid -> configure workflow
        self._request_delete_wf: dict[str, Workflow] = {}

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        for informer in self.informers:
            informer.start()
        super().start()
        self.work_controller.start()
        self.destination_controller.start()

    def stop(self) -> None:
        self.runner.shutdown()
        for informer in [*self.informers, *self._requests.values()]:
            informer.stop()

    def join(self, timeout: float) -> None:
        super().join(timeout)
        self.work_controller.join(timeout)
        self.destination_controller.join(timeout)

    def manager_ready(self) -> bool:
        """The simulated Kratix only acts while its Deployment is Available, as the real one would."""
        return has_ready_replica(self.system_deployments.get(MANAGER, SYSTEM_NS))

    def reconcile(self) -> None:
        if not self.manager_ready():
            return
        for promise in self.promises.items():
            self.safely(f"Promise/{name_of(promise)}", self._promise, promise)
        for promise_name, informer in list(self._requests.items()):
            owner = self.promises.get(promise_name)
            if owner is None:
                continue
            for request in informer.items():
                self.safely(f"{request.get('kind')}/{name_of(request)}", self._request, owner, request, informer)

    # -- promises ----------------------------------------------------------------------------------

    def _promise_finalizers(self, promise: Obj) -> list[str]:
        wanted = []
        if crd_of(promise) is not None:
            wanted += [PROMISE_FINALIZERS["requests"], PROMISE_FINALIZERS["controller"], PROMISE_FINALIZERS["crd"]]
        wanted.append(PROMISE_FINALIZERS["deps"])
        if pipelines_of(promise, "promise", "configure") or pipelines_of(promise, "promise", "delete"):
            wanted.append(PROMISE_FINALIZERS["jobs"])
        if pipelines_of(promise, "promise", "delete"):
            wanted.append(PROMISE_FINALIZERS["delete"])
        return wanted

    def _promise(self, promise: Obj) -> None:
        if deleting(promise):
            self._delete_promise(promise)
            return
        name = name_of(promise)
        finalizers = list(meta(promise).get("finalizers") or [])
        missing = [f for f in self._promise_finalizers(promise) if f not in finalizers]
        if missing:
            self.promises.remember(self.kube.patch(API, "Promise", name, {"metadata": {"finalizers": [
                *finalizers, *missing]}}))
            return
        labels = labels_of(promise)
        generation = int(meta(promise).get("generation") or 1)
        if labels.get(RECONCILE_RESOURCES) == "true":
            self.kube.patch(API, "Promise", name, {"metadata": {"labels": {RECONCILE_RESOURCES: None}}})
            if name in self._requests:
                for request in self._requests[name].items():
                    self._request_wf.pop(uid_of(request), None)
        crd = crd_of(promise)
        api_ready = True
        if crd is not None:
            api_ready = self._ensure_crd(promise, crd)
        self._ensure_dependencies_work(promise)
        # Promise configure workflows.
        uid = uid_of(promise)
        pipelines = pipelines_of(promise, "promise", "configure")
        workflow = self._promise_wf.get(uid)
        rerun = labels.get(MANUAL_RECONCILE) == "true"
        if rerun:
            self.promises.remember(self.kube.patch(API, "Promise", name,
                                                   {"metadata": {"labels": {MANUAL_RECONCILE: None}}}))
        if pipelines and (workflow is None or workflow.generation != generation or rerun) and \
                (workflow is None or workflow.current is None or workflow.current.done.is_set()):
            workflow = Workflow("configure", pipelines, generation, generation)
            self._promise_wf[uid] = workflow
        if workflow is not None and pipelines:
            self._advance(workflow, promise, promise, self.promise_events)
        self._promise_status(promise, crd, api_ready, workflow if pipelines else None)

    def _ensure_crd(self, promise: Obj, crd: Obj) -> bool:
        """Create or update the Promise's CRD; True once it is established and its kind is watched."""
        crd_name = name_of(crd)
        desired = json.dumps(crd, sort_keys=True)
        existing = self.crds.get(crd_name)
        if existing is None:
            if self._applied_crds.get(crd_name) != desired:
                self.crds.remember(self.kube.create(crd))
                self._applied_crds[crd_name] = desired
            return False
        if deleting(existing):
            return False
        if self._applied_crds.get(crd_name) != desired:
            body = {**crd, "metadata": {**crd["metadata"], "resourceVersion": meta(existing).get("resourceVersion")}}
            self.crds.remember(self.kube.replace(body))
            self._applied_crds[crd_name] = desired
        if not condition_is(existing, "Established"):
            return False
        promise_name = name_of(promise)
        kind = str(((crd.get("spec") or {}).get("names") or {}).get("kind"))
        api_version = f"{(crd.get('spec') or {}).get('group')}/{storage_version(crd)}"
        informer = self._requests.get(promise_name)
        if informer is None or (informer.api_version, informer.kind) != (api_version, kind):
            if informer is not None:
                informer.stop()
            informer = Informer(self.kube, api_version, kind, self.ctx,
                                ready_check=lambda: self.kube.has_kind(api_version, kind))
            informer.add_listener(self.wake)
            self._requests[promise_name] = informer.start()
            return False
        return informer.synced.is_set()

    def _ensure_dependencies_work(self, promise: Obj) -> None:
        name = name_of(promise)
        deps = (promise.get("spec") or {}).get("dependencies") or []
        existing = [w for w in self.works.items(SYSTEM_NS) if labels_of(w).get(PROMISE_LABEL) == name
                    and labels_of(w).get(WORK_TYPE_LABEL) == "static-dependency"]
        if not deps:
            for work in existing:
                self.kube.delete(API, "Work", name_of(work), SYSTEM_NS)
            return
        spec = {"promiseName": name, "workloadGroups": dependencies_work_groups(promise)}
        if existing:
            current = existing[0].get("spec") or {}
            if current.get("workloadGroups") != spec["workloadGroups"]:
                self.works.remember(self.kube.patch(API, "Work", name_of(existing[0]), {
                    "metadata": {"annotations": {"kratix.io/last-updated-at": now_iso()}}, "spec": spec}, SYSTEM_NS))
            return
        self.works.remember(self.kube.create({
            "apiVersion": API, "kind": "Work",
            "metadata": {"name": generate_name(f"{name}-static-deps"), "namespace": SYSTEM_NS,
                         "labels": {PROMISE_LABEL: name, WORK_TYPE_LABEL: "static-dependency"}},
            "spec": spec,
        }))

    def _promise_works(self, promise: Obj) -> list[Obj]:
        return [w for w in self.works.items(SYSTEM_NS) if labels_of(w).get(PROMISE_LABEL) == name_of(promise)
                and labels_of(w).get(WORK_TYPE_LABEL) in ("static-dependency", "promise") and not deleting(w)]

    def _promise_status(self, promise: Obj, crd: Obj | None, api_ready: bool, workflow: Workflow | None) -> None:
        status = dict(promise.get("status") or {})
        old_conditions = list(status.get("conditions") or [])
        conditions = list(old_conditions)
        generation = int(meta(promise).get("generation") or 1)
        version = labels_of(promise).get(PROMISE_VERSION)
        requirements_ok, requirement_states = self._requirements(promise)
        workflow_done = workflow is None or workflow.outcome == "Succeeded"
        failed = workflow is not None and workflow.outcome == "Failed"
        if workflow is not None:
            if workflow.outcome == "Succeeded":
                conditions = set_condition(conditions, "ConfigureWorkflowCompleted", "True",
                                           "PipelinesExecutedSuccessfully", "Pipelines completed")
            elif failed:
                conditions = set_condition(conditions, "ConfigureWorkflowCompleted", "False", "ConfigureWorkflowFailed",
                                           f"A Configure Pipeline has failed: {workflow.failed_pipeline}")
            else:
                conditions = set_condition(conditions, "ConfigureWorkflowCompleted", "False", "PipelinesInProgress",
                                           "Pipelines are still in progress")
        conditions = set_condition(conditions, "RequirementsFulfilled", "True" if requirements_ok else "False",
                                   "RequirementsInstalled" if requirements_ok else "RequirementsNotInstalled",
                                   "Requirements fulfilled" if requirements_ok else "Requirements not fulfilled")
        available = workflow_done and requirements_ok and api_ready
        conditions = set_condition(conditions, "Available", "True" if available else "False",
                                   "PromiseAvailable" if available else "PromiseUnavailable",
                                   "Ready to fulfil resource requests" if available
                                   else "Cannot fulfil resource requests")
        works = self._promise_works(promise)
        works_ok = all(work_ready(w) for w in works)
        if workflow_done:
            conditions = set_condition(conditions, "WorksSucceeded", "True" if works_ok else "Unknown",
                                       "WorksSucceeded" if works_ok else "WorksPending",
                                       "All works associated with this promise are ready" if works_ok
                                       else "Some works associated with this promise are not ready")
        if failed:
            conditions = set_condition(conditions, "Reconciled", "False", "ConfigureWorkflowFailed", "Failing")
        elif not workflow_done or not api_ready:
            conditions = set_condition(conditions, "Reconciled", "Unknown", "WorkflowPending", "Pending")
        elif not requirements_ok:
            conditions = set_condition(conditions, "Reconciled", "Unknown", "RequirementsNotFulfilled", "Pending")
        elif not works_ok:
            conditions = set_condition(conditions, "Reconciled", "Unknown", "WorksPending", "Pending")
        else:
            conditions = set_condition(conditions, "Reconciled", "True", "Reconciled", "Reconciled")
        state = "Available" if available else "Unavailable"
        kratix = dict(status.get("kratix") or {})
        kratix["status"] = state
        if version:
            kratix["version"] = version
        pipelines = pipelines_of(promise, "promise", "configure")
        new: dict[str, Any] = {
            "status": state, "conditions": conditions, "observedGeneration": generation,
            "workflows": len(pipelines),
            "workflowsSucceeded": len(pipelines) if workflow_done and workflow is not None else 0,
            "workflowsFailed": 1 if failed else 0,
        }
        if requirement_states:
            new["requiredPromises"] = requirement_states
        if version:
            new["version"] = version
        if crd is not None:
            group = (crd.get("spec") or {}).get("group")
            new["kind"] = ((crd.get("spec") or {}).get("names") or {}).get("kind")
            new["apiVersion"] = f"{group}/{storage_version(crd)}"
            kratix["kind"], kratix["apiVersion"] = new["kind"], new["apiVersion"]
        if workflow is not None:
            kratix["workflows"] = {"pipelines": workflow.pipeline_status()}
            if workflow.outcome == "Succeeded" and status.get("message") in (None, "", "Pending"):
                new["message"] = "Promise configured"
            elif workflow.running and not status.get("message"):
                new["message"] = "Pending"
        if available and status.get("status") != "Available":
            new["lastAvailableTime"] = now_iso()
            kratix["lastAvailableTime"] = new["lastAvailableTime"]
        new["kratix"] = kratix
        if all((same_conditions(status.get(k) or [], v) if k == "conditions" else status.get(k) == v)
               for k, v in new.items()):
            return
        # Events first: whoever sees the new status can already read the events that explain it.
        self._transition_events(promise, old_conditions, conditions, self.promise_events, "promise")
        if available and status.get("status") != "Available":
            self.promise_events.event(promise, "Normal", "Available", "Promise is available")
        elif not available and status.get("status") == "Available":
            self.promise_events.event(promise, "Warning", "Unavailable", "Promise no longer available")
        self.promises.remember(self.kube.patch(API, "Promise", name_of(promise), {"status": new},
                                               subresource="status"))

    def _requirements(self, promise: Obj) -> tuple[bool, list[dict[str, str]]]:
        states = []
        ok = True
        for required in (promise.get("spec") or {}).get("requiredPromises") or []:
            other = self.promises.get(str(required.get("name")))
            version = str(required.get("version") or "")
            if other is None:
                state = "Requirement not installed"
            elif version and labels_of(other).get(PROMISE_VERSION) != version:
                state = "Requirement not installed at the specified version"
            elif (other.get("status") or {}).get("status") != "Available":
                state = "Requirement not available"
            else:
                state = "Requirement installed"
            ok = ok and state == "Requirement installed"
            states.append({"name": str(required.get("name")), "version": version, "state": state})
        return ok, states

    def _transition_events(self, obj: Obj, old: list[dict[str, Any]], new: list[dict[str, Any]],
                           recorder: EventRecorder, noun: str) -> None:
        def status_of(conds: list[dict[str, Any]], type_: str) -> tuple[str, str]:
            for cond in conds:
                if cond.get("type") == type_:
                    return str(cond.get("status")), str(cond.get("reason"))
            return "", ""

        if status_of(new, "ConfigureWorkflowCompleted") == ("True", "PipelinesExecutedSuccessfully") and \
                status_of(old, "ConfigureWorkflowCompleted")[0] != "True" and noun == "promise":
            recorder.event(obj, "Normal", "ConfigureWorkflowCompleted", "All workflows completed")
        if status_of(new, "ConfigureWorkflowCompleted")[1] == "ConfigureWorkflowFailed" and \
                status_of(old, "ConfigureWorkflowCompleted")[1] != "ConfigureWorkflowFailed":
            cond = next(c for c in new if c.get("type") == "ConfigureWorkflowCompleted")
            recorder.event(obj, "Warning", "ConfigureWorkflowFailed", str(cond.get("message")))
        if status_of(new, "WorksSucceeded")[0] == "True" and status_of(old, "WorksSucceeded")[0] != "True":
            recorder.event(obj, "Normal", "WorksSucceeded", f"All works associated with this {noun} are ready")
        if status_of(new, "Reconciled")[0] == "True" and status_of(old, "Reconciled")[0] != "True":
            recorder.event(obj, "Normal", "ReconcileSucceeded", "Successfully reconciled")

    def _delete_promise(self, promise: Obj) -> None:
        name = name_of(promise)
        finalizers = list(meta(promise).get("finalizers") or [])
        configure = self._promise_wf.get(uid_of(promise))
        if configure is not None and configure.current is not None and not configure.current.done.is_set():
            return  # its Work would appear after the cleanup: let the running pipeline finish first
        # 1. Resource requests (their own delete pipelines run first).
        informer = self._requests.get(name)
        if informer is not None and PROMISE_FINALIZERS["requests"] in finalizers:
            remaining = informer.items()
            for request in remaining:
                if not deleting(request):
                    self.kube.delete(str(request["apiVersion"]), str(request["kind"]), name_of(request),
                                     ns_of(request))
            if remaining:
                return
        # 2. Promise delete pipelines.
        delete_pipelines = pipelines_of(promise, "promise", "delete")
        if delete_pipelines and PROMISE_FINALIZERS["delete"] in finalizers:
            workflow = self._promise_delete_wf.get(uid_of(promise))
            if workflow is None:
                workflow = Workflow("delete", delete_pipelines, 0, 0)
                self._promise_delete_wf[uid_of(promise)] = workflow
            self._advance(workflow, promise, promise, self.promise_events)
            if workflow.outcome != "Succeeded":
                return
        # 3. Works (static dependencies and promise workflow output): WorkPlacements go, Flux prunes.
        works = [w for w in self.works.items(SYSTEM_NS) if labels_of(w).get(PROMISE_LABEL) == name]
        for work in works:
            if not deleting(work):
                self.kube.delete(API, "Work", name_of(work), SYSTEM_NS)
        if works:
            return
        # 4. The API's CRD.
        crd = crd_of(promise)
        if crd is not None and self.crds.get(name_of(crd)) is not None:
            self.kube.delete(CRD_API, "CustomResourceDefinition", name_of(crd))
            return
        if informer is not None:
            informer.stop()
            self._requests.pop(name, None)
        if crd is not None:
            self._applied_crds.pop(name_of(crd), None)
        # 5. Workflow Jobs, then the finalizers.
        for job in self.kube.list("batch/v1", "Job", labels={PROMISE_LABEL: name,
                                                             "kratix.io/workflow-type": "promise"}):
            self.kube.delete("batch/v1", "Job", name_of(job), ns_of(job))
        mine = set(PROMISE_FINALIZERS.values())
        self.kube.patch(API, "Promise", name, {"metadata": {"finalizers": [
            f for f in finalizers if f not in mine] or None}})
        self._promise_wf.pop(uid_of(promise), None)
        self._promise_delete_wf.pop(uid_of(promise), None)

    # -- workflows ---------------------------------------------------------------------------------

    def _advance(self, workflow: Workflow, promise: Obj, obj: Obj, recorder: EventRecorder) -> None:
        """Move a workflow on: start the next pipeline, or record how the current one ended."""
        while workflow.running:
            current = workflow.current
            if current is not None:
                if not current.done.is_set():
                    return
                workflow.phases[current.pipeline_name] = (
                    {"Succeeded": "Succeeded", "Failed": "Failed"}.get(current.outcome, "Running"), now_iso())
                if current.outcome != "Succeeded":
                    workflow.outcome = current.outcome
                    workflow.failed_pipeline = current.pipeline_name
                    return
                workflow.current = None
                workflow.index += 1
            if workflow.index >= len(workflow.pipelines):
                workflow.outcome = "Succeeded"
                workflow.finished_at = now_iso()
                return
            pipeline = workflow.pipelines[workflow.index]
            crd = crd_of(promise) or {}
            is_resource = obj is not promise
            run = PipelineRun(
                promise=copy.deepcopy(promise), obj=copy.deepcopy(obj), pipeline=pipeline,
                workflow_type="resource" if is_resource else "promise", action=workflow.action,
                crd_plural=str(((crd.get("spec") or {}).get("names") or {}).get("plural") or "promises"),
                cluster_scoped=(not is_resource) or (crd.get("spec") or {}).get("scope") == "Cluster",
                is_last=workflow.index == len(workflow.pipelines) - 1,
            )
            self.runner.submit(run)
            workflow.current = run
            workflow.phases[name_of(pipeline)] = ("Running", now_iso())
            verb = "Configure" if workflow.action == "configure" else "Delete"
            recorder.event(obj, "Normal", "PipelineStarted", f"{verb} Pipeline started: {name_of(pipeline)}")
            return

    # -- resource requests -------------------------------------------------------------------------

    def _request(self, promise: Obj, request: Obj, informer: Informer) -> None:
        if deleting(request):
            self._delete_request(promise, request)
            return
        if (promise.get("status") or {}).get("status") != "Available" or deleting(promise):
            return
        api_version, kind, name, ns = str(request["apiVersion"]), str(request["kind"]), name_of(request), \
            ns_of(request)
        finalizers = list(meta(request).get("finalizers") or [])
        wanted = [REQUEST_FINALIZERS["works"], REQUEST_FINALIZERS["jobs"]]
        if pipelines_of(promise, "resource", "delete"):
            wanted.append(REQUEST_FINALIZERS["delete"])
        labels = labels_of(request)
        if [f for f in wanted if f not in finalizers] or labels.get(PROMISE_LABEL) != name_of(promise):
            informer.remember(self.kube.patch(api_version, kind, name, {"metadata": {
                "finalizers": [*finalizers, *(f for f in wanted if f not in finalizers)],
                "labels": {PROMISE_LABEL: name_of(promise)}}}, ns))
            return
        uid = uid_of(request)
        generation = int(meta(request).get("generation") or 1)
        promise_generation = int(meta(promise).get("generation") or 1)
        pipelines = pipelines_of(promise, "resource", "configure")
        workflow = self._request_wf.get(uid)
        rerun = labels.get(MANUAL_RECONCILE) == "true"
        if rerun:
            informer.remember(self.kube.patch(api_version, kind, name,
                                              {"metadata": {"labels": {MANUAL_RECONCILE: None}}}, ns))
        stale = workflow is None or workflow.generation != generation or \
            workflow.promise_generation != promise_generation or rerun
        if stale and (workflow is None or workflow.current is None or workflow.current.done.is_set()):
            workflow = Workflow("configure", pipelines, generation, promise_generation)
            self._request_wf[uid] = workflow
            if pipelines:
                self._request_status(request, informer, workflow, starting=True)
        if workflow is None:
            return
        self._advance(workflow, promise, request, self.request_events)
        current = informer.get(name, ns) or request
        self._request_status(current, informer, workflow)

    def _request_works(self, promise: Obj, request: Obj) -> list[Obj]:
        return [w for w in self.works.items(ns_of(request))
                if labels_of(w).get(PROMISE_LABEL) == name_of(promise)
                and labels_of(w).get(RESOURCE_LABEL) == name_of(request) and not deleting(w)]

    def _request_status(self, request: Obj, informer: Informer, workflow: Workflow, *, starting: bool = False) -> None:
        status = dict(request.get("status") or {})
        old_conditions = list(status.get("conditions") or [])
        conditions = list(old_conditions)
        promise = self.promises.get(labels_of(request).get(PROMISE_LABEL, "")) or {}
        new: dict[str, Any] = {}
        kratix = dict(status.get("kratix") or {})
        workflows = dict(kratix.get("workflows") or {})
        if starting:
            new["message"] = "Pending"
            conditions = set_condition(conditions, "ConfigureWorkflowCompleted", "False", "PipelinesInProgress",
                                       "Pipelines are still in progress")
            conditions = set_condition(conditions, "Reconciled", "Unknown", "WorkflowPending", "Pending")
        elif workflow.outcome == "Failed":
            conditions = set_condition(conditions, "ConfigureWorkflowCompleted", "False", "ConfigureWorkflowFailed",
                                       f"A Configure Pipeline has failed: {workflow.failed_pipeline}")
            conditions = set_condition(conditions, "Reconciled", "False", "ConfigureWorkflowFailed", "Failing")
        elif workflow.outcome == "Succeeded":
            conditions = set_condition(conditions, "ConfigureWorkflowCompleted", "True",
                                       "PipelinesExecutedSuccessfully", "Pipelines completed")
            works_ok = all(work_ready(w) for w in self._request_works(promise, request))
            conditions = set_condition(conditions, "WorksSucceeded", "True" if works_ok else "Unknown",
                                       "WorksSucceeded" if works_ok else "WorksPending",
                                       "All works associated with this resource are ready" if works_ok
                                       else "Some works associated with this resource are not ready")
            if works_ok:
                conditions = set_condition(conditions, "Reconciled", "True", "Reconciled", "Reconciled")
            else:
                conditions = set_condition(conditions, "Reconciled", "Unknown", "WorksPending", "Pending")
            new["observedGeneration"] = workflow.generation
            workflows["lastSuccessfulConfigureWorkflowTime"] = workflow.finished_at
            if not workflow.pipelines and status.get("message") in (None, "", "Pending"):
                new["message"] = "Resource requested"
        workflows["pipelines"] = workflow.pipeline_status()
        kratix["workflows"] = workflows
        new["kratix"] = kratix
        new["conditions"] = conditions
        if all((same_conditions(status.get(k) or [], v) if k == "conditions" else status.get(k) == v)
               for k, v in new.items()):
            return
        self._transition_events(request, old_conditions, conditions, self.request_events, "resource")
        informer.remember(self.kube.patch(str(request["apiVersion"]), str(request["kind"]), name_of(request),
                                          {"status": new}, ns_of(request), subresource="status"))

    def _delete_request(self, promise: Obj, request: Obj) -> None:
        finalizers = list(meta(request).get("finalizers") or [])
        mine = set(REQUEST_FINALIZERS.values())
        if not mine & set(finalizers):
            return
        uid = uid_of(request)
        configure = self._request_wf.get(uid)
        if configure is not None and configure.current is not None and not configure.current.done.is_set():
            return  # a running configure pipeline would write its Work after the cleanup: let it finish first
        delete_pipelines = pipelines_of(promise, "resource", "delete")
        if delete_pipelines and REQUEST_FINALIZERS["delete"] in finalizers:
            workflow = self._request_delete_wf.get(uid)
            if workflow is None:
                workflow = Workflow("delete", delete_pipelines, 0, 0)
                self._request_delete_wf[uid] = workflow
            self._advance(workflow, promise, request, self.request_events)
            if workflow.outcome == "Failed":
                self._delete_failed(request, workflow)
                return
            if workflow.outcome != "Succeeded":
                return
        works = [w for w in self.works.items(ns_of(request)) if labels_of(w).get(PROMISE_LABEL) == name_of(promise)
                 and labels_of(w).get(RESOURCE_LABEL) == name_of(request)]
        for work in works:
            if not deleting(work):
                self.kube.delete(API, "Work", name_of(work), ns_of(work))
        if works:
            return
        try:
            jobs = self.kube.list("batch/v1", "Job", ns_of(request), labels={
                PROMISE_LABEL: name_of(promise), RESOURCE_LABEL: name_of(request)})
        except KubeError:
            jobs = []
        for job in jobs:
            self.kube.delete("batch/v1", "Job", name_of(job), ns_of(job))
        self.kube.patch(str(request["apiVersion"]), str(request["kind"]), name_of(request),
                        {"metadata": {"finalizers": [f for f in finalizers if f not in mine] or None}},
                        ns_of(request))
        self._request_wf.pop(uid, None)
        self._request_delete_wf.pop(uid, None)

    def _delete_failed(self, request: Obj, workflow: Workflow) -> None:
        status = request.get("status") or {}
        conditions = set_condition(list(status.get("conditions") or []), "DeleteWorkflowCompleted", "False",
                                   "DeleteWorkflowFailed", f"A Delete Pipeline has failed: {workflow.failed_pipeline}")
        if same_conditions(status.get("conditions") or [], conditions):
            return
        self.kube.patch(str(request["apiVersion"]), str(request["kind"]), name_of(request),
                        {"status": {"conditions": conditions}}, ns_of(request), subresource="status")
        self.request_events.event(request, "Warning", "DeleteWorkflowFailed",
                                  f"A Delete Pipeline has failed: {workflow.failed_pipeline}")
