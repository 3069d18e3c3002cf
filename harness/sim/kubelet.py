"""The simulated workload controllers and kubelet of one cluster.

Deployments → ReplicaSets → Pods, StatefulSets → Pods + PersistentVolumeClaims, PVC → PV binding
(kind's ``standard`` local-path class: ``WaitForFirstConsumer``), and pod start-up with realistic
intermediate states (Pending, ContainerCreating, Running/Ready; InvalidImageName, ErrImagePull then
ImagePullBackOff). Pods owned by Jobs are left to their runner (the Kratix pipeline runner).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
from collections.abc import Mapping
from typing import Any

from harness.conditions import pod_ready
from harness.kube import Kube
from harness.sim.ctl_base import (
    Clock,
    Controller,
    EventRecorder,
    Informer,
    Obj,
    SimContext,
    deleting,
    labels_of,
    meta,
    name_of,
    now_iso,
    ns_of,
    owned_by,
    owner_ref,
    random_suffix,
    uid_of,
)

# Docker reference grammar (distribution/reference), simplified: [registry/]path[:tag][@digest].
_IMAGE_REF = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
# k8s' SafeEncodeString alphabet for pod-template-hash and revision suffixes.
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
DEFAULT_STORAGE_CLASS = "standard"
PROVISIONER = "rancher.io/local-path"

# Seconds (at speed 1.0) from a pod's creation to each stage.
SCHEDULE_AFTER = 0.05
CREATING_AFTER = 0.1
PULL_ERROR_AFTER = 0.2
BACKOFF_AFTER = 0.6
RUNNING_AFTER = 0.3
BIND_AFTER = 0.1
RELEASE_DELETE_AFTER = 0.2


def valid_image_ref(ref: str) -> bool:
    """Whether ``ref`` parses as a container image reference (else the kubelet reports InvalidImageName)."""
    return bool(ref) and bool(_IMAGE_REF.match(ref))


def full_image_ref(ref: str) -> str:
    """The fully qualified name containerd pulls (``busybox`` → ``docker.io/library/busybox:latest``)."""
    name, digest = [*ref.split("@", 1), ""][:2]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        name += ":latest"
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    return f"{name}@{digest}" if digest else name


def image_pull_waiting(ref: str, backoff: bool) -> dict[str, str]:
    """The waiting state of a container whose image cannot be pulled (message names the image)."""
    if backoff:
        return {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{ref}"'}
    full = full_image_ref(ref)
    return {
        "reason": "ErrImagePull",
        "message": (f'rpc error: code = NotFound desc = failed to pull and unpack image "{full}": '
                    f'failed to resolve reference "{full}": {full}: not found'),
    }


def invalid_image_waiting(ref: str) -> dict[str, str]:
    return {
        "reason": "InvalidImageName",
        "message": f'Failed to apply default image tag "{ref}": couldn\'t parse image name "{ref}": '
                   "invalid reference format",
    }


def safe_hash(value: Any, length: int = 10) -> str:
    """A short, stable hash of a JSON value in k8s' safe alphabet (pod-template-hash style)."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:length])


def node_name(cluster: str) -> str:
    """kind's single node: ``<cluster>-control-plane``."""
    return f"{cluster}-control-plane"


def pvc_names(pod: Mapping[str, Any]) -> list[str]:
    return [
        str(v["persistentVolumeClaim"]["claimName"])
        for v in (pod.get("spec") or {}).get("volumes") or []
        if isinstance(v, Mapping) and (v.get("persistentVolumeClaim") or {}).get("claimName")
    ]


def parse_quantity(value: Any) -> float:
    """Bytes in a Kubernetes quantity (``1Gi``, ``500M``, ``1e9``); 0 when unparsable."""
    text = str(value or "").strip()
    match = re.fullmatch(r"([0-9.]+(?:e[0-9]+)?)([EPTGMK]i?|[mk])?", text)
    if not match:
        return 0.0
    number = float(match.group(1))
    unit = match.group(2) or ""
    powers = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
              "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "m": 1e-3}
    return number * powers.get(unit, 1)


