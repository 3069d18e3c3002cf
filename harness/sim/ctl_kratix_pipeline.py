"""Kratix pipeline Jobs on the simulated platform: built as Kratix builds them, run container by container.

:func:`build_job` produces the Job (names, labels, annotations, pod template with ``reader``, the user
containers and ``work-writer`` as init containers and ``status-writer`` as the main container, the three
emptyDir volumes, ``KRATIX_*`` env). :class:`PipelineRunner` creates it with its Pod and then plays the
kubelet: each user container runs for real through :func:`harness.pipeline_local.run_container_locally`
in temporary Kratix directories, while the Pod's status moves through ``Init:N/M`` to ``Completed`` (or
``Error``, or ``ErrImagePull``/``ImagePullBackOff`` for an image nobody declared). The Kratix-owned
containers are simulated: ``reader`` writes ``object.yaml``, ``work-writer`` creates the Work,
``status-writer`` merges ``status.yaml`` into the object's status.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.kube import Kube, KubeError
from harness.sim.ctl_base import (
    EventRecorder,
    Obj,
    SimContext,
    labels_of,
    name_of,
    now_iso,
    ns_of,
    owner_ref,
    random_suffix,
    uid_of,
)
from harness.sim.ctl_kratix_works import (
    API,
    PIPELINE_LABEL,
    PROMISE_LABEL,
    RESOURCE_LABEL,
    SYSTEM_NS,
    WORK_TYPE_LABEL,
    PipelineOutputError,
    workload_groups,
)
from harness.sim.kubelet import image_pull_waiting, invalid_image_waiting, node_name, valid_image_ref

#: the Kratix image every Kratix-owned container runs (reader, work-writer, status-writer)
PIPELINE_ADAPTER_IMG = "syntasso/kratix-platform-pipeline-adapter:v0.0.0-sim"
MAX_BASE_NAME = 63 - 1 - 5  # Kratix's objectutil: room for "-" and a 5-character suffix
STEP = 0.1  # seconds (at speed 1.0) the kubelet takes between container transitions
BACKOFF = 0.4  # ErrImagePull → ImagePullBackOff
CONTAINER_TIMEOUT = 180.0

_KRATIX_RESOURCES = {"limits": {"cpu": "200m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}
_KRATIX_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                    "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def generate_name(base: str) -> str:
    """Kratix's ``GenerateObjectName``: base cut to 56 characters when longer than 57, plus ``-<5 hex>``."""
    if len(base) > MAX_BASE_NAME:
        base = base[: MAX_BASE_NAME - 1]
    return f"{base}-{uuid.uuid4().hex[:5]}"


