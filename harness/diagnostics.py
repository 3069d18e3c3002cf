"""Collect evidence from clusters when a step fails: events, object YAML, pod logs (previous too).

Works the same on every target because it only uses the kube adapter. Targets add their own extras
(``kind export logs``, the simulated controllers' log) through ``Target.collect_extra_diagnostics``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from harness.conditions import conditions_summary, pod_terminal_reason
from harness.kube import Kube, KubeError

# (apiVersion, kind) dumped as YAML from every cluster, when the cluster serves them.
KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "Pod"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "PersistentVolume"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
    ("platform.kratix.io/v1alpha1", "Promise"),
    ("platform.kratix.io/v1alpha1", "Work"),
    ("platform.kratix.io/v1alpha1", "WorkPlacement"),
    ("platform.kratix.io/v1alpha1", "Destination"),
    ("platform.kratix.io/v1alpha1", "BucketStateStore"),
    ("platform.kratix.io/v1alpha1", "GitStateStore"),
    ("acid.zalan.do/v1", "postgresql"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    ("source.toolkit.fluxcd.io/v1beta2", "Bucket"),
    ("source.toolkit.fluxcd.io/v1", "GitRepository"),
)
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(text: str) -> str:
    """A file-name-safe version of a scenario or step name."""
    return _SAFE.sub("-", text).strip("-")[:80] or "unnamed"


def _dump(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def _promise_api_kinds(kube: Kube) -> list[tuple[str, str]]:
    """The request kinds of every installed Promise, so their objects are dumped too."""
    kinds = []
    for promise in kube.list("platform.kratix.io/v1alpha1", "Promise"):
        api = (promise.get("spec") or {}).get("api") or {}
        spec = api.get("spec") or {}
        for version in spec.get("versions") or []:
            if version.get("storage") or len(spec.get("versions") or []) == 1:
                kinds.append((f"{spec.get('group')}/{version.get('name')}", (spec.get("names") or {}).get("kind", "")))
    return kinds


def _redact_secrets(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") == "Secret":
        obj = dict(obj)
        obj["data"] = {k: "***" for k in (obj.get("data") or {})}
        obj.pop("stringData", None)
    return obj


def collect_cluster(kube: Kube, dest: Path) -> list[str]:
    """Dump one cluster into ``dest``; return findings worth a line in the report."""
    findings: list[str] = []
    dest.mkdir(parents=True, exist_ok=True)
    try:
        kinds = list(KINDS) + _promise_api_kinds(kube)
    except KubeError as exc:
        kinds = list(KINDS)
        findings.append(f"[{kube.name}] cannot list promises: {exc}")
    for api_version, kind in kinds:
        try:
            objects = kube.list(api_version, kind)
        except KubeError as exc:
            findings.append(f"[{kube.name}] cannot list {kind}: {exc.server_message}")
            continue
        if not objects:
            continue
        _dump(dest / "objects" / f"{slug(kind)}.{slug(api_version)}.yaml",
              [_redact_secrets(o) for o in objects])
        for obj in objects:
            meta = obj.get("metadata") or {}
            if kind == "Pod":
                reason = pod_terminal_reason(obj)
                if reason:
                    findings.append(f"[{kube.name}] {reason}")
            elif "Failed" in conditions_summary(obj) or "=False" in conditions_summary(obj):
                findings.append(f"[{kube.name}] {kind}/{meta.get('name')}: {conditions_summary(obj)}")
    try:
        events = kube.events()
    except KubeError as exc:
        events = []
        findings.append(f"[{kube.name}] cannot list events: {exc.server_message}")
    lines = []
    for ev in events:
        inv = ev.get("involvedObject") or {}
        lines.append(
            f"{ev.get('lastTimestamp') or ev.get('eventTime') or ''} {ev.get('type', '')} {ev.get('reason', '')} "
            f"{inv.get('kind', '')}/{inv.get('name', '')} -n {inv.get('namespace') or '-'}: {ev.get('message', '')}"
        )
        if ev.get("type") == "Warning":
            findings.append(f"[{kube.name}] event {ev.get('reason')} on {inv.get('kind')}/{inv.get('name')}: "
                            f"{ev.get('message', '')}")
    (dest / "events.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    _collect_logs(kube, dest / "logs")
    return findings


def _collect_logs(kube: Kube, dest: Path) -> None:
    try:
        pods = kube.list("v1", "Pod")
    except KubeError:
        return
    for pod in pods:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        restarts = {
            cs.get("name"): int(cs.get("restartCount") or 0)
            for cs in list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
        }
        for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            name = container.get("name")
            base = dest / slug(meta.get("namespace", "")) / slug(meta.get("name", "")) / slug(name or "")
            for previous in (False, True):
                if previous and not restarts.get(name):
                    continue
                try:
                    text = kube.logs(meta["name"], meta["namespace"], container=name, previous=previous)
                except KubeError as exc:
                    text = f"(no log: {exc.server_message})\n"
                base.parent.mkdir(parents=True, exist_ok=True)
                base.with_suffix(".previous.log" if previous else ".log").write_text(text)


def collect(kubes: Iterable[Kube], dest: Path) -> list[str]:
    """Dump every given cluster under ``dest/<cluster name>``; return the findings across them."""
    findings: list[str] = []
    for kube in kubes:
        try:
            findings.extend(collect_cluster(kube, dest / slug(kube.name)))
        except Exception as exc:  # diagnostics must never hide the original failure
            findings.append(f"[{kube.name}] diagnostics incomplete: {type(exc).__name__}: {exc}")
    return findings
