"""``kubectl get`` tables: parse what a page shows, render what a cluster has, compare the two.

Parsing keeps the page line of every row. Normalising hides what differs on every run: generated name suffixes
(``-7f58798d5c-sr825``, ``-d22dr``: Kubernetes' random alphabet has no vowels and no 0, 1, 3), UUIDs, AGE,
RESTARTS, IP addresses and node ports. Rendering follows kubectl's printers for pods, deployments, PVCs, PVs,
Promises and custom resources (their CRD's printer columns), so any target (kind or simulated) can produce the
"observed" table for a step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.docs.jsonpath import JsonPathError, find
from harness.docs.shapes import is_table_header

K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_ID = rf"[{K8S_ALPHABET}]{{5}}"
_HASH = rf"[{K8S_ALPHABET}]{{6,10}}"
_DEPLOYMENT_POD = re.compile(rf"^(?P<base>.+)-(?P<hash>{_HASH})-(?P<id>{_ID})$")
_DOUBLE_ID = re.compile(rf"^(?P<base>.+)-(?P<id1>{_ID})-(?P<id2>{_ID})$")
_SINGLE_ID = re.compile(rf"^(?P<base>.+)-(?P<id>{_ID})$")
_ORDINAL = re.compile(r"^(?P<base>.+)-(?P<ordinal>\d+)$")
# What a cluster produced is normalised leniently: simulators and older controllers may draw suffixes from all
# of [a-z0-9]. Page names stay strict, so a real word at the end of a name on the page is never hidden.
_LENIENT_DEPLOYMENT_POD = re.compile(r"^(?P<base>.+)-(?P<hash>[a-z0-9]{6,10})-(?P<id>[a-z0-9]{5})$")
_LENIENT_DOUBLE_ID = re.compile(r"^(?P<base>.+)-(?P<id1>[a-z0-9]{5})-(?P<id2>[a-z0-9]{5})$")
_LENIENT_SINGLE_ID = re.compile(r"^(?P<base>.+)-(?P<id>[a-z0-9]{5})$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_IPV6 = re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}\b")
_NODE_PORT = re.compile(r"(?<=\d):\d{2,5}(?=/(?:TCP|UDP|SCTP))")
_DURATION = re.compile(r"^(?:\d+[smhdy])+$|^<unknown>$|^<invalid>$")
_CELL = re.compile(r"\S+(?: \S+)*")
_AGE_COLUMNS = frozenset({"AGE", "LAST SEEN", "DURATION", "SINCE", "COMPLETIONS AGE"})
_NAME_COLUMNS = frozenset({"NAME", "VOLUME", "CLAIM", "POD", "NODE", "NOMINATED NODE"})


@dataclass(frozen=True)
class Row:
    """One table row: cells by column header; ``line`` is the page line (0 for rendered tables)."""

    cells: Mapping[str, str]
    line: int = 0

    def get(self, column: str, default: str | None = None) -> str | None:
        return self.cells.get(column, default)

    def __getitem__(self, column: str) -> str:
        return self.cells[column]

    @property
    def name(self) -> str:
        return self.cells.get("NAME", "")


@dataclass(frozen=True)
class Table:
    """A kubectl-style table."""

    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    line: int = 0

    def names(self) -> list[str]:
        return [row.name for row in self.rows]

    def final_rows(self) -> list[Row]:
        """The last row per name: what a ``--watch`` table settles on."""
        last: dict[str, Row] = {}
        for row in self.rows:
            key = row.get("NAMESPACE", "") or ""
            last[f"{key}/{row.name}"] = row
        return list(last.values())

    def render(self) -> str:
        """Text as kubectl prints it (left-aligned columns, three spaces apart)."""
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            for i, column in enumerate(self.columns):
                widths[i] = max(widths[i], len(row.cells.get(column, "")))
        lines = []
        for cells in [dict(zip(self.columns, self.columns, strict=True)), *[r.cells for r in self.rows]]:
            parts = [cells.get(c, "").ljust(widths[i]) for i, c in enumerate(self.columns)]
            lines.append("   ".join(parts).rstrip())
        return "\n".join(lines)


def parse_table(lines: Sequence[str], numbers: Sequence[int] | None = None) -> Table | None:
    """The first kubectl table in ``lines`` (None when there is no header row).

    Rows whose cells line up one-to-one with the header are read in order (hand-edited pages are often
    misaligned); otherwise cells are assigned by column position (empty cells, e.g. PV REASON).
    """
    numbers = list(numbers) if numbers is not None else list(range(1, len(lines) + 1))
    start = next((i for i, line in enumerate(lines) if is_table_header(line)), None)
    if start is None:
        return None
    header = lines[start]
    spans = [(m.start(), m.group(0)) for m in re.finditer(r"\S+(?: \S+)*", header)]
    columns = tuple(text for _, text in spans)
    rows: list[Row] = []
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if not line.strip():
            break
        cells = [(m.start(), m.group(0)) for m in _CELL.finditer(line)]
        if len(cells) == len(columns):
            values = {c: v for c, (_, v) in zip(columns, cells, strict=True)}
        else:
            values = {c: "" for c in columns}
            for position, value in cells:
                column = 0
                for i, (start_at, _) in enumerate(spans):
                    if start_at <= position + 2:
                        column = i
                name = columns[column]
                values[name] = f"{values[name]} {value}".strip()
        rows.append(Row(values, numbers[index]))
    return Table(columns, tuple(rows), numbers[start])


def generated_suffix(name: str) -> tuple[str, str] | None:
    """``(base, kind)`` when ``name`` ends in a controller-generated suffix, else None.

    kind: ``replicaset`` (``-<hash>-<id>``, Deployment pods), ``generated`` (``-<id>`` or ``-<id>-<id>``:
    generateName, Job pods), ``ordinal`` (``-<n>``, StatefulSet pods).
    """
    for pattern, kind in ((_DEPLOYMENT_POD, "replicaset"), (_DOUBLE_ID, "generated"), (_SINGLE_ID, "generated")):
        match = pattern.match(name)
        if match:
            return match.group("base"), kind
    match = _ORDINAL.match(name)
    if match:
        return match.group("base"), "ordinal"
    return None


def normalise_name(name: str, *, lenient: bool = False) -> str:
    """``name`` with random parts replaced: ``postgres-operator-<hash>-<id>``, ``pvc-<uuid>``.

    ``lenient`` accepts suffixes drawn from all of [a-z0-9] (for names a cluster produced, see above).
    """
    name = _UUID.sub("<uuid>", name)
    patterns = (
        (_LENIENT_DEPLOYMENT_POD, _LENIENT_DOUBLE_ID, _LENIENT_SINGLE_ID)
        if lenient
        else (_DEPLOYMENT_POD, _DOUBLE_ID, _SINGLE_ID)
    )
    for pattern, replacement in zip(
        patterns, (r"\g<base>-<hash>-<id>", r"\g<base>-<id>-<id>", r"\g<base>-<id>"), strict=True
    ):
        if pattern.match(name):
            return pattern.sub(replacement, name)
    return name


def normalise_cell(column: str, value: str, *, lenient: bool = False) -> str:
    """A cell with its run-specific parts hidden (see the module docstring; ``lenient`` as normalise_name)."""
    value = value.strip()
    column = column.upper()
    if column in _AGE_COLUMNS and (_DURATION.match(value) or not value):
        return "<age>"
    if column == "RESTARTS":
        return "<restarts>" if re.match(r"^\d+", value) else value
    if column in _NAME_COLUMNS:
        value = "/".join(normalise_name(part, lenient=lenient) for part in value.split("/"))
    value = _UUID.sub("<uuid>", value)
    value = _IPV4.sub("<ip>", value)
    value = _IPV6.sub("<ip>", value)
    return _NODE_PORT.sub(":<port>", value)


@dataclass(frozen=True)
class TableDiff:
    """One difference between a shown and an observed table."""

    kind: str  # "column-missing", "column-extra", "row-missing", "row-extra", "row-renamed", "cell"
    shown: str
    observed: str
    line: int  # page line of the shown row (table header line for column differences)
    column: str = ""
    name: str = ""

    def describe(self) -> str:
        if self.kind == "column-missing":
            return f"column {self.column} is shown but kubectl printed no such column"
        if self.kind == "column-extra":
            return f"kubectl printed column {self.column}, which the page does not show"
        if self.kind == "row-missing":
            return f"row {self.shown} is shown but the cluster had no such object"
        if self.kind == "row-extra":
            return f"the cluster also had {self.observed}, which the page does not show"
        if self.kind == "row-renamed":
            return f"the page shows {self.shown}; the cluster produced {self.observed}"
        return f"{self.name}: {self.column} is {self.shown!r} on the page, {self.observed!r} in the cluster"


def _key(row: Row, *, lenient: bool = False) -> str:
    return normalise_name(row.name, lenient=lenient)


def compare_tables(shown: Table, observed: Table, *, compare_extra_rows: bool = True) -> list[TableDiff]:
    """Column-by-column differences between a page's table and the cluster's (normalised, see above)."""
    diffs: list[TableDiff] = []
    common = [c for c in shown.columns if c in observed.columns]
    diffs += [
        TableDiff("column-missing", c, "", shown.line, column=c) for c in shown.columns if c not in observed.columns
    ]
    diffs += [
        TableDiff("column-extra", "", c, shown.line, column=c) for c in observed.columns if c not in shown.columns
    ]
    shown_rows = shown.final_rows()
    observed_rows = observed.final_rows()
    unmatched_observed = list(observed_rows)
    unmatched_shown: list[Row] = []
    for row in shown_rows:
        match = next((o for o in unmatched_observed if _key(o, lenient=True) == _key(row)), None)
        if match is None:
            unmatched_shown.append(row)
            continue
        unmatched_observed.remove(match)
        for column in common:
            if column == "NAME":
                continue
            a = normalise_cell(column, row.cells.get(column, ""))
            b = normalise_cell(column, match.cells.get(column, ""), lenient=True)
            if a != b:
                diffs.append(
                    TableDiff(
                        "cell", row.cells.get(column, ""), match.cells.get(column, ""), row.line, column, row.name
                    )
                )
    # Pair what is left in order: "the page shows one name, the cluster produced another".
    for row in unmatched_shown:
        if unmatched_observed:
            other = unmatched_observed.pop(0)
            diffs.append(TableDiff("row-renamed", row.name, other.name, row.line, "NAME", row.name))
        else:
            diffs.append(TableDiff("row-missing", row.name, "", row.line, "NAME", row.name))
    if compare_extra_rows:
        for other in unmatched_observed:
            diffs.append(TableDiff("row-extra", "", other.name, shown.line, "NAME", other.name))
    return diffs


# ---------------------------------------------------------------- rendering from objects


def human_duration(seconds: float) -> str:
    """kubectl's ``duration.HumanDuration``."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    if isinstance(created, datetime):
        moment = created
    else:
        try:
            moment = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        except ValueError:
            return "<unknown>"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return human_duration((now - moment).total_seconds())