def spec_hash(*objs: Mapping[str, Any]) -> str:
    """The ``kratix.io/hash`` label: a digest of the specs that define the workflow's input."""
    digest = hashlib.md5()
    for obj in objs:
        digest.update(json.dumps(obj.get("spec") or {}, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass
class PipelineRun:
    """One execution of one Pipeline of a Promise for one object (the Promise or a resource request)."""

    promise: Obj
    obj: Obj
    pipeline: Obj
    workflow_type: str  # promise | resource
    action: str  # configure | delete
    crd_plural: str
    cluster_scoped: bool
    is_last: bool
    namespace: str = ""
    job_name: str = ""
    pod_name: str = ""
    outcome: str = ""  # "" while running; Succeeded | Failed | Stuck
    message: str = ""
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def pipeline_name(self) -> str:
        return name_of(self.pipeline)

    @property
    def promise_name(self) -> str:
        return name_of(self.promise)

    def finish(self, outcome: str, message: str = "") -> None:
        self.outcome = outcome
        self.message = message
        self.done.set()


def kratix_env(run: PipelineRun) -> list[dict[str, str]]:
    """The ``KRATIX_*`` variables Kratix gives every pipeline container."""
    group, version = split_api_version(str(run.obj.get("apiVersion", "")))
    return [
        {"name": "KRATIX_WORKFLOW_ACTION", "value": run.action},
        {"name": "KRATIX_WORKFLOW_TYPE", "value": run.workflow_type},
        {"name": "KRATIX_PROMISE_NAME", "value": run.promise_name},
        {"name": "KRATIX_PIPELINE_NAME", "value": run.pipeline_name},
        {"name": "KRATIX_OBJECT_KIND", "value": str(run.obj.get("kind", "")).lower()},
        {"name": "KRATIX_OBJECT_GROUP", "value": group},
        {"name": "KRATIX_OBJECT_NAME", "value": name_of(run.obj)},
        {"name": "KRATIX_OBJECT_VERSION", "value": version},
        {"name": "KRATIX_OBJECT_NAMESPACE", "value": ns_of(run.obj) or ""},
        {"name": "KRATIX_CRD_PLURAL", "value": run.crd_plural},
        {"name": "KRATIX_CLUSTER_SCOPED", "value": "true" if run.cluster_scoped else "false"},
    ]


def service_account_name(run: PipelineRun) -> str:
    return f"{run.promise_name}-{run.workflow_type}-{run.action}-{run.pipeline_name}"


def job_labels(run: PipelineRun) -> dict[str, str]:
    labels = {
        PROMISE_LABEL: run.promise_name,
        "kratix.io/workflow-type": run.workflow_type,
        "kratix.io/workflow-action": run.action,
        PIPELINE_LABEL: run.pipeline_name,
        "app.kubernetes.io/managed-by": "Kratix",
        "kratix.io/hash": spec_hash(run.promise, run.obj) if run.workflow_type == "resource" else spec_hash(run.obj),
    }
    if run.workflow_type == "resource":
        labels[RESOURCE_LABEL] = name_of(run.obj)
    labels.update(labels_of(run.pipeline))
    return labels


def build_job(run: PipelineRun) -> Obj:
    """The Job Kratix creates for ``run`` (sets ``run.namespace`` and ``run.job_name``)."""
    config_ns = ((run.promise.get("spec") or {}).get("workflows") or {}).get("config", {}).get("pipelineNamespace")
    if run.workflow_type == "promise":
        run.namespace = str(config_ns or SYSTEM_NS)
        base = f"kratix-{run.promise_name}-{run.pipeline_name}"
    else:
        run.namespace = str(config_ns or ns_of(run.obj) or "default")
        extra = f"-{ns_of(run.obj)}" if config_ns else ""
        base = f"kratix-{run.promise_name}-{name_of(run.obj)}{extra}-{run.pipeline_name}"
    run.job_name = generate_name(base)
    pspec = run.pipeline.get("spec") or {}
    env = kratix_env(run)
    shared_mounts = [
        {"mountPath": "/kratix/input", "name": "shared-input", "readOnly": True},
        {"mountPath": "/kratix/output", "name": "shared-output"},
        {"mountPath": "/kratix/metadata", "name": "shared-metadata"},
    ]
    user = []
    for c in pspec.get("containers") or []:
        container = {
            "name": c.get("name"),
            "image": c.get("image"),
            "env": [*env, *(c.get("env") or [])],
            "volumeMounts": [*shared_mounts, *(c.get("volumeMounts") or [])],
            "imagePullPolicy": c.get("imagePullPolicy") or "IfNotPresent",
            "securityContext": c.get("securityContext") or {"allowPrivilegeEscalation": False,
                                                            "capabilities": {"drop": ["ALL"]}},
        }
        for key in ("command", "args", "envFrom", "resources"):
            if c.get(key):
                container[key] = copy.deepcopy(c[key])
        user.append(container)
    reader = {
        "name": "reader", "image": PIPELINE_ADAPTER_IMG, "command": ["sh", "-c", "reader"],
        "env": [*env, {"name": "KRATIX_WORKFLOW_TYPE", "value": run.workflow_type}],
        "volumeMounts": [{"mountPath": "/kratix/input", "name": "shared-input"},
                         {"mountPath": "/kratix/output", "name": "shared-output"}],
        "resources": _KRATIX_RESOURCES, "securityContext": _KRATIX_SECURITY, "imagePullPolicy": "IfNotPresent",
    }
    writer_args = (f"work-creator -input-directory /work-creator-files -promise-name {run.promise_name} "
                   f"-pipeline-name {run.pipeline_name} -namespace {run.namespace} "
                   f"-workflow-type {run.workflow_type}")
    if run.workflow_type == "resource":
        writer_args += f" -resource-name {name_of(run.obj)}"
    work_writer = {
        "name": "work-writer", "image": PIPELINE_ADAPTER_IMG, "command": ["sh", "-c", writer_args],
        "volumeMounts": [{"mountPath": "/work-creator-files/input", "name": "shared-output"},
                         {"mountPath": "/work-creator-files/metadata", "name": "shared-metadata"},
                         {"mountPath": "/work-creator-files/kratix-system", "name": "promise-scheduling"}],
        "resources": _KRATIX_RESOURCES, "securityContext": _KRATIX_SECURITY, "imagePullPolicy": "IfNotPresent",
    }
    status_writer = {
        "name": "status-writer", "image": PIPELINE_ADAPTER_IMG, "command": ["sh", "-c", "update-status"],
        "env": env, "volumeMounts": [{"mountPath": "/work-creator-files/metadata", "name": "shared-metadata"}],
        "resources": _KRATIX_RESOURCES, "securityContext": _KRATIX_SECURITY, "imagePullPolicy": "IfNotPresent",
    }
    volumes: list[dict[str, Any]] = []
    if run.action == "configure":
        init = [reader, *user, work_writer]
        main = [status_writer]
        volumes.append({"name": "promise-scheduling", "configMap": {
            "name": f"destination-selectors-{run.promise_name}",
            "items": [{"key": "destinationSelectors", "path": "promise-scheduling"}]}})
    else:
        init = [reader, *user[:-1]]
        main = user[-1:]
    volumes += [{"name": n, "emptyDir": {}} for n in ("shared-input", "shared-output", "shared-metadata")]
    volumes += copy.deepcopy(pspec.get("volumes") or [])
    labels = job_labels(run)
    job_opts = pspec.get("jobOptions") or {}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": run.job_name, "namespace": run.namespace, "labels": labels,
            "annotations": {
                "kratix.io/job-resource-name": name_of(run.obj),
                "kratix.io/job-resource-namespace": ns_of(run.obj) or "",
                "kratix.io/job-resource-kind": str(run.obj.get("kind", "")),
                "kratix.io/job-resource-api-version": str(run.obj.get("apiVersion", "")),
            },
            "ownerReferences": [owner_ref(run.obj)],
        },
        "spec": {
            "backoffLimit": int(job_opts.get("backoffLimit", 6)),
            "completions": 1,
            "parallelism": 1,
            "template": {
                "metadata": {"labels": labels, "annotations": dict((run.pipeline.get("metadata") or {})
                                                                   .get("annotations") or {})},
                "spec": {
                    "restartPolicy": "OnFailure",
                    "serviceAccountName": service_account_name(run),
                    "initContainers": init,
                    "containers": main,
                    "volumes": volumes,
                    "imagePullSecrets": copy.deepcopy(pspec.get("imagePullSecrets") or []),
                },
            },
        },
    }


