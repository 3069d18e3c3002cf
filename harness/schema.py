"""Read manifests and validate them against CRD schemas the way the Kubernetes API server would.

A CRD's ``openAPIV3Schema`` is OpenAPI 3.0 with Kubernetes extensions, not plain JSON Schema. This module
translates it to a JSON Schema (draft 4, whose boolean ``exclusiveMinimum`` matches OpenAPI 3.0) with the
Kubernetes semantics that matter for validation:

* ``x-kubernetes-preserve-unknown-fields: true`` keeps unknown fields; otherwise an object with ``properties``
  rejects unknown fields, as ``kubectl apply`` does under its default ``--validate=strict``;
* ``x-kubernetes-int-or-string: true`` accepts an integer or a string;
* ``nullable: true`` accepts ``null``;
* ``x-kubernetes-embedded-resource: true`` always allows ``apiVersion``, ``kind`` and ``metadata``;
* the root always allows ``apiVersion``, ``kind`` and ``metadata`` (the API server handles them itself).

Not covered: CEL rules (``x-kubernetes-validations``), ``format`` checks, list-type uniqueness.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from harness.manifests import ManifestError

# OpenAPI keywords copied through unchanged (their meaning is the same in JSON Schema draft 4).
_PASSTHROUGH = (
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "required",
)
_ROOT_FIELDS: dict[str, Any] = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"type": "object"},
}


@dataclass(frozen=True)
class SchemaViolation:
    """One validation failure, with a Kubernetes-style field path (``spec.users.zalando[0]``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def crd_version_schema(crd: Mapping[str, Any], version: str | None = None) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of one version of a CRD (the storage version when ``version`` is None)."""
    name = crd.get("metadata", {}).get("name", "<unnamed CRD>")
    versions = crd.get("spec", {}).get("versions") or []
    if not versions:
        raise ManifestError(f"CustomResourceDefinition {name}: spec.versions is empty")
    if version is None:
        chosen = next((v for v in versions if v.get("storage")), versions[0])
    else:
        chosen = next((v for v in versions if v.get("name") == version), None)
        if chosen is None:
            known = ", ".join(str(v.get("name")) for v in versions)
            raise ManifestError(f"CustomResourceDefinition {name}: no version {version!r} (has {known})")
    schema = chosen.get("schema", {}).get("openAPIV3Schema")
    if not isinstance(schema, dict):
        raise ManifestError(
            f"CustomResourceDefinition {name}: version {chosen.get('name')} has no schema.openAPIV3Schema"
        )
    return schema


def to_json_schema(openapi: Mapping[str, Any], *, root: bool = True) -> dict[str, Any]:
    """Translate a Kubernetes structural OpenAPI v3 schema into an equivalent JSON Schema (draft 4)."""
    out: dict[str, Any] = {key: copy.deepcopy(openapi[key]) for key in _PASSTHROUGH if key in openapi}

    if openapi.get("x-kubernetes-int-or-string"):
        types: list[str] = ["integer", "string"]
    elif "type" in openapi:
        types = [str(openapi["type"])]
    else:
        types = []
    if types and openapi.get("nullable"):
        types.append("null")
    if types:
        out["type"] = types[0] if len(types) == 1 else types
    if "enum" in out and openapi.get("nullable"):
        out["enum"] = [*out["enum"], None]

    properties = {k: to_json_schema(v, root=False) for k, v in (openapi.get("properties") or {}).items()}
    if root or openapi.get("x-kubernetes-embedded-resource"):
        for field, field_schema in _ROOT_FIELDS.items():
            properties.setdefault(field, dict(field_schema))
    if properties:
        out["properties"] = properties

    additional = openapi.get("additionalProperties")
    if isinstance(additional, Mapping):
        out["additionalProperties"] = to_json_schema(additional, root=False)
    elif isinstance(additional, bool):
        out["additionalProperties"] = additional
    elif "properties" in openapi and not openapi.get("x-kubernetes-preserve-unknown-fields"):
        # The API server prunes unknown fields and `kubectl apply` (strict validation) rejects them.
        out["additionalProperties"] = False

    if isinstance(openapi.get("items"), Mapping):
        out["items"] = to_json_schema(openapi["items"], root=False)
    for key in ("allOf", "anyOf", "oneOf"):
        if key in openapi:
            out[key] = [to_json_schema(s, root=False) for s in openapi[key]]
    if "not" in openapi:
        out["not"] = to_json_schema(openapi["not"], root=False)
    return out


class CrdValidator:
    """Validates objects against one version of a CRD's schema, with Kubernetes semantics (see module doc)."""

    def __init__(self, openapi_schema: Mapping[str, Any], *, label: str = "object") -> None:
        self.openapi_schema: dict[str, Any] = dict(openapi_schema)
        self.label = label
        self._validator = jsonschema.Draft4Validator(to_json_schema(openapi_schema))

    @classmethod
    def for_crd(cls, crd: Mapping[str, Any], version: str | None = None) -> CrdValidator:
        """Build a validator for ``crd`` (a CustomResourceDefinition mapping)."""
        label = str(crd.get("metadata", {}).get("name", "CRD"))
        return cls(crd_version_schema(crd, version), label=label)

    def violations(self, obj: Any) -> list[SchemaViolation]:
        """Every schema violation of ``obj``, sorted by field path."""
        found = [_violation(err) for err in self._validator.iter_errors(obj)]
        return sorted(found, key=lambda v: (v.path, v.message))

    def validate(self, obj: Any, *, source: str | None = None) -> None:
        """Raise ``ManifestError`` naming ``source`` and every violation when ``obj`` does not conform."""
        problems = self.violations(obj)
        if problems:
            what = source or _describe(obj)
            listed = "; ".join(str(p) for p in problems)
            raise ManifestError(f"{what} is not a valid {self.label}: {listed}")

    def with_defaults(self, obj: Any) -> Any:
        """A copy of ``obj`` with the schema's ``default`` values applied, as the API server does."""
        return apply_defaults(self.openapi_schema, obj)


def apply_defaults(openapi: Mapping[str, Any], obj: Any) -> Any:
    """Return a copy of ``obj`` with structural-schema defaults applied (missing fields only, recursively)."""
    result = copy.deepcopy(obj)
    _default_in_place(openapi, result)
    return result


def _default_in_place(schema: Mapping[str, Any], obj: Any) -> None:
    if isinstance(obj, dict):
        for key, prop in (schema.get("properties") or {}).items():
            if key not in obj and "default" in prop:
                obj[key] = copy.deepcopy(prop["default"])
            if key in obj:
                _default_in_place(prop, obj[key])
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            known = schema.get("properties") or {}
            for key, value in obj.items():
                if key not in known:
                    _default_in_place(additional, value)
    elif isinstance(obj, list) and isinstance(schema.get("items"), Mapping):
        for item in obj:
            _default_in_place(schema["items"], item)


def field_path(parts: Sequence[Any]) -> str:
    """Render a JSON path (``["spec", "users", "zalando", 0]``) as ``spec.users.zalando[0]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _violation(error: jsonschema.ValidationError) -> SchemaViolation:
    path = list(error.absolute_path)
    if error.validator == "required":
        # jsonschema reports a missing field at its parent; Kubernetes names the field itself.
        missing = str(error.message).split("'")[1] if "'" in error.message else "?"
        return SchemaViolation(field_path([*path, missing]), "Required value")
    if error.validator == "additionalProperties" and error.validator_value is False:
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        allowed = set((schema.get("properties") or {}).keys())
        extra = sorted(k for k in error.instance if k not in allowed) if isinstance(error.instance, dict) else []
        names = ", ".join(field_path([*path, k]) for k in extra)
        return SchemaViolation(names, "unknown field" if len(extra) == 1 else "unknown fields")
    return SchemaViolation(field_path(path), error.message)


def _describe(obj: Any) -> str:
    if isinstance(obj, Mapping):
        meta = obj.get("metadata") or {}
        kind = obj.get("kind", "object")
        name = meta.get("name", "<no name>") if isinstance(meta, Mapping) else "<no name>"
        namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
        return f"{kind} {namespace + '/' if namespace else ''}{name}"
    return type(obj).__name__
