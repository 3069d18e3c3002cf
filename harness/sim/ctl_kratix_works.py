"""Kratix's Works, their scheduling to Destinations (WorkPlacements) and the writes to the state store.

Shapes follow Kratix: a Work holds ``workloadGroups`` (one per scheduling directory) of gzip+base64
``workloads``; the scheduler creates one WorkPlacement per group and target Destination
(``<work>.<destination>-<5 of the group id>``), one random Destination for resource Works and every
matching one for dependency Works; the WorkPlacement controller writes the files under
``<destination path>/dependencies/<promise>/<pipeline>/<id>/`` or
``<destination path>/resources/<ns>/<promise>/<request>/<pipeline>/<id>/`` and removes them on deletion.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.conditions import condition_is
from harness.kube import Kube
from harness.sim.bucket import BucketMissing
from harness.sim.ctl_base import (
    Controller,
    EventRecorder,
    Informer,
    Obj,
    SimContext,
    deleting,
    labels_of,
    meta,
    name_of,
    ns_of,
    owner_ref,
    same_conditions,
    set_condition,
    uid_of,
)

API = "platform.kratix.io/v1alpha1"
SYSTEM_NS = "kratix-platform-system"
PROMISE_LABEL = "kratix.io/promise-name"
RESOURCE_LABEL = "kratix.io/resource-name"
PIPELINE_LABEL = "kratix.io/pipeline-name"
WORK_TYPE_LABEL = "kratix.io/work-type"
WORK_LABEL = "kratix.io/work"
GROUP_ID_LABEL = "kratix.io/workload-group-id"
TARGET_LABEL = "kratix.io/targetDestinationName"
WP_FINALIZER = "finalizers.workplacement.kratix.io/repo-cleanup"
DEFAULT_DIRECTORY = "."


class PipelineOutputError(ValueError):
    """The pipeline's metadata (destination-selectors.yaml) is invalid; the message names the problem."""


def compress(data: bytes) -> str:
    """A workload's ``content`` as Kratix stores it: gzip, then base64."""
    return base64.b64encode(gzip.compress(data, mtime=0)).decode()


def decompress(content: str) -> bytes:
    """The file bytes of a workload ``content`` (gzip+base64; plain text is passed through)."""
    try:
        return gzip.decompress(base64.b64decode(content, validate=True))
    except (ValueError, OSError):
        return content.encode()


def group_id(directory: str) -> str:
    """Kratix's workload group id: the md5 hex of the directory (``.`` for the default group)."""
    return hashlib.md5(directory.encode()).hexdigest()


def short_id(identifier: str) -> str:
    return identifier[:5]


def promise_selectors(promise: Mapping[str, Any]) -> dict[str, str]:
    """``spec.destinationSelectors`` of a Promise squashed into one label map."""
    merged: dict[str, str] = {}
    for selector in (promise.get("spec") or {}).get("destinationSelectors") or []:
        merged.update({str(k): str(v) for k, v in (selector.get("matchLabels") or {}).items()})
    return merged


def read_destination_selectors(metadata_dir: Path) -> list[dict[str, Any]]:
    """``/kratix/metadata/destination-selectors.yaml`` as Kratix validates it.

    Raises:
        PipelineOutputError: unparsable, an entry without matchLabels, duplicates or sub-directories.
    """
    path = metadata_dir / "destination-selectors.yaml"
    if not path.is_file():
        return []
    try:
        entries = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError as exc:
        raise PipelineOutputError(f"invalid destination-selectors.yaml: {' '.join(str(exc).split())}") from None
    if not isinstance(entries, list):
        raise PipelineOutputError("invalid destination-selectors.yaml: expected a list")
    seen: set[str] = set()
    result = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("matchLabels"):
            raise PipelineOutputError(f"invalid destination-selectors.yaml: entry with index {index} has no selectors")
        directory = str(Path(str(entry.get("directory") or "."))).strip("/") or DEFAULT_DIRECTORY
        if directory in seen:
            raise PipelineOutputError(f"duplicate entries in destination-selectors.yaml: {directory}")
        if "/" in directory:
            raise PipelineOutputError(f"invalid directory in destination-selectors.yaml: {directory}, "
                                      "sub-directories are not allowed")
        seen.add(directory)
        result.append({"directory": directory,
                       "matchLabels": {str(k): str(v) for k, v in entry["matchLabels"].items()}})
    return result


def _workloads(root: Path, base: Path, skip: Iterable[str] = ()) -> list[dict[str, str]]:
    skipped = set(skip)
    found = []
    for path in sorted(base.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root)
        if rel.parts and rel.parts[0] in skipped and base == root:
            continue
        found.append({"filepath": rel.as_posix(), "content": compress(path.read_bytes())})
    return found