class Kubelet(Controller):
    """Workload controllers + kubelet + local-path provisioner for one cluster.

    Args:
        ctx: shared context.
        kube: the cluster.
        cluster: its short name (``platform``/``worker``), used for node names and faults.
    """

    def __init__(self, ctx: SimContext, kube: Kube, cluster: str) -> None:
        self.name = f"kubelet-{cluster}"
        super().__init__(ctx)
        self.kube = kube
        self.cluster = cluster
        self.deployments = Informer(kube, "apps/v1", "Deployment", ctx)
        self.replicasets = Informer(kube, "apps/v1", "ReplicaSet", ctx)
        self.statefulsets = Informer(kube, "apps/v1", "StatefulSet", ctx)
        self.pods = Informer(kube, "v1", "Pod", ctx)
        self.pvcs = Informer(kube, "v1", "PersistentVolumeClaim", ctx)
        self.pvs = Informer(kube, "v1", "PersistentVolume", ctx)
        self.informers = [self.deployments, self.replicasets, self.statefulsets, self.pods, self.pvcs, self.pvs]
        self.watch(*self.informers)
        self.events = EventRecorder(kube, "kubelet", ctx)
        self.clock = Clock()
        self._pod_ips: dict[str, str] = {}

    def reconcile(self) -> None:
        for dep in self.deployments.items():
            self.safely(f"{self.name} Deployment/{name_of(dep)}", self._deployment, dep)
        for rs in self.replicasets.items():
            self.safely(f"{self.name} ReplicaSet/{name_of(rs)}", self._replicaset, rs)
        for sts in self.statefulsets.items():
            self.safely(f"{self.name} StatefulSet/{name_of(sts)}", self._statefulset, sts)
        pods = self.pods.items()
        claimed = {(ns_of(p), c) for p in pods if not deleting(p) for c in pvc_names(p)}
        for pvc in self.pvcs.items():
            self.safely(f"{self.name} PVC/{name_of(pvc)}", self._pvc, pvc, claimed)
        for pv in self.pvs.items():
            self.safely(f"{self.name} PV/{name_of(pv)}", self._pv, pv)
        live = []
        for pod in pods:
            live.append(uid_of(pod))
            self.safely(f"{self.name} Pod/{name_of(pod)}", self._pod, pod)
        self.clock.forget_except([*live, *(f"{u}:vol" for u in live),
                                  *(uid_of(o) for o in self.pvcs.items() + self.pvs.items())])

    # -- Deployments and ReplicaSets --------------------------------------------------------------

    def _deployment(self, dep: Obj) -> None:
        if deleting(dep):
            return
        spec = dep.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        pth = safe_hash(template)
        rs_name = f"{name_of(dep)}-{pth}"[:253]
        ns = ns_of(dep)
        owned = [rs for rs in self.replicasets.items(ns) if owned_by(rs, uid_of(dep))]
        current = next((rs for rs in owned if name_of(rs) == rs_name), None)
        revision = str(max([int(meta(rs).get("annotations", {}).get("deployment.kubernetes.io/revision", 0) or 0)
                            for rs in owned] + [0]) + (0 if current else 1))
        if current is None:
            labels = {**(template.get("metadata") or {}).get("labels", {}), "pod-template-hash": pth}
            template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(spec.get("selector") or {"matchLabels": {}})
            selector.setdefault("matchLabels", {})["pod-template-hash"] = pth
            created = self.kube.create({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name, "namespace": ns, "labels": labels,
                    "annotations": {"deployment.kubernetes.io/revision": revision,
                                    "deployment.kubernetes.io/desired-replicas": str(replicas)},
                    "ownerReferences": [owner_ref(dep)],
                },
                "spec": {"replicas": replicas, "selector": selector, "template": template},
            }, strict=False)
            self.replicasets.remember(created)
            self.events.event(dep, "Normal", "ScalingReplicaSet",
                              f"Scaled up replica set {rs_name} from 0 to {replicas}")
            return
        if int((current.get("spec") or {}).get("replicas", 1)) != replicas:
            self.replicasets.remember(self.kube.patch("apps/v1", "ReplicaSet", rs_name,
                                                      {"spec": {"replicas": replicas}}, ns))
        for old in owned:
            if name_of(old) != rs_name and int((old.get("spec") or {}).get("replicas", 0)) != 0:
                self.replicasets.remember(self.kube.patch("apps/v1", "ReplicaSet", name_of(old),
                                                          {"spec": {"replicas": 0}}, ns))
        self._deployment_status(dep, current, owned, replicas)

    def _deployment_status(self, dep: Obj, current: Obj, owned: list[Obj], replicas: int) -> None:
        pods = [p for p in self.pods.items(ns_of(dep)) if any(owned_by(p, uid_of(rs)) for rs in owned)
                and not deleting(p)]
        ready = sum(1 for p in pods if pod_ready(p))
        updated = sum(1 for p in pods if owned_by(p, uid_of(current)))
        old_status = dep.get("status") or {}
        available = ready >= replicas
        conditions = [
            _dep_condition(old_status, "Available", "True" if available else "False",
                           "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                           "Deployment has minimum availability." if available
                           else "Deployment does not have minimum availability."),
            _dep_condition(old_status, "Progressing", "True",
                           "NewReplicaSetAvailable" if available and updated >= replicas else "ReplicaSetUpdated",
                           f'ReplicaSet "{name_of(current)}" has successfully progressed.'
                           if available and updated >= replicas
                           else f'ReplicaSet "{name_of(current)}" is progressing.'),
        ]
        status: dict[str, Any] = {
            "observedGeneration": meta(dep).get("generation", 1),
            "replicas": len(pods),
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": conditions,
        }
        if replicas - ready > 0:
            status["unavailableReplicas"] = replicas - ready
        self._patch_status_if_changed(dep, status, drop=("unavailableReplicas",) if replicas - ready <= 0 else ())

    def _replicaset(self, rs: Obj) -> None:
        if deleting(rs):
            return
        spec = rs.get("spec") or {}
        want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        ns = ns_of(rs)
        pods = [p for p in self.pods.items(ns) if owned_by(p, uid_of(rs)) and not deleting(p)]
        if len(pods) < want:
            for _ in range(want - len(pods)):
                self._create_pod(rs, f"{name_of(rs)}-{random_suffix()}", spec.get("template") or {})
        elif len(pods) > want:
            # Scale down the least ready, newest pods first (as the ReplicaSet controller ranks them).
            ranked = sorted(pods, key=lambda p: (pod_ready(p), -_created(p)))
            for pod in ranked[: len(pods) - want]:
                self._delete_pod(pod)
        ready = sum(1 for p in pods if pod_ready(p))
        self._patch_status_if_changed(rs, {
            "replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
            "availableReplicas": ready, "observedGeneration": meta(rs).get("generation", 1),
        })

    # -- StatefulSets ------------------------------------------------------------------------------

    def _statefulset(self, sts: Obj) -> None:
        if deleting(sts):
            return
        spec = sts.get("spec") or {}
        ns = ns_of(sts)
        sts_name = name_of(sts)
        want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        template = spec.get("template") or {}
        revision = f"{sts_name}-{safe_hash(template)}"
        pods = {name_of(p): p for p in self.pods.items(ns) if owned_by(p, uid_of(sts))}
        # Claims first: a pod is never created before its volumes are requested.
        for ordinal in range(want):
            for claim in spec.get("volumeClaimTemplates") or []:
                self._ensure_claim(sts, claim, ordinal)
        healthy_so_far = True
        for ordinal in range(want):
            pod_name = f"{sts_name}-{ordinal}"
            pod = pods.get(pod_name)
            if pod is None:
                if healthy_so_far:  # OrderedReady: one at a time, in order
                    self._create_sts_pod(sts, ordinal, revision)
                    self.events.event(sts, "Normal", "SuccessfulCreate",
                                      f"create Pod {pod_name} in StatefulSet {sts_name} successful")
                healthy_so_far = False
                continue
            if deleting(pod) or not pod_ready(pod):
                healthy_so_far = False
        extra = sorted((p for n, p in pods.items() if _ordinal(n, sts_name) >= want and not deleting(p)),
                       key=lambda p: -_ordinal(name_of(p), sts_name))
        if extra and healthy_so_far:
            self._delete_pod(extra[0])  # scale down from the highest ordinal, one at a time
            self.events.event(sts, "Normal", "SuccessfulDelete",
                              f"delete Pod {name_of(extra[0])} in StatefulSet {sts_name} successful")
        elif not extra and healthy_so_far:
            outdated = sorted((p for p in pods.values() if labels_of(p).get("controller-revision-hash") != revision
                               and not deleting(p)), key=lambda p: -_ordinal(name_of(p), sts_name))
            if outdated:
                self._delete_pod(outdated[0])  # RollingUpdate: replace from the highest ordinal
        live = [p for p in pods.values() if not deleting(p)]
        ready = sum(1 for p in live if pod_ready(p))
        updated = sum(1 for p in live if labels_of(p).get("controller-revision-hash") == revision)
        self._patch_status_if_changed(sts, {
            "observedGeneration": meta(sts).get("generation", 1),
            "replicas": len(live), "readyReplicas": ready, "currentReplicas": updated,
            "updatedReplicas": updated, "availableReplicas": ready,
            "currentRevision": revision, "updateRevision": revision, "collisionCount": 0,
        })

    def _ensure_claim(self, sts: Obj, claim: Mapping[str, Any], ordinal: int) -> None:
        cmeta = claim.get("metadata") or {}
        pvc_name = f"{cmeta.get('name')}-{name_of(sts)}-{ordinal}"
        if self.pvcs.get(pvc_name, ns_of(sts)) is not None:
            return
        selector = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        cspec = copy.deepcopy(claim.get("spec") or {})
        cspec.setdefault("storageClassName", DEFAULT_STORAGE_CLASS)
        cspec.setdefault("volumeMode", "Filesystem")
        created = self.kube.create({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": pvc_name, "namespace": ns_of(sts),
                         "labels": {**(cmeta.get("labels") or {}), **selector},
                         "annotations": dict(cmeta.get("annotations") or {})},
            "spec": cspec,
        }, strict=False)
        self.pvcs.remember(created)
        self.events.event(sts, "Normal", "SuccessfulCreate",
                          f"create Claim {pvc_name} Pod {name_of(sts)}-{ordinal} in StatefulSet {name_of(sts)} "
                          "success")

    def _create_sts_pod(self, sts: Obj, ordinal: int, revision: str) -> None:
        spec = sts.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        pod_name = f"{name_of(sts)}-{ordinal}"
        labels = {**(template.get("metadata") or {}).get("labels", {}),
                  "controller-revision-hash": revision,
                  "statefulset.kubernetes.io/pod-name": pod_name,
                  "apps.kubernetes.io/pod-index": str(ordinal)}
        template.setdefault("metadata", {})["labels"] = labels
        pod_spec = template.setdefault("spec", {})
        pod_spec["hostname"] = pod_name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        volumes = [v for v in pod_spec.get("volumes") or []
                   if v.get("name") not in {(c.get("metadata") or {}).get("name")
                                            for c in spec.get("volumeClaimTemplates") or []}]
        for claim in spec.get("volumeClaimTemplates") or []:
            cname = (claim.get("metadata") or {}).get("name")
            volumes.append({"name": cname,
                            "persistentVolumeClaim": {"claimName": f"{cname}-{name_of(sts)}-{ordinal}"}})
        pod_spec["volumes"] = volumes
        self._create_pod(sts, pod_name, template)

    # -- pods --------------------------------------------------------------------------------------

    def _create_pod(self, owner: Obj, pod_name: str, template: Mapping[str, Any]) -> None:
        tmeta = copy.deepcopy(dict(template.get("metadata") or {}))
        spec = copy.deepcopy(dict(template.get("spec") or {}))
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        created = self.kube.create({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": ns_of(owner), "labels": tmeta.get("labels") or {},
                         "annotations": tmeta.get("annotations") or {}, "ownerReferences": [owner_ref(owner)]},
            "spec": spec,
        }, strict=False)
        self.pods.remember(created)
        if owner.get("kind") == "ReplicaSet":
            self.events.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {pod_name}")

    def _delete_pod(self, pod: Obj) -> None:
        self.kube.delete("v1", "Pod", name_of(pod), ns_of(pod))
        self.pods.forget(name_of(pod), ns_of(pod))

    def _pod(self, pod: Obj) -> None:
        if deleting(pod) or _job_owned(pod):
            return
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            return
        uid = uid_of(pod)
        age = self.clock.since(uid)
        if age < self.ctx.delay(SCHEDULE_AFTER):
            return
        spec = pod.get("spec") or {}
        desired, events = self._pod_status(pod, spec, status, age)
        if self._patch_status_if_changed(pod, desired):
            old_reasons = {cs.get("name"): ((cs.get("state") or {}).get("waiting") or {}).get("reason")
                           for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses")
                                                                                    or [])}
            for container, type_, reason, message in events:
                if old_reasons.get(container) != reason:
                    self.events.event(pod, type_, reason, message)

    def _pod_status(self, pod: Obj, spec: Mapping[str, Any], status: Mapping[str, Any], age: float
                    ) -> tuple[dict[str, Any], list[tuple[str, str, str, str]]]:
        """The status a kubelet would report now, and the events of reaching it (container, type, reason, msg)."""
        ns = ns_of(pod)
        claims = pvc_names(pod)
        missing = [c for c in claims if self.pvcs.get(c, ns) is None]
        scheduled_at = status.get("startTime") or now_iso()
        base: dict[str, Any] = {"phase": "Pending", "qosClass": "BestEffort"}
        if missing:
            base["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                   "message": f'0/1 nodes are available: persistentvolumeclaim "{missing[0]}" '
                                              "not found. preemption: 0/1 nodes are available.",
                                   "lastTransitionTime": now_iso()}]
            self.clock.reset(f"{uid_of(pod)}:vol")
            return base, []
        unbound = [c for c in claims if ((self.pvcs.get(c, ns) or {}).get("status") or {}).get("phase") != "Bound"]
        if unbound:
            # WaitForFirstConsumer: the provisioner binds once this pod is scheduled to the node.
            self.clock.reset(f"{uid_of(pod)}:vol")
            base["conditions"] = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": now_iso()}]
            return base, []
        since_volumes = self.clock.since(f"{uid_of(pod)}:vol") if claims else age
        containers = list(spec.get("containers") or [])
        inits = list(spec.get("initContainers") or [])
        started = status.get("startTime") or scheduled_at
        stuck: dict[str, dict[str, str]] = {}
        for c in inits + containers:
            image = str(c.get("image") or "")
            if not valid_image_ref(image):
                stuck[c["name"]] = invalid_image_waiting(image)
            elif self.ctx.faults.is_unpullable(image) and since_volumes >= self.ctx.delay(PULL_ERROR_AFTER):
                stuck[c["name"]] = image_pull_waiting(image, since_volumes >= self.ctx.delay(BACKOFF_AFTER))
        host_ip = "172.18.0.2" if self.cluster == "platform" else "172.18.0.3"
        result: dict[str, Any] = {
            "phase": "Pending", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "startTime": started,
            "qosClass": "BestEffort",
        }
        conds = {c.get("type"): c for c in status.get("conditions") or []}

        def cond(type_: str, value: str, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
            old = conds.get(type_) or {}
            entry: dict[str, Any] = {"type": type_, "status": value,
                                     "lastTransitionTime": old.get("lastTransitionTime")
                                     if old.get("status") == value else now_iso()}
            if reason:
                entry["reason"] = reason
            if message:
                entry["message"] = message
            return entry

        running_now = since_volumes >= self.ctx.delay(RUNNING_AFTER)
        old_started = {cs.get("name"): ((cs.get("state") or {}).get("running") or {}).get("startedAt")
                       for cs in status.get("containerStatuses") or []}
        init_statuses = []
        for c in inits:
            image = str(c.get("image") or "")
            if c["name"] in stuck:
                state: dict[str, Any] = {"waiting": stuck[c["name"]]}
            elif running_now:
                state = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                        "finishedAt": started}}
            else:
                state = {"waiting": {"reason": "PodInitializing"}}
            init_statuses.append({"name": c["name"], "image": image, "imageID": "", "ready": "terminated" in state,
                                  "restartCount": 0, "started": False, "state": state})
        inits_done = all("terminated" in s["state"] for s in init_statuses)
        never_ready = self.ctx.faults.is_never_ready(self.cluster, name_of(pod))
        statuses = []
        for c in containers:
            image = str(c.get("image") or "")
            if c["name"] in stuck:
                state = {"waiting": stuck[c["name"]]}
            elif running_now and inits_done:
                state = {"running": {"startedAt": old_started.get(c["name"]) or now_iso()}}
            elif since_volumes >= self.ctx.delay(CREATING_AFTER) and inits_done:
                state = {"waiting": {"reason": "ContainerCreating"}}
            else:
                state = {"waiting": {"reason": "PodInitializing"}}
            is_running = "running" in state
            statuses.append({
                "name": c["name"], "image": image,
                "imageID": f"{full_image_ref(image)}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
                if is_running else "",
                "containerID": f"containerd://{hashlib.sha256((uid_of(pod) + c['name']).encode()).hexdigest()}"
                if is_running else None,
                "ready": is_running and not never_ready, "restartCount": 0, "started": is_running, "state": state,
            })
        all_running = bool(statuses) and all("running" in s["state"] for s in statuses)
        all_ready = all_running and not never_ready
        unready = [s["name"] for s in statuses if not s["ready"]]
        result["initContainerStatuses"] = init_statuses or None
        result["containerStatuses"] = statuses
        if all_running:
            result["phase"] = "Running"
            ip = self._pod_ips.setdefault(uid_of(pod), f"10.244.0.{random.randint(2, 250)}")
            result["podIP"] = ip
            result["podIPs"] = [{"ip": ip}]
        not_ready_msg = f"containers with unready status: [{' '.join(unready)}]"
        result["conditions"] = [
            cond("PodReadyToStartContainers", "True" if running_now else "False"),
            cond("Initialized", "True" if inits_done else "False",
                 None if inits_done else "ContainersNotInitialized",
                 None if inits_done else f"containers with incomplete status: [{' '.join(c['name'] for c in inits)}]"),
            cond("Ready", "True" if all_ready else "False", None if all_ready else "ContainersNotReady",
                 None if all_ready else not_ready_msg),
            cond("ContainersReady", "True" if all_ready else "False", None if all_ready else "ContainersNotReady",
                 None if all_ready else not_ready_msg),
            cond("PodScheduled", "True"),
        ]
        events: list[tuple[str, str, str, str]] = []
        for name, waiting in stuck.items():
            if waiting["reason"] == "ImagePullBackOff":
                events.append((name, "Normal", "BackOff", waiting["message"]))
            else:
                events.append((name, "Warning", waiting["reason"], waiting["message"]))
        return result, events

    # -- volumes -----------------------------------------------------------------------------------

    def _pvc(self, pvc: Obj, claimed: set[tuple[str | None, str]]) -> None:
        if deleting(pvc):
            return
        spec = pvc.get("spec") or {}
        status = pvc.get("status") or {}
        request = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        if status.get("phase") == "Bound":
            capacity = (status.get("capacity") or {}).get("storage")
            if request and capacity and parse_quantity(request) > parse_quantity(capacity):
                self._resize(pvc, str(request))
            return
        if not status.get("phase"):
            self._patch_status_if_changed(pvc, {"phase": "Pending"})
        if (ns_of(pvc), name_of(pvc)) not in claimed:
            return  # WaitForFirstConsumer
        if self.clock.since(uid_of(pvc)) < self.ctx.delay(BIND_AFTER):
            return
        pv_name = f"pvc-{uid_of(pvc)}"
        storage_class = spec.get("storageClassName") or DEFAULT_STORAGE_CLASS
        if self.pvs.get(pv_name) is None:
            node = node_name(self.cluster)
            pv = self.kube.create({
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {
                    "name": pv_name,
                    "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER,
                                    "local.path.provisioner/selected-node": node},
                    "finalizers": ["kubernetes.io/pv-protection"],
                },
                "spec": {
                    "capacity": {"storage": request or "1Gi"},
                    "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Delete",
                    "storageClassName": storage_class,
                    "volumeMode": spec.get("volumeMode") or "Filesystem",
                    "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": name_of(pvc),
                                 "namespace": ns_of(pvc), "uid": uid_of(pvc),
                                 "resourceVersion": meta(pvc).get("resourceVersion")},
                    "hostPath": {"path": f"/var/local-path-provisioner/{pv_name}_{ns_of(pvc)}_{name_of(pvc)}",
                                 "type": "DirectoryOrCreate"},
                    "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
                },
            }, strict=False)
            self.pvs.remember(pv)
            self.pvs.remember(self.kube.patch("v1", "PersistentVolume", pv_name, {"status": {"phase": "Bound"}},
                                              subresource="status"))
            self.events.event(pvc, "Normal", "ProvisioningSucceeded",
                              f"Successfully provisioned volume {pv_name}")
        patched = self.kube.patch("v1", "PersistentVolumeClaim", name_of(pvc), {
            "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes",
                                         "pv.kubernetes.io/bound-by-controller": "yes",
                                         "volume.beta.kubernetes.io/storage-provisioner": PROVISIONER,
                                         "volume.kubernetes.io/storage-provisioner": PROVISIONER,
                                         "volume.kubernetes.io/selected-node": node_name(self.cluster)}},
            "spec": {"volumeName": pv_name, "storageClassName": storage_class},
        }, ns_of(pvc))
        self.pvcs.remember(patched)
        self.pvcs.remember(self.kube.patch("v1", "PersistentVolumeClaim", name_of(pvc), {"status": {
            "phase": "Bound", "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "capacity": {"storage": request or "1Gi"}}}, ns_of(pvc), subresource="status"))

    def _resize(self, pvc: Obj, request: str) -> None:
        pv_name = str((pvc.get("spec") or {}).get("volumeName") or "")
        if pv_name and self.pvs.get(pv_name) is not None:
            self.pvs.remember(self.kube.patch("v1", "PersistentVolume", pv_name,
                                              {"spec": {"capacity": {"storage": request}}}))
        self.pvcs.remember(self.kube.patch("v1", "PersistentVolumeClaim", name_of(pvc),
                                           {"status": {"capacity": {"storage": request}}}, ns_of(pvc),
                                           subresource="status"))
        self.events.event(pvc, "Normal", "FileSystemResizeSuccessful",
                          f"MountVolume.NodeExpandVolume succeeded for volume \"{pv_name}\"")

    def _pv(self, pv: Obj) -> None:
        claim = (pv.get("spec") or {}).get("claimRef") or {}
        if not claim:
            return
        pvc = self.pvcs.get(str(claim.get("name")), str(claim.get("namespace")))
        if pvc is not None and uid_of(pvc) == claim.get("uid") and not deleting(pvc):
            self.clock.reset(uid_of(pv))
            return
        if (pv.get("status") or {}).get("phase") != "Released":
            self.pvs.remember(self.kube.patch("v1", "PersistentVolume", name_of(pv),
                                              {"status": {"phase": "Released"}}, subresource="status"))
            self.clock.reset(uid_of(pv))
            return
        if self.clock.since(uid_of(pv)) >= self.ctx.delay(RELEASE_DELETE_AFTER):
            # reclaimPolicy Delete: the provisioner removes the volume, then the protection finalizer goes.
            if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Delete") != "Delete":
                return
            self.kube.patch("v1", "PersistentVolume", name_of(pv), {"metadata": {"finalizers": None}})
            self.kube.delete("v1", "PersistentVolume", name_of(pv))
            self.pvs.forget(name_of(pv))

    # -- helpers -----------------------------------------------------------------------------------

    def _patch_status_if_changed(self, obj: Obj, status: dict[str, Any], drop: tuple[str, ...] = ()) -> bool:
        """Patch ``status`` when it says something new; True when it did."""
        old = obj.get("status") or {}
        if _same_status(old, status) and not any(k in old for k in drop):
            return False
        patch = dict(status)
        for key in drop:
            patch[key] = None
        updated = self.kube.patch(obj["apiVersion"], obj["kind"], name_of(obj), {"status": patch}, ns_of(obj),
                                  subresource="status")
        informer = {"Deployment": self.deployments, "ReplicaSet": self.replicasets, "StatefulSet": self.statefulsets,
                    "Pod": self.pods, "PersistentVolumeClaim": self.pvcs}.get(obj["kind"])
        if informer is not None:
            informer.remember(updated)
        return True


def _job_owned(pod: Mapping[str, Any]) -> bool:
    return any(ref.get("kind") == "Job" for ref in (pod.get("metadata") or {}).get("ownerReferences") or [])


def _created(obj: Mapping[str, Any]) -> float:
    stamp = str((obj.get("metadata") or {}).get("creationTimestamp") or "")
    return float(re.sub(r"\D", "", stamp) or 0)


def _ordinal(pod_name: str, sts_name: str) -> int:
    suffix = pod_name[len(sts_name) + 1:]
    return int(suffix) if suffix.isdigit() else -1


def _dep_condition(old_status: Mapping[str, Any], type_: str, status: str, reason: str, message: str
                   ) -> dict[str, Any]:
    old: Mapping[str, Any] = next(
        (c for c in old_status.get("conditions") or [] if c.get("type") == type_), {})
    stamp = now_iso()
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastUpdateTime": old.get("lastUpdateTime") if old.get("reason") == reason else stamp,
            "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == status else stamp}


_VOLATILE = ("lastTransitionTime", "lastUpdateTime", "startedAt", "finishedAt", "startTime", "podIP", "podIPs")


def _same_status(old: Any, new: Any) -> bool:
    """Whether ``new`` (a patch) says nothing ``old`` does not already say, ignoring timestamps."""
    if isinstance(new, Mapping):
        if not isinstance(old, Mapping):
            return False
        for key, value in new.items():
            if key in _VOLATILE and key in old:
                continue
            if value is None:
                if old.get(key) is not None:
                    return False
                continue
            if not _same_status(old.get(key), value):
                return False
        return True
    if isinstance(new, list):
        return isinstance(old, list) and len(old) == len(new) and all(
            _same_status(o, n) for o, n in zip(old, new, strict=True))
    return bool(old == new)