class StuckContainer(Exception):
    """The container cannot start (image pull, config error): it waits with this reason forever."""

    def __init__(self, waiting: dict[str, str], backoff: dict[str, str] | None = None) -> None:
        self.waiting = waiting
        self.backoff = backoff
        super().__init__(waiting["message"])


@dataclass
class _ContainerState:
    name: str
    image: str
    init: bool
    state: dict[str, Any] = field(default_factory=lambda: {"waiting": {"reason": "PodInitializing"}})

    def status(self) -> dict[str, Any]:
        running = "running" in self.state
        succeeded = (self.state.get("terminated") or {}).get("exitCode") == 0
        return {"name": self.name, "image": self.image, "imageID": "", "restartCount": 0,
                "ready": running or (self.init and succeeded), "started": running,
                "state": copy.deepcopy(self.state)}


class PipelineRunner:
    """Creates pipeline Jobs and Pods and runs them on a small thread pool.

    Args:
        ctx: shared context.
        kube: the platform cluster.
        set_log: ``(namespace, pod, container, text)``, how container logs reach ``kubectl logs``.
        workdir: where each run's Kratix directories live (kept for diagnostics).
        on_done: called (from the runner thread) when a run finishes, to wake the controller.
    """

    def __init__(self, ctx: SimContext, kube: Kube, *, set_log: Callable[[str, str, str, str], None], workdir: Path,
                 on_done: Callable[[], None]) -> None:
        self.ctx = ctx
        self.kube = kube
        self.set_log = set_log
        self.workdir = workdir
        self.on_done = on_done
        self.job_events = EventRecorder(kube, "job-controller", ctx)
        self.kubelet_events = EventRecorder(kube, "kubelet", ctx)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sim-pipeline")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, run: PipelineRun) -> None:
        """Create the run's Job (and its ServiceAccount and scheduling ConfigMap), then run it in the background."""
        job = build_job(run)
        self._ensure_support_objects(run)
        created = self.kube.create(job)
        self.ctx.log.info("pipeline %s/%s started for %s/%s", run.namespace, run.job_name, run.obj.get("kind"),
                          name_of(run.obj))
        self._pool.submit(self._execute_safely, run, created)

    def _ensure_support_objects(self, run: PipelineRun) -> None:
        labels = {PROMISE_LABEL: run.promise_name}
        sa = {"apiVersion": "v1", "kind": "ServiceAccount",
              "metadata": {"name": service_account_name(run), "namespace": run.namespace, "labels": labels}}
        selectors = [{"matchLabels": {str(k): str(v) for k, v in (s.get("matchLabels") or {}).items()},
                      "source": "promise"}
                     for s in (run.promise.get("spec") or {}).get("destinationSelectors") or []]
        cm = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": f"destination-selectors-{run.promise_name}", "namespace": run.namespace,
                           "labels": labels},
              "data": {"destinationSelectors": yaml.safe_dump(selectors) if selectors else "[]\n"}}
        for obj in (sa, cm) if run.action == "configure" else (sa,):
            try:
                self.kube.apply(obj, strict=False)
            except KubeError as exc:
                self.ctx.log.warning("pipeline support object %s/%s: %s", obj["kind"], name_of(obj), exc)

    # -- the kubelet part --------------------------------------------------------------------------

    def _execute_safely(self, run: PipelineRun, job: Obj) -> None:
        try:
            self._execute(run, job)
        except KubeError as exc:
            if exc.not_found:  # the Job or Pod was deleted under us (its owner went away): the run ends
                self.ctx.log.info("pipeline %s/%s: deleted while running (%s)", run.namespace, run.job_name, exc)
                run.finish("Failed", f"deleted while running: {exc}")
            else:
                self.ctx.record_error(f"pipeline {run.job_name}", exc)
                run.finish("Failed", f"simulator error: {exc}")
        except Exception as exc:  # a runner thread must always report back
            if not self.ctx.stopping.is_set():
                self.ctx.record_error(f"pipeline {run.job_name}", exc)
            run.finish("Failed", f"simulator error: {exc}")
        finally:
            self.on_done()

    def _execute(self, run: PipelineRun, job: Obj) -> None:
        tspec = job["spec"]["template"]
        run.pod_name = f"{run.job_name}-{random_suffix()}"
        pod_labels = {**tspec["metadata"]["labels"], "batch.kubernetes.io/job-name": run.job_name,
                      "job-name": run.job_name, "batch.kubernetes.io/controller-uid": uid_of(job),
                      "controller-uid": uid_of(job)}
        pod_spec = {**copy.deepcopy(tspec["spec"]), "nodeName": node_name("platform")}
        pod = self.kube.create({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": run.pod_name, "namespace": run.namespace, "labels": pod_labels,
                         "annotations": tspec["metadata"].get("annotations") or {},
                         "ownerReferences": [owner_ref(job)]},
            "spec": pod_spec,
        }, strict=False)
        started = now_iso()
        self._job_status(job, {"active": 1, "ready": 0, "startTime": started, "terminating": 0,
                               "uncountedTerminatedPods": {}})
        self.job_events.event(job, "Normal", "SuccessfulCreate", f"Created pod: {run.pod_name}")
        inits = [_ContainerState(c["name"], c["image"], True) for c in pod_spec["initContainers"]]
        mains = [_ContainerState(c["name"], c["image"], False) for c in pod_spec["containers"]]
        pod_status = _PodStatus(pod, inits, mains, started)
        self._pod_status(pod_status)
        if not self.ctx.sleep(STEP):
            return
        self.kubelet_events.event(pod, "Normal", "Scheduled",
                                  f"Successfully assigned {run.namespace}/{run.pod_name} to {node_name('platform')}")
        dirs = self.workdir / run.job_name
        input_dir, output_dir, metadata_dir = dirs / "input", dirs / "output", dirs / "metadata"
        for d in (input_dir, output_dir, metadata_dir):
            d.mkdir(parents=True, exist_ok=True)
        specs = {c["name"]: c for c in [*pod_spec["initContainers"], *pod_spec["containers"]]}
        for index, container in enumerate([*inits, *mains]):
            is_main = index >= len(inits)
            container.state = {"running": {"startedAt": now_iso()}}
            if is_main:
                pod_status.phase = "Running"
            self._pod_status(pod_status)
            self.kubelet_events.event(pod, "Normal", "Started", f"Started container {container.name}")
            began = time.monotonic()
            try:
                exit_code, log = self._run_container(run, specs[container.name], input_dir, output_dir, metadata_dir)
                self.ctx.log.info("pipeline %s/%s: container %s exited %d after %.2fs", run.namespace, run.pod_name,
                                  container.name, exit_code, time.monotonic() - began)
            except StuckContainer as stuck:
                container.state = {"waiting": stuck.waiting}
                pod_status.phase = "Pending"
                self._pod_status(pod_status)
                self.kubelet_events.event(pod, "Warning", stuck.waiting["reason"], stuck.waiting["message"])
                if stuck.backoff is not None and self.ctx.sleep(BACKOFF):
                    container.state = {"waiting": stuck.backoff}
                    self._pod_status(pod_status)
                    self.kubelet_events.event(pod, "Normal", "BackOff", stuck.backoff["message"])
                run.finish("Stuck", f"{container.name}: {stuck.waiting['reason']}: {stuck.waiting['message']}")
                return
            self.set_log(run.namespace, run.pod_name, container.name, log)
            finished = now_iso()
            container.state = {"terminated": {
                "exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                "startedAt": container.state["running"]["startedAt"], "finishedAt": finished,
                "containerID": f"containerd://{hashlib.sha256((run.pod_name + container.name).encode()).hexdigest()}",
            }}
            if exit_code != 0:
                pod_status.phase = "Failed"
                self._pod_status(pod_status)
                self._job_status(job, {
                    "active": None, "ready": 0, "failed": 1, "conditions": [
                        {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
                         "message": "Job has reached the specified backoff limit", "lastProbeTime": finished,
                         "lastTransitionTime": finished},
                        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                         "message": "Job has reached the specified backoff limit", "lastProbeTime": finished,
                         "lastTransitionTime": finished}]})
                self.job_events.event(job, "Warning", "BackoffLimitExceeded",
                                      "Job has reached the specified backoff limit")
                run.finish("Failed", f"container {container.name} exited with code {exit_code}")
                return
            if not self.ctx.sleep(STEP):
                return
        pod_status.phase = "Succeeded"
        self._pod_status(pod_status)
        done = now_iso()
        self._job_status(job, {
            "active": None, "ready": 0, "succeeded": 1, "completionTime": done, "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods", "lastProbeTime": done,
                 "lastTransitionTime": done},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods", "lastProbeTime": done,
                 "lastTransitionTime": done}]})
        self.job_events.event(job, "Normal", "Completed", "Job completed")
        run.finish("Succeeded")

    def _run_container(self, run: PipelineRun, spec: Mapping[str, Any], input_dir: Path, output_dir: Path,
                       metadata_dir: Path) -> tuple[int, str]:
        name = str(spec["name"])
        if name == "reader":
            return self._reader(run, input_dir)
        if name == "work-writer" and run.action == "configure" and spec.get("image") == PIPELINE_ADAPTER_IMG:
            return self._work_writer(run, output_dir, metadata_dir)
        if name == "status-writer" and spec.get("image") == PIPELINE_ADAPTER_IMG:
            return self._status_writer(run, metadata_dir)
        return self._user_container(run, spec, input_dir, output_dir, metadata_dir)

    def _reader(self, run: PipelineRun, input_dir: Path) -> tuple[int, str]:
        current = self.kube.get(str(run.obj["apiVersion"]), str(run.obj["kind"]), name_of(run.obj), ns_of(run.obj))
        obj = copy.deepcopy(current if current is not None else run.obj)
        obj.get("metadata", {}).pop("managedFields", None)
        (input_dir / "object.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))
        stamp = now_iso()
        return 0, (f"{stamp}\tINFO\treader\tReading object\t"
                   f'{{"kind": "{run.obj.get("kind")}", "name": "{name_of(run.obj)}", '
                   f'"namespace": "{ns_of(run.obj) or ""}"}}\n'
                   f"{stamp}\tINFO\treader\tObject file written\t{{\"path\": \"/kratix/input/object.yaml\"}}\n")

    def _user_container(self, run: PipelineRun, spec: Mapping[str, Any], input_dir: Path, output_dir: Path,
                        metadata_dir: Path) -> tuple[int, str]:
        from harness.images import ImageNotFound, find_image
        from harness.pipeline_local import run_container_locally

        image = str(spec.get("image") or "")
        if not valid_image_ref(image):
            raise StuckContainer(invalid_image_waiting(image))
        pull_error = StuckContainer(image_pull_waiting(image, False), image_pull_waiting(image, True))
        if self.ctx.faults.is_unpullable(image):
            raise pull_error
        try:
            image_spec = find_image(image)
        except ImageNotFound:
            raise pull_error from None
        env = self._resolve_env(run, spec)
        failure = self.ctx.faults.container_failure(image)
        if failure is not None:
            return failure.exit_code, failure.message + ("\n" if not failure.message.endswith("\n") else "")
        try:
            result = run_container_locally(image_spec, input_dir=input_dir, output_dir=output_dir,
                                           metadata_dir=metadata_dir, env=env, timeout=CONTAINER_TIMEOUT)
        except Exception as exc:  # a container that cannot run fails, as in a cluster
            return 1, f"{type(exc).__name__}: {exc}\n"
        return result.exit_code, result.log

    def _resolve_env(self, run: PipelineRun, spec: Mapping[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in spec.get("envFrom") or []:
            ref = source.get("secretRef") or source.get("configMapRef") or {}
            kind = "Secret" if "secretRef" in source else "ConfigMap"
            obj = self.kube.get("v1", kind, str(ref.get("name")), run.namespace)
            if obj is None:
                if ref.get("optional"):
                    continue
                raise StuckContainer({"reason": "CreateContainerConfigError",
                                      "message": f'{kind.lower()} "{ref.get("name")}" not found'})
            env.update(_data(obj))
        for var in spec.get("env") or []:
            if "value" in var:
                env[str(var["name"])] = str(var["value"])
                continue
            source = var.get("valueFrom") or {}
            for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref = source.get(key)
                if not ref:
                    continue
                obj = self.kube.get("v1", kind, str(ref.get("name")), run.namespace)
                data = _data(obj) if obj is not None else None
                if data is None or str(ref.get("key")) not in data:
                    if ref.get("optional"):
                        break
                    what = f'{kind.lower()} "{ref.get("name")}" not found' if data is None else \
                        f"couldn't find key {ref.get('key')} in {kind} {run.namespace}/{ref.get('name')}"
                    raise StuckContainer({"reason": "CreateContainerConfigError", "message": what})
                env[str(var["name"])] = data[str(ref.get("key"))]
            field_ref = (source.get("fieldRef") or {}).get("fieldPath")
            if field_ref:
                env[str(var["name"])] = {"metadata.name": run.pod_name, "metadata.namespace": run.namespace,
                                         "spec.nodeName": node_name("platform")}.get(str(field_ref), "")
        return env

    def _work_writer(self, run: PipelineRun, output_dir: Path, metadata_dir: Path) -> tuple[int, str]:
        stamp = now_iso()
        control = metadata_dir / "workflow-control.yaml"
        if control.is_file():
            try:
                doc = yaml.safe_load(control.read_text()) or {}
            except yaml.YAMLError as exc:
                return 1, f"{stamp}\tERROR\twork-creator\tinvalid workflow-control.yaml: {exc}\n"
            if isinstance(doc, dict) and (doc.get("suspend") or doc.get("retryAfter")):
                return 0, (f"{stamp}\tINFO\twork-creator\tworkflow control requested suspension or retry; "
                           "skipping Work creation or update\n")
        try:
            groups = workload_groups(output_dir, metadata_dir, run.promise, run.workflow_type)
        except PipelineOutputError as exc:
            return 1, f"{stamp}\tERROR\twork-creator\t{exc}\n"
        resource = name_of(run.obj) if run.workflow_type == "resource" else ""
        labels = {PROMISE_LABEL: run.promise_name, WORK_TYPE_LABEL: run.workflow_type,
                  PIPELINE_LABEL: run.pipeline_name}
        if resource:
            labels[RESOURCE_LABEL] = resource
        identifier = f"{run.promise_name}-{resource}-{run.pipeline_name}" if resource else \
            f"{run.promise_name}-{run.pipeline_name}"
        spec = {"promiseName": run.promise_name, "workloadGroups": groups, "lastExecutionTimestamp": stamp}
        if resource:
            spec["resourceName"] = resource
        existing = self.kube.list(API, "Work", run.namespace, labels=labels)
        if existing:
            name = name_of(existing[0])
            self.kube.patch(API, "Work", name, {"spec": spec}, run.namespace)
            verb = "Work updated"
        else:
            name = generate_name(identifier)
            self.kube.create({"apiVersion": API, "kind": "Work",
                              "metadata": {"name": name, "namespace": run.namespace, "labels": labels},
                              "spec": spec})
            verb = "Work created"
        files = sum(len(g.get("workloads") or []) for g in groups)
        return 0, (f"{stamp}\tINFO\twork-creator\tsetting work labels...\t{{\"identifier\": \"{identifier}\"}}\n"
                   f"{stamp}\tINFO\twork-creator\t{verb}\t{{\"workName\": \"{name}\", \"namespace\": "
                   f"\"{run.namespace}\", \"workloads\": {files}}}\n")

    def _status_writer(self, run: PipelineRun, metadata_dir: Path) -> tuple[int, str]:
        stamp = now_iso()
        path = metadata_dir / "status.yaml"
        incoming: dict[str, Any] = {}
        if path.is_file():
            try:
                loaded = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                return 1, f"{stamp}\tERROR\tupdate-status\tinvalid status.yaml: {' '.join(str(exc).split())}\n"
            if not isinstance(loaded, dict):
                return 1, f"{stamp}\tERROR\tupdate-status\tinvalid status.yaml: expected a mapping\n"
            incoming = loaded
        lines = []
        if "kratix" in incoming:
            incoming.pop("kratix")
            lines.append(f"{stamp}\tINFO\tupdate-status\tignoring reserved key 'kratix' in status.yaml\n")
        current = self.kube.get(str(run.obj["apiVersion"]), str(run.obj["kind"]), name_of(run.obj),
                                ns_of(run.obj))
        if current is None:
            return 1, f"{stamp}\tERROR\tupdate-status\t{run.obj.get('kind')} {name_of(run.obj)} not found\n"
        patch = dict(incoming)
        if "message" not in incoming and run.is_last and run.action == "configure" and \
                (current.get("status") or {}).get("message") in (None, "", "Pending"):
            patch["message"] = "Resource requested" if run.workflow_type == "resource" else "Promise configured"
        if patch:
            self.kube.patch(str(run.obj["apiVersion"]), str(run.obj["kind"]), name_of(run.obj), {"status": patch},
                            ns_of(run.obj), subresource="status")
        lines.append(f"{stamp}\tINFO\tupdate-status\tstatus updated\t"
                     f"{{\"keys\": {json.dumps(sorted(patch))}}}\n")
        return 0, "".join(lines)

    # -- status writes -----------------------------------------------------------------------------

    def _pod_status(self, ps: _PodStatus) -> None:
        self.kube.patch("v1", "Pod", name_of(ps.pod), {"status": ps.render()}, ns_of(ps.pod), subresource="status")

    def _job_status(self, job: Obj, status: dict[str, Any]) -> None:
        self.kube.patch("batch/v1", "Job", name_of(job), {"status": status}, ns_of(job), subresource="status")


def _data(obj: Mapping[str, Any]) -> dict[str, str]:
    """A Secret's or ConfigMap's data as strings (Secret values decoded)."""
    if obj.get("kind") == "Secret":
        decoded = {k: base64.b64decode(str(v)).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
        decoded.update({k: str(v) for k, v in (obj.get("stringData") or {}).items()})
        return decoded
    return {k: str(v) for k, v in (obj.get("data") or {}).items()}


@dataclass
class _PodStatus:
    pod: Obj
    inits: list[_ContainerState]
    mains: list[_ContainerState]
    started: str
    phase: str = "Pending"

    def render(self) -> dict[str, Any]:
        stamp = now_iso()
        inits_done = all((c.state.get("terminated") or {}).get("exitCode") == 0 for c in self.inits)
        running = self.phase == "Running"
        ready = running and all("running" in c.state for c in self.mains)
        unready = [c.name for c in self.mains if "running" not in c.state]
        pending = [c.name for c in self.inits if "terminated" not in c.state]
        conditions = [
            {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": self.started},
            {"type": "Initialized", "status": "True" if inits_done else "False", "lastTransitionTime": stamp,
             **({} if inits_done else {"reason": "ContainersNotInitialized",
                                       "message": f"containers with incomplete status: [{' '.join(pending)}]"})},
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp,
             **({} if ready else {"reason": "PodCompleted" if self.phase in ("Succeeded", "Failed")
                                  else "ContainersNotReady",
                                  **({} if self.phase in ("Succeeded", "Failed") else
                                     {"message": f"containers with unready status: [{' '.join(unready)}]"})})},
            {"type": "ContainersReady", "status": "True" if ready else "False", "lastTransitionTime": stamp},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": self.started},
        ]
        return {
            "phase": self.phase,
            "conditions": conditions,
            "hostIP": "172.18.0.2",
            "podIP": "10.244.0.10" if self.phase != "Pending" else None,
            "startTime": self.started,
            "qosClass": "Burstable",
            "initContainerStatuses": [c.status() for c in self.inits],
            "containerStatuses": [c.status() for c in self.mains],
        }