def workload_groups(output_dir: Path, metadata_dir: Path, promise: Mapping[str, Any], workflow_type: str
                    ) -> list[dict[str, Any]]:
    """The Work's ``workloadGroups`` from a pipeline's output, as Kratix's work-creator builds them."""
    selectors = read_destination_selectors(metadata_dir)
    groups: list[dict[str, Any]] = []
    directories = [s["directory"] for s in selectors if s["directory"] != DEFAULT_DIRECTORY]
    default_labels: dict[str, str] | None = None
    for sel in selectors:
        if sel["directory"] == DEFAULT_DIRECTORY:
            default_labels = sel["matchLabels"]
            continue
        groups.append({
            "workloads": _workloads(output_dir, output_dir / sel["directory"]),
            "directory": sel["directory"],
            "id": group_id(sel["directory"]),
            "destinationSelectors": [{"matchLabels": sel["matchLabels"], "source": f"{workflow_type}-workflow"}],
        })
    workloads = _workloads(output_dir, output_dir, skip=directories) if output_dir.is_dir() else []
    if workloads:
        default: dict[str, Any] = {"workloads": workloads, "directory": DEFAULT_DIRECTORY,
                                   "id": group_id(DEFAULT_DIRECTORY)}
        scheduling = []
        if default_labels is not None:
            scheduling.append({"matchLabels": default_labels, "source": f"{workflow_type}-workflow"})
        if promise_selectors(promise):
            scheduling.append({"matchLabels": promise_selectors(promise), "source": "promise"})
        if scheduling:
            default["destinationSelectors"] = scheduling
        groups.append(default)
    return groups