def as_dict(obj: Any) -> dict[str, Any]:
    """An API object as its JSON form (camelCase): dicts pass through, kubernetes models are serialised."""
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "to_dict"):
        from kubernetes.client import ApiClient  # imported lazily: only needed for model objects

        serialised = ApiClient().sanitize_for_serialization(obj)
        if isinstance(serialised, dict):
            return serialised
    raise TypeError(f"cannot render {type(obj).__name__}: pass API objects as dicts or kubernetes models")


def _get(data: Mapping[str, Any], *path: str) -> Any:
    value: Any = data
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _pod_row(pod: Mapping[str, Any], now: datetime) -> dict[str, str]:
    """kubectl's printPod: READY, STATUS (init progress, waiting/terminated reasons), RESTARTS, AGE."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    containers = spec.get("containers") or []
    init_containers = spec.get("initContainers") or []
    reason = status.get("reason") or status.get("phase") or ""
    restarts = 0
    ready = 0
    initializing = False
    for i, state in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(state.get("restartCount") or 0)
        terminated = _get(state, "state", "terminated")
        waiting = _get(state, "state", "waiting")
        if terminated and int(terminated.get("exitCode") or 0) == 0:
            continue
        if terminated:
            reason = "Init:" + (terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
        elif waiting and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + str(waiting["reason"])
        else:
            reason = f"Init:{i}/{len(init_containers)}"
        initializing = True
        break
    if not initializing:
        restarts = 0
        has_running = False
        for state in reversed(status.get("containerStatuses") or []):
            restarts += int(state.get("restartCount") or 0)
            waiting = _get(state, "state", "waiting")
            terminated = _get(state, "state", "terminated")
            if waiting and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif terminated:
                reason = f"ExitCode:{terminated.get('exitCode')}"
            elif state.get("ready") and _get(state, "state", "running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            conditions = status.get("conditions") or []
            is_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if is_ready else "NotReady"
    if _get(pod, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    return {
        "READY": f"{ready}/{len(containers)}",
        "STATUS": reason,
        "RESTARTS": str(restarts),
        "AGE": _age(pod, now),
    }


def _deployment_row(obj: Mapping[str, Any], now: datetime) -> dict[str, str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas", 1)
    return {
        "READY": f"{status.get('readyReplicas') or 0}/{desired}",
        "UP-TO-DATE": str(status.get("updatedReplicas") or 0),
        "AVAILABLE": str(status.get("availableReplicas") or 0),
        "AGE": _age(obj, now),
    }


_ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _modes(modes: Iterable[str] | None) -> str:
    return ",".join(_ACCESS_MODES.get(m, m) for m in modes or [])


def _pvc_row(obj: Mapping[str, Any], now: datetime) -> dict[str, str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    bound = status.get("phase") == "Bound"
    return {
        "STATUS": str(status.get("phase") or ""),
        "VOLUME": str(spec.get("volumeName") or ""),
        "CAPACITY": str(_get(status, "capacity", "storage") or "") if bound else "",
        "ACCESS MODES": _modes(status.get("accessModes")) if bound else "",
        "STORAGECLASS": str(spec.get("storageClassName") or "<unset>"),
        "VOLUMEATTRIBUTESCLASS": str(spec.get("volumeAttributesClassName") or "<unset>"),
        "AGE": _age(obj, now),
    }


def _pv_row(obj: Mapping[str, Any], now: datetime) -> dict[str, str]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    claim = spec.get("claimRef") or {}
    return {
        "CAPACITY": str(_get(spec, "capacity", "storage") or ""),
        "ACCESS MODES": _modes(spec.get("accessModes")),
        "RECLAIM POLICY": str(spec.get("persistentVolumeReclaimPolicy") or ""),
        "STATUS": str(status.get("phase") or ""),
        "CLAIM": f"{claim.get('namespace')}/{claim.get('name')}" if claim.get("name") else "",
        "STORAGECLASS": str(spec.get("storageClassName") or ""),
        "VOLUMEATTRIBUTESCLASS": str(spec.get("volumeAttributesClassName") or "<unset>"),
        "REASON": str(status.get("reason") or ""),
        "AGE": _age(obj, now),
    }


@dataclass(frozen=True)
class PrinterColumn:
    """An additionalPrinterColumns entry."""

    name: str
    json_path: str
    type: str = "string"
    priority: int = 0


# The Promise CRD's printer columns (platform.kratix.io_promises.yaml, kratix ae170e22); used when no CRD is given.
PROMISE_COLUMNS: tuple[PrinterColumn, ...] = (
    PrinterColumn("Status", ".status.status"),
    PrinterColumn("Kind", ".status.kind"),
    PrinterColumn("API Version", ".status.apiVersion"),
    PrinterColumn("Version", ".status.version"),
    PrinterColumn("Message", ".status.message"),
)


def printer_columns(crd: Mapping[str, Any], version: str | None = None) -> tuple[PrinterColumn, ...]:
    """Printer columns of a CRD version (the storage version, else the first, when ``version`` is None)."""
    versions = _get(crd, "spec", "versions") or []
    chosen = next((v for v in versions if v.get("name") == version), None) if version else None
    if chosen is None:
        chosen = next((v for v in versions if v.get("storage")), versions[0] if versions else {})
    return tuple(
        PrinterColumn(str(c["name"]), str(c["jsonPath"]), str(c.get("type", "string")), int(c.get("priority", 0)))
        for c in chosen.get("additionalPrinterColumns") or []
    )


def _cell(value: list[Any], column: PrinterColumn, now: datetime) -> str:
    if not value or value[0] is None:
        return ""
    first = value[0]
    if column.type == "date":
        return _age({"metadata": {"creationTimestamp": first}}, now)
    if isinstance(first, bool):
        return str(first).lower()
    if isinstance(first, (dict, list)):
        return str(first)
    return str(first)


def _custom_row(obj: Mapping[str, Any], columns: Sequence[PrinterColumn], now: datetime) -> dict[str, str]:
    row: dict[str, str] = {}
    for column in columns:
        if column.priority > 0:
            continue  # shown with -o wide only
        try:
            row[column.name.upper()] = _cell(find(obj, column.json_path), column, now)
        except JsonPathError:
            row[column.name.upper()] = ""
    if not columns:
        row["AGE"] = _age(obj, now)
    return row


_RENDERERS = {
    "pods": (("READY", "STATUS", "RESTARTS", "AGE"), _pod_row),
    "deployments": (("READY", "UP-TO-DATE", "AVAILABLE", "AGE"), _deployment_row),
    "persistentvolumeclaims": (
        ("STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"),
        _pvc_row,
    ),
    "persistentvolumes": (
        (
            "CAPACITY",
            "ACCESS MODES",
            "RECLAIM POLICY",
            "STATUS",
            "CLAIM",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "REASON",
            "AGE",
        ),
        _pv_row,
    ),
}
_ALIASES = {
    "pod": "pods",
    "po": "pods",
    "deployment": "deployments",
    "deploy": "deployments",
    "deployments.apps": "deployments",
    "pvc": "persistentvolumeclaims",
    "persistentvolumeclaim": "persistentvolumeclaims",
    "pv": "persistentvolumes",
    "persistentvolume": "persistentvolumes",
    "promise": "promises",
    "promises.platform.kratix.io": "promises",
}


def render_objects(
    resource: str,
    objects: Iterable[Any],
    *,
    crd: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    all_namespaces: bool = False,
) -> Table:
    """The table ``kubectl get <resource>`` prints for ``objects``.

    ``resource`` is a kubectl type name (``pods``, ``pv``, ``deployments``, ``promises``, or any custom type);
    custom types use ``crd``'s printer columns (NAME and AGE without one). Objects are API dicts (camelCase) or
    kubernetes client models.
    """
    now = now or datetime.now(UTC)
    key = _ALIASES.get(resource.lower(), resource.lower())
    dicts = [as_dict(o) for o in objects]
    if key in _RENDERERS:
        columns, row_of = _RENDERERS[key]
        rows = [{"NAME": str(_get(d, "metadata", "name") or ""), **row_of(d, now)} for d in dicts]
        header = ("NAME", *columns)
    else:
        printer: Sequence[PrinterColumn]
        if crd is not None:
            printer = printer_columns(crd)
        elif key == "promises":
            printer = PROMISE_COLUMNS
        else:
            printer = ()
        visible = [c for c in printer if c.priority == 0]
        header = ("NAME", *(c.name.upper() for c in visible)) if visible else ("NAME", "AGE")
        rows = [{"NAME": str(_get(d, "metadata", "name") or ""), **_custom_row(d, visible, now)} for d in dicts]
    if all_namespaces:
        header = ("NAMESPACE", *header)
        for row, d in zip(rows, dicts, strict=True):
            row["NAMESPACE"] = str(_get(d, "metadata", "namespace") or "")
    return Table(header, tuple(Row(r) for r in rows))
