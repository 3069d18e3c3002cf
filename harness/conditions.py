"""Read Kubernetes and Kratix object state: summaries for messages, readiness, terminal failures.

Pure functions over dicts, so they are unit-tested without any cluster and shared by every target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Obj = Mapping[str, Any]

# Waiting reasons after which a container will not start without someone changing something.
TERMINAL_WAITING_REASONS = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError",
     "CreateContainerError", "ErrImageNeverPull"}
)


def condition(obj: Obj, type_: str) -> Mapping[str, Any] | None:
    """The status condition of ``type_``, or None."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def condition_is(obj: Obj, type_: str, status: str = "True") -> bool:
    cond = condition(obj, type_)
    return cond is not None and str(cond.get("status")) == status


def conditions_summary(obj: Obj) -> str:
    conds = (obj.get("status") or {}).get("conditions") or []
    if not conds:
        return "no conditions"
    return ", ".join(
        f"{c.get('type')}={c.get('status')}" + (f" ({c.get('reason')})" if c.get("reason") else "")
        for c in conds
    )


def _container_statuses(pod: Obj) -> list[Mapping[str, Any]]:
    status = pod.get("status") or {}
    return list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])


def pod_terminal_reason(pod: Obj) -> str | None:
    """Why a pod will never become ready/complete, or None while it still may.

    Covers waiting reasons such as CrashLoopBackOff and image pull failures, and a Failed phase.
    """
    name = (pod.get("metadata") or {}).get("name", "?")
    for cs in _container_statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in TERMINAL_WAITING_REASONS:
            msg = f": {waiting['message']}" if waiting.get("message") else ""
            return f"pod {name} container {cs.get('name')} is {waiting['reason']}{msg}"
    if (pod.get("status") or {}).get("phase") == "Failed":
        for cs in _container_statuses(pod):
            term = (cs.get("state") or {}).get("terminated") or {}
            if term and term.get("exitCode", 0) != 0:
                return (f"pod {name} failed: container {cs.get('name')} exited {term.get('exitCode')}"
                        f" ({term.get('reason') or 'Error'})")
        return f"pod {name} failed"
    return None


def pod_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and condition_is(pod, "Ready")


def pod_summary(pod: Obj) -> str:
    """``example-0 Running 1/1`` style, with the first interesting container state."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    containers = list(status.get("containerStatuses") or [])
    ready = sum(1 for c in containers if c.get("ready"))
    total = len((pod.get("spec") or {}).get("containers") or containers)
    detail = ""
    for cs in _container_statuses(pod):
        state = cs.get("state") or {}
        if "waiting" in state and (state["waiting"] or {}).get("reason"):
            detail = f" ({cs.get('name')}: {state['waiting']['reason']})"
            break
    return f"{meta.get('name')} {status.get('phase', 'Pending')} {ready}/{total}{detail}"


def job_failed(job: Obj) -> str | None:
    """Why a Job has failed for good, or None."""
    cond = condition(job, "Failed")
    if cond and cond.get("status") == "True":
        name = (job.get("metadata") or {}).get("name", "?")
        return f"job {name} failed: {cond.get('reason', '')} {cond.get('message', '')}".strip()
    return None


def job_complete(job: Obj) -> bool:
    return condition_is(job, "Complete")


def deployment_ready(dep: Obj) -> bool:
    spec = dep.get("spec") or {}
    status = dep.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    return (
        int(status.get("readyReplicas") or 0) >= wanted
        and int(status.get("updatedReplicas") or 0) >= wanted
        and int(status.get("observedGeneration") or 0) >= int((dep.get("metadata") or {}).get("generation") or 0)
    )


def deployment_summary(dep: Obj) -> str:
    spec = dep.get("spec") or {}
    status = dep.get("status") or {}
    return (f"{(dep.get('metadata') or {}).get('name')} ready {status.get('readyReplicas') or 0}/"
            f"{spec.get('replicas', 1)}, up-to-date {status.get('updatedReplicas') or 0}, "
            f"available {status.get('availableReplicas') or 0}")


def promise_status(promise: Obj) -> str:
    """``.status.status`` of a Promise (``Available`` / ``Unavailable`` / empty)."""
    return str((promise.get("status") or {}).get("status") or "")


def kratix_failure(obj: Obj) -> str | None:
    """A Kratix workflow failure on a Promise or resource request, or None.

    Kratix marks ``ConfigureWorkflowCompleted`` False with reason ``ConfigureWorkflowFailed``.
    """
    cond = condition(obj, "ConfigureWorkflowCompleted")
    if cond and cond.get("status") == "False" and cond.get("reason") == "ConfigureWorkflowFailed":
        return f"{cond.get('reason')}: {cond.get('message', '')}".strip()
    return None


def kratix_summary(obj: Obj) -> str:
    status = obj.get("status") or {}
    bits = []
    if status.get("status"):
        bits.append(f"status={status['status']}")
    if status.get("message"):
        bits.append(f"message={status['message']!r}")
    bits.append(conditions_summary(obj))
    return "; ".join(bits)


def pvc_summary(pvc: Obj) -> str:
    spec = pvc.get("spec") or {}
    status = pvc.get("status") or {}
    req = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    cap = (status.get("capacity") or {}).get("storage")
    return f"{(pvc.get('metadata') or {}).get('name')} {status.get('phase', 'Pending')} request={req} capacity={cap}"