def dependencies_work_groups(promise: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The single workload group of a Promise's static ``spec.dependencies``."""
    deps = (promise.get("spec") or {}).get("dependencies") or []
    content = yaml.safe_dump_all(deps, sort_keys=False).encode()
    group: dict[str, Any] = {
        "id": group_id(DEFAULT_DIRECTORY), "directory": DEFAULT_DIRECTORY,
        "workloads": [{"filepath": f"static/{name_of(promise)}-dependencies.yaml", "content": compress(content)}],
    }
    if promise_selectors(promise):
        group["destinationSelectors"] = [{"matchLabels": promise_selectors(promise), "source": "promise"}]
    return [group]


def destination_matches(destination: Mapping[str, Any], selectors: Mapping[str, str]) -> bool:
    """Kratix's scheduling predicate: labels ⊇ selectors; a strictMatchLabels Destination needs selectors."""
    if deleting(destination):
        return False
    if (destination.get("spec") or {}).get("strictMatchLabels") and not selectors:
        return False
    labels = labels_of(destination)
    return all(labels.get(k) == v for k, v in selectors.items())


def group_selectors(group: Mapping[str, Any]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for scheduling in group.get("destinationSelectors") or []:
        merged.update({str(k): str(v) for k, v in (scheduling.get("matchLabels") or {}).items()})
    return merged


def placement_dir(wp: Mapping[str, Any]) -> str:
    """The directory (below the Destination's path) a WorkPlacement's files go to (nestedByMetadata)."""
    spec = wp.get("spec") or {}
    pipeline = labels_of(wp).get(PIPELINE_LABEL, "")
    parts: list[str]
    if not spec.get("resourceName"):
        parts = ["dependencies", str(spec.get("promiseName")), pipeline, short_id(str(spec.get("id")))]
    else:
        parts = ["resources", ns_of(wp) or "", str(spec.get("promiseName")), str(spec.get("resourceName")),
                 pipeline, short_id(str(spec.get("id")))]
    return "/".join(p for p in parts if p)


class WorkController(Controller):
    """Schedules Works to Destinations and writes WorkPlacements to their state stores."""

    name = "kratix-works"

    def __init__(self, ctx: SimContext, kube: Kube, *, works: Informer, placements: Informer,
                 destinations: Informer, bucket_stores: Informer, events: EventRecorder) -> None:
        super().__init__(ctx)
        self.kube = kube
        self.works = works
        self.placements = placements
        self.destinations = destinations
        self.bucket_stores = bucket_stores
        self.events = events
        self.watch(works, placements, destinations, bucket_stores)
        self._written: dict[str, str] = {}  # placement uid -> resourceVersion last written

    def reconcile(self) -> None:
        works = {(ns_of(w), name_of(w)): w for w in self.works.items()}
        for work in works.values():
            self.safely(f"Work/{name_of(work)}", self._work, work)
        for wp in self.placements.items():
            self.safely(f"WorkPlacement/{name_of(wp)}", self._placement, wp, works)

    # -- scheduling --------------------------------------------------------------------------------

    def _work(self, work: Obj) -> None:
        if deleting(work):
            return
        ns = ns_of(work)
        mine = [wp for wp in self.placements.items(ns) if labels_of(wp).get(WORK_LABEL) == name_of(work)]
        is_resource = labels_of(work).get(WORK_TYPE_LABEL) == "resource" or bool(
            (work.get("spec") or {}).get("resourceName"))
        groups = (work.get("spec") or {}).get("workloadGroups") or []
        unscheduled: list[str] = []
        wanted: set[str] = set()
        for group in groups:
            gid = str(group.get("id"))
            existing = [wp for wp in mine if labels_of(wp).get(GROUP_ID_LABEL) == gid and not deleting(wp)]
            selectors = group_selectors(group)
            matching = [name_of(d) for d in self.destinations.items() if destination_matches(d, selectors)]
            if is_resource and existing:
                targets = [str((existing[0].get("spec") or {}).get("targetDestinationName"))]
            elif is_resource:
                targets = [random.choice(matching)] if matching else []
            else:
                targets = sorted(set(matching) | {str((wp.get("spec") or {}).get("targetDestinationName"))
                                                  for wp in existing})
            if not targets:
                unscheduled.append(gid)
                continue
            for target in targets:
                wanted.add(self._ensure_placement(work, group, target, misplaced=target not in matching))
        for wp in mine:
            if name_of(wp) not in wanted and not deleting(wp):
                self.kube.delete(API, "WorkPlacement", name_of(wp), ns)
        self._work_status(work, groups, unscheduled, [wp for wp in mine if name_of(wp) in wanted])

    def _ensure_placement(self, work: Obj, group: Mapping[str, Any], target: str, *, misplaced: bool) -> str:
        gid = str(group.get("id"))
        wp_name = f"{name_of(work)}.{target}-{short_id(gid)}"
        labels = {WORK_LABEL: name_of(work), GROUP_ID_LABEL: gid, TARGET_LABEL: target,
                  PIPELINE_LABEL: labels_of(work).get(PIPELINE_LABEL, "")}
        if misplaced:
            labels["kratix.io/misplaced"] = "true"
        spec = {"targetDestinationName": target, "workloads": group.get("workloads") or [],
                "promiseName": (work.get("spec") or {}).get("promiseName", ""),
                "resourceName": (work.get("spec") or {}).get("resourceName", ""), "id": gid}
        current = self.placements.get(wp_name, ns_of(work))
        if current is None:
            created = self.kube.create({
                "apiVersion": API, "kind": "WorkPlacement",
                "metadata": {"name": wp_name, "namespace": ns_of(work), "labels": labels,
                             "finalizers": [WP_FINALIZER], "ownerReferences": [owner_ref(work)]},
                "spec": spec,
            })
            self.placements.remember(created)
            self.events.event(work, "Normal", "WorkplacementReconciled",
                              f"workplacement reconciled: {wp_name}, operation: created")
        elif (current.get("spec") or {}) != {**(current.get("spec") or {}), **spec} or \
                {**labels_of(current), **labels} != labels_of(current):
            self.placements.remember(self.kube.patch(API, "WorkPlacement", wp_name,
                                                     {"metadata": {"labels": labels}, "spec": spec}, ns_of(work)))
        return wp_name

    def _work_status(self, work: Obj, groups: list[Any], unscheduled: list[str], placements: list[Obj]) -> None:
        status = work.get("status") or {}
        conditions = list(status.get("conditions") or [])
        written = all(condition_is(wp, "WriteSucceeded") for wp in placements)
        if unscheduled:
            message = f"No matching destination found for workloadGroups: [{','.join(unscheduled)}]"
            conditions = set_condition(conditions, "ScheduleSucceeded", "False", "UnscheduledWorkloads", message)
            conditions = set_condition(conditions, "Ready", "False", "UnscheduledWorkloads", "Pending")
        else:
            conditions = set_condition(conditions, "ScheduleSucceeded", "True", "AllWorkplacementsScheduled",
                                       "All workplacements scheduled successfully")
            if written:
                conditions = set_condition(conditions, "Ready", "True", "AllWorkplacementsScheduled", "Ready")
            else:
                conditions = set_condition(conditions, "Ready", "False", "WorkplacementsPending", "Pending")
        new = {"conditions": conditions, "workPlacements": len(groups),
               "workPlacementsCreated": len(groups) - len(unscheduled)}
        if same_conditions(status.get("conditions") or [], conditions) and \
                status.get("workPlacements") == new["workPlacements"] and \
                status.get("workPlacementsCreated") == new["workPlacementsCreated"]:
            return
        # Events only on a status change, so a Work waiting for a Destination does not flood the event list.
        for gid in unscheduled:
            self.events.event(work, "Normal", "NoMatchingDestination",
                              f"waiting for a destination with labels for workloadGroup: {gid}")
        if not unscheduled and written and not condition_is(work, "Ready"):
            self.events.event(work, "Normal", "AllWorkplacementsScheduled", "All workplacements scheduled successfully")
        self.works.remember(self.kube.patch(API, "Work", name_of(work), {"status": new}, ns_of(work),
                                            subresource="status"))

    # -- writing to the state store ----------------------------------------------------------------

    def _store_for(self, destination_name: str) -> tuple[str, str] | None:
        """(bucket, key prefix) of a Destination's BucketStateStore, or None when it cannot be written."""
        dest = self.destinations.get(destination_name)
        if dest is None:
            return None
        ref = (dest.get("spec") or {}).get("stateStoreRef") or {}
        if ref.get("kind") != "BucketStateStore":
            return None
        store = self.bucket_stores.get(str(ref.get("name")))
        if store is None:
            return None
        sspec = store.get("spec") or {}
        prefix = "/".join(p for p in (str(sspec.get("path") or ""), str((dest.get("spec") or {}).get("path") or ""))
                          if p.strip("/"))
        return str(sspec.get("bucketName") or ""), prefix

    def _placement(self, wp: Obj, works: Mapping[tuple[str | None, str], Obj]) -> None:
        spec = wp.get("spec") or {}
        target = str(spec.get("targetDestinationName") or "")
        where = self._store_for(target)
        if deleting(wp) or (ns_of(wp), labels_of(wp).get(WORK_LABEL, "")) not in works:
            if where is not None:
                self.ctx.bucket.delete_prefix(where[0], f"{where[1]}/{placement_dir(wp)}")
            if not deleting(wp):
                self.kube.delete(API, "WorkPlacement", name_of(wp), ns_of(wp))
                return
            finalizers = [f for f in meta(wp).get("finalizers") or [] if f != WP_FINALIZER]
            self.kube.patch(API, "WorkPlacement", name_of(wp), {"metadata": {"finalizers": finalizers or None}},
                            ns_of(wp))
            self._written.pop(uid_of(wp), None)
            return
        conditions = list((wp.get("status") or {}).get("conditions") or [])
        misplaced = labels_of(wp).get("kratix.io/misplaced") == "true"
        conditions = set_condition(
            conditions, "ScheduleSucceeded", "False" if misplaced else "True",
            "DestinationSelectorMismatch" if misplaced else "ScheduledToDestination",
            "Target destination no longer matches destinationSelectors" if misplaced
            else "Scheduled to correct Destination")
        version_id = (wp.get("status") or {}).get("versionID")
        if where is None:
            conditions = set_condition(conditions, "WriteSucceeded", "False", "WorkloadsFailedWrite",
                                       f"Destination {target!r} or its state store is not available")
            conditions = set_condition(conditions, "Ready", "False", "WorkloadsFailedWrite", "Failing")
        else:
            bucket, prefix = where
            if self._written.get(uid_of(wp)) != meta(wp).get("resourceVersion"):
                files = {w["filepath"]: decompress(str(w.get("content") or "")) for w in spec.get("workloads") or []}
                try:
                    self.ctx.bucket.replace_prefix(bucket, f"{prefix}/{placement_dir(wp)}", files)
                except BucketMissing as exc:
                    conditions = set_condition(conditions, "WriteSucceeded", "False", "WorkloadsFailedWrite", str(exc))
                    conditions = set_condition(conditions, "Ready", "False", "WorkloadsFailedWrite", "Failing")
                    self._write_wp_status(wp, conditions, version_id)
                    return
                self._written[uid_of(wp)] = str(meta(wp).get("resourceVersion"))
                version_id = hashlib.sha1(
                    repr(sorted(files.items())).encode()).hexdigest()
            conditions = set_condition(conditions, "WriteSucceeded", "True", "WorkloadsWrittenToStateStore",
                                       "Workloads written to state store")
            conditions = set_condition(conditions, "Ready", "False" if misplaced else "True",
                                       "Misplaced" if misplaced else "WorkloadsWrittenToStateStore",
                                       "Misplaced" if misplaced else "Ready")
        self._write_wp_status(wp, conditions, version_id)

    def _write_wp_status(self, wp: Obj, conditions: list[dict[str, Any]], version_id: Any) -> None:
        status = wp.get("status") or {}
        if same_conditions(status.get("conditions") or [], conditions) and status.get("versionID") == version_id:
            return
        patch: dict[str, Any] = {"conditions": conditions}
        if version_id:
            patch["versionID"] = version_id
        self.placements.remember(self.kube.patch(API, "WorkPlacement", name_of(wp), {"status": patch}, ns_of(wp),
                                                 subresource="status"))


def work_ready(work: Mapping[str, Any]) -> bool:
    """A Work is ready when every workload group is placed and written."""
    return condition_is(work, "Ready")
