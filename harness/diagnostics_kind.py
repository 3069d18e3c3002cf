"""Extra evidence on failure for real clusters (kind and existing), on top of ``harness.diagnostics``.

``harness.diagnostics`` dumps objects, events and every container log of both clusters. This adds what a
person debugging Kratix looks at first, as short files next to that dump:

* ``kratix-controller.log`` (+ ``.previous.log`` after a restart) and its error lines as findings;
* ``pipeline-pods.txt``: every Kratix pipeline pod (``app.kubernetes.io/managed-by=Kratix``) with its state;
* ``works.txt``: Works and WorkPlacements with their destination and conditions;
* ``flux.txt``: the worker's Flux Buckets and Kustomizations with their Ready message;
* ``describe/``: ``kubectl describe``-like YAML (object + its events) for each pod that is stuck or failed
  and each Kratix/Flux object with a False condition;
* ``kind-logs/<cluster>/``: ``kind export logs`` (node journal, kubelet, containerd, pod logs) for kind.

Every collector is independent: one failing (cluster gone, API down) is reported and the rest still run.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from harness import conditions
from harness.bootstrap import KRATIX_NAMESPACE
from harness.kratix_install import FLUX_KUSTOMIZE_API, FLUX_SOURCE_API, KRATIX_API
from harness.kube import Kube, KubeError, Ref
from harness.targets.base import Clusters
from harness.tools import ToolError, ToolNotFound, ToolTimeout, run

CONTROLLER_LABELS = "control-plane=controller-manager"
PIPELINE_LABELS = "app.kubernetes.io/managed-by=Kratix"
FLUX_KINDS = ((FLUX_SOURCE_API, "Bucket"), ("source.toolkit.fluxcd.io/v1", "GitRepository"),
              (FLUX_KUSTOMIZE_API, "Kustomization"))
_ERROR_LINE = re.compile(r'\bERROR\b|"level":"error"')
_MAX_ERROR_FINDINGS = 5
_KIND_EXPORT_TIMEOUT = 300.0


def collect_real_cluster_extras(clusters: Clusters, dest: Path, *, kind_clusters: Iterable[str] = ()) -> list[str]:
    """Write the extras under ``dest`` and return findings (one line each) for the report."""
    dest.mkdir(parents=True, exist_ok=True)
    findings: list[str] = []
    platform, worker = clusters.platform, clusters.worker
    collectors: list[tuple[str, Callable[[], list[str]]]] = [
        ("kratix controller logs", lambda: kratix_controller_logs(platform, dest)),
        ("pipeline pods", lambda: pipeline_pods(platform, dest)),
        ("works", lambda: works(platform, dest)),
        ("flux", lambda: flux_objects(worker, dest)),
        ("describe", lambda: describe_troubled(clusters.all, dest / "describe")),
    ]
    for name in kind_clusters:
        collectors.append((f"kind export logs {name}", functools.partial(kind_export_logs, name, dest / "kind-logs")))
    for what, collect in collectors:
        try:
            findings.extend(collect())
        except Exception as exc:  # evidence collection must never hide the original failure
            findings.append(f"diagnostics: {what} incomplete: {type(exc).__name__}: {_first_line(str(exc))}")
    return findings


def kratix_controller_logs(platform: Kube, dest: Path) -> list[str]:
    pods = platform.list("v1", "Pod", KRATIX_NAMESPACE, labels=CONTROLLER_LABELS)
    if not pods:
        return [f"[{platform.name}] no Kratix controller pod ({CONTROLLER_LABELS}) in {KRATIX_NAMESPACE}"]
    findings: list[str] = []
    for pod in pods:
        name = pod["metadata"]["name"]
        restarts = sum(int(cs.get("restartCount") or 0) for cs in (pod.get("status") or {}).get("containerStatuses")
                       or [])
        for previous in (False, True):
            if previous and not restarts:
                continue
            try:
                text = platform.logs(name, KRATIX_NAMESPACE, container="manager", previous=previous)
            except KubeError as exc:
                text = f"(no log: {exc.server_message})\n"
            suffix = ".previous.log" if previous else ".log"
            (dest / f"kratix-controller{suffix}").write_text(text)
            errors = [line.strip() for line in text.splitlines() if _ERROR_LINE.search(line)]
            findings += [f"[{platform.name}] kratix controller{' (previous)' if previous else ''}: {_short(e)}"
                         for e in errors[-_MAX_ERROR_FINDINGS:]]
        if restarts:
            findings.append(f"[{platform.name}] kratix controller pod {name} restarted {restarts} time(s)")
    return findings


def pipeline_pods(platform: Kube, dest: Path) -> list[str]:
    pods = platform.list("v1", "Pod", labels=PIPELINE_LABELS)
    lines, findings = [], []
    for pod in sorted(pods, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or "")):
        meta = pod["metadata"]
        labels = meta.get("labels") or {}
        lines.append(
            f"{meta.get('namespace')}/{conditions.pod_summary(pod)} promise={labels.get('kratix.io/promise-name')} "
            f"resource={labels.get('kratix.io/resource-name', '-')} pipeline={labels.get('kratix.io/pipeline-name')} "
            f"action={labels.get('kratix.io/workflow-action')}")
        reason = conditions.pod_terminal_reason(pod)
        if reason:
            findings.append(f"[{platform.name}] pipeline {reason}")
    (dest / "pipeline-pods.txt").write_text("\n".join(lines) + "\n" if lines else "(no pipeline pods)\n")
    return findings


def works(platform: Kube, dest: Path) -> list[str]:
    lines = []
    for kind in ("Work", "WorkPlacement"):
        for obj in platform.list(KRATIX_API, kind):
            meta = obj["metadata"]
            spec = obj.get("spec") or {}
            target = spec.get("targetDestinationName") or ""
            lines.append(f"{kind}/{meta['name']} -n {meta.get('namespace', '-')}"
                         f"{' -> ' + target if target else ''}: {conditions.conditions_summary(obj)}")
    (dest / "works.txt").write_text("\n".join(lines) + "\n" if lines else "(no works)\n")
    return []


def flux_objects(worker: Kube, dest: Path) -> list[str]:
    lines, findings = [], []
    for api_version, kind in FLUX_KINDS:
        for obj in worker.list(api_version, kind):
            meta = obj["metadata"]
            ready = conditions.condition(obj, "Ready") or {}
            lines.append(f"{kind}/{meta['name']} -n {meta.get('namespace')}: Ready={ready.get('status', '?')} "
                         f"{ready.get('reason', '')} {ready.get('message', '')}".rstrip())
            if ready.get("status") == "False":
                findings.append(f"[{worker.name}] {kind}/{meta['name']} not Ready: {ready.get('message', '')}")
    (dest / "flux.txt").write_text("\n".join(lines) + "\n" if lines else "(no Flux objects)\n")
    return findings


def _troubled(obj: dict[str, Any]) -> bool:
    if obj.get("kind") == "Pod":
        phase = (obj.get("status") or {}).get("phase")
        return phase not in ("Succeeded",) and not conditions.pod_ready(obj)
    return any(str(c.get("status")) == "False" for c in (obj.get("status") or {}).get("conditions") or [])


def describe_troubled(kubes: Iterable[Kube], dest: Path) -> list[str]:
    """A describe-equivalent file per troubled object: its YAML and the events about it."""
    kinds = [("v1", "Pod"), (KRATIX_API, "Promise"), (KRATIX_API, "Destination"), (KRATIX_API, "BucketStateStore"),
             (KRATIX_API, "Work"), (KRATIX_API, "WorkPlacement"), *FLUX_KINDS]
    for kube in kubes:
        for api_version, kind in kinds:
            for obj in kube.list(api_version, kind):
                obj.setdefault("kind", kind)
                if not _troubled(obj):
                    continue
                ref = Ref.of(obj)
                try:
                    events = kube.events(about=ref)
                except KubeError:
                    events = []
                name = f"{kube.name}.{kind}.{ref.namespace or '_'}.{ref.name}.yaml"
                dest.mkdir(parents=True, exist_ok=True)
                (dest / name).write_text(yaml.safe_dump_all([obj, {"events": [_event_line(e) for e in events]}],
                                                            sort_keys=False))
    return []


def kind_export_logs(cluster: str, dest: Path) -> list[str]:
    """``kind export logs <dest>/<cluster> --name <cluster>``."""
    target = dest / cluster
    try:
        run(["kind", "export", "logs", str(target), "--name", cluster], timeout=_KIND_EXPORT_TIMEOUT)
    except (ToolError, ToolTimeout, ToolNotFound) as exc:
        return [f"kind export logs for {cluster} failed: {_first_line(str(exc))}"]
    return []


def _event_line(event: dict[str, Any]) -> str:
    when = event.get("lastTimestamp") or event.get("eventTime") or ""
    count = event.get("count")
    times = f" (x{count})" if count and int(count) > 1 else ""
    return f"{when} {event.get('type', '')} {event.get('reason', '')}{times}: {event.get('message', '')}"


def _short(line: str, limit: int = 240) -> str:
    """A log line for a finding: the message of a JSON log line when there is one, cut to ``limit``."""
    try:
        data = json.loads(line)
        if isinstance(data, dict):
            line = " ".join(str(data.get(k, "")) for k in ("msg", "error") if data.get(k))
    except ValueError:
        pass
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), text)
