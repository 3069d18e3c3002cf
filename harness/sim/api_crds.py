"""CustomResourceDefinition handling: which resource types a CRD serves, and the status the real server sets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.sim.api_errors import INVALID, REQUIRED, FieldError, invalid
from harness.sim.api_registry import ResourceType


def _require(spec: Mapping[str, Any], path: str, errors: list[FieldError]) -> Any:
    value: Any = spec
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value in (None, "", [], {}):
        errors.append(FieldError(REQUIRED, f"spec.{path}"))
    return value


def validate_crd(crd: Mapping[str, Any]) -> None:
    """Reject a CRD that cannot be served, with the field paths the real server reports.

    Raises:
        ApiError: 422 Invalid naming every missing or inconsistent field.
    """
    spec = crd.get("spec") or {}
    name = (crd.get("metadata") or {}).get("name", "")
    errors: list[FieldError] = []
    group = _require(spec, "group", errors)
    plural = _require(spec, "names.plural", errors)
    _require(spec, "names.kind", errors)
    scope = _require(spec, "scope", errors)
    versions = _require(spec, "versions", errors)
    if scope and scope not in ("Namespaced", "Cluster"):
        errors.append(FieldError(
            ("Unsupported value", "FieldValueNotSupported"), "spec.scope", 'supported values: "Cluster", "Namespaced"',
            scope,
        ))
    if group and plural and name != f"{plural}.{group}":
        errors.append(FieldError(INVALID, "metadata.name", 'must be spec.names.plural+"."+spec.group', name))
    if isinstance(versions, list):
        storage = [v for v in versions if isinstance(v, Mapping) and v.get("storage")]
        if len(storage) != 1:
            errors.append(FieldError(INVALID, "spec.versions",
                                     "must have exactly one version marked as storage version",
                                     versions, show_value=False))
    if errors:
        raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, errors)


def resource_types(crd: Mapping[str, Any]) -> list[tuple[ResourceType, bool]]:
    """The served versions of a CRD as resource types, each with whether it is the storage version."""
    spec = crd["spec"]
    names = spec["names"]
    result: list[tuple[ResourceType, bool]] = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        rtype = ResourceType(
            group=spec["group"],
            version=version["name"],
            plural=names["plural"],
            kind=names["kind"],
            singular=names.get("singular") or names["kind"].lower(),
            namespaced=spec["scope"] == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()),
            subresources=tuple(sub for sub in ("status", "scale") if sub in subresources),
            list_kind=names.get("listKind") or f"{names['kind']}List",
            schema=schema,
            crd_name=crd["metadata"]["name"],
        )
        result.append((rtype, bool(version.get("storage"))))
    return result


def established_status(crd: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The status the apiextensions controllers set once the names are accepted and the API is served."""
    spec = crd["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", f"{names['kind']}List")
    previous = {c.get("type"): c for c in (crd.get("status") or {}).get("conditions") or []}

    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        # Keep lastTransitionTime when the condition did not change, as the real controller does.
        old = previous.get(kind)
        since = old["lastTransitionTime"] if old and old.get("status") == "True" else now
        return {"type": kind, "status": "True", "lastTransitionTime": since, "reason": reason, "message": message}

    return {
        "acceptedNames": names,
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")],
    }


__all__ = ["established_status", "resource_types", "validate_crd"]
