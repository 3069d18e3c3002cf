"""Admission of custom resources against their CRD version's ``openAPIV3Schema``, as the real server does.

Order, as in apiextensions-apiserver: decode (``fieldValidation=Strict`` rejects unknown fields, the
default ``Warn`` prunes them and warns), structural defaulting (``default`` applied wherever the parent
object exists, including nested, before validation), pruning of unknown fields (kept under
``x-kubernetes-preserve-unknown-fields: true``), then validation with a real JSON Schema validator
(``jsonschema``, draft 4 semantics as OpenAPI v3.0) translated to field errors worded like
kube-openapi's (``spec.size in body should match '^(small|medium|large)$'``).

Built-in kinds are not schema-validated; every object's ``metadata.name`` must be a DNS-1123 subdomain.
"""

from __future__ import annotations

import base64
import copy
import datetime
import ipaddress
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema

from harness.sim.api_errors import (
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TOO_MANY,
    TYPE_INVALID,
    FieldError,
    bad_request,
    invalid,
)
from harness.sim.api_registry import ResourceType

_PRESERVE = "x-kubernetes-preserve-unknown-fields"
_INT_OR_STRING = "x-kubernetes-int-or-string"
_EMBEDDED = "x-kubernetes-embedded-resource"
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def admit(rtype: ResourceType, obj: dict[str, Any], old: Mapping[str, Any] | None, *, strict: bool,
          status_only: bool = False, warnings: list[str] | None = None) -> dict[str, Any]:
    """Default, prune and validate an object about to be written; returns the object to store.

    ``warnings`` collects the pruned-field warnings a ``fieldValidation=Warn`` request gets back.

    Raises:
        ApiError: 400 BadRequest listing unknown fields under Strict; 422 Invalid with one cause per
            violated constraint.
    """
    name = str(obj.get("metadata", {}).get("name") or "")
    if old is None and name:
        _check_name(rtype, name)
    if rtype.schema is None or rtype.crd_name is None:
        return obj
    schema = rtype.schema
    obj = copy.deepcopy(obj)
    apply_defaults(schema, obj, root=True)
    unknown = prune(schema, obj, root=True)
    if unknown:
        if strict:
            raise bad_request("strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in unknown))
        if warnings is not None:
            warnings.extend(f'unknown field "{p}"' for p in unknown)
    errors = validate(schema, obj, cache=rtype.cache)
    if status_only:
        # A status write is judged by the status it writes; spec problems predate it.
        errors = [e for e in errors if e.field == "status" or e.field.startswith("status.")]
    if errors:
        raise invalid(rtype.kind, rtype.group, name, errors)
    return obj


def _check_name(rtype: ResourceType, name: str) -> None:
    if rtype.group == "rbac.authorization.k8s.io":
        # RBAC objects only need a valid path segment ("system:controller:x" is a fine ClusterRole name).
        if name in (".", "..") or "/" in name or "%" in name:
            raise invalid(rtype.kind, rtype.group, name, [FieldError(
                INVALID, "metadata.name", 'may not contain "/" or "%" and may not be "." or ".."', name)])
        return
    if len(name) > 253:
        raise invalid(rtype.kind, rtype.group, name, [FieldError(
            INVALID, "metadata.name", "must be no more than 253 characters", name)])
    if not _DNS_SUBDOMAIN.match(name):
        raise invalid(rtype.kind, rtype.group, name,
                      [FieldError(INVALID, "metadata.name", _DNS_SUBDOMAIN_MESSAGE, name)])


# --- defaulting and pruning --------------------------------------------------------------------------


def _props(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    return schema.get("properties") or {}


def apply_defaults(schema: Mapping[str, Any], value: Any, *, root: bool = False) -> None:
    """Fill ``default`` values in place wherever the parent object exists (structural defaulting)."""
    if isinstance(value, dict):
        for key, sub in _props(schema).items():
            if root and key == "metadata":
                continue  # metadata is the server's business, not the CRD schema's
            if key in value and value[key] is None and not sub.get("nullable"):
                # A null in a non-nullable field is dropped, then defaulted if a default exists.
                del value[key]
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                apply_defaults(sub, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key, item in value.items():
                if key not in _props(schema):
                    apply_defaults(extra, item)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for item in value:
            apply_defaults(schema["items"], item)


def prune(schema: Mapping[str, Any], value: Any, *, root: bool = False, path: str = "",
          preserving: bool = False) -> list[str]:
    """Drop fields the schema does not know, in place; returns their paths (``spec.teamId``).

    As apiextensions' pruning: under ``x-kubernetes-preserve-unknown-fields`` unknown keys stay (and so do
    the items of a preserving array), while known properties below are pruned normally again.
    """
    dropped: list[str] = []
    preserving = preserving or bool(schema.get(_PRESERVE))
    if isinstance(value, dict):
        props = _props(schema)
        extra = schema.get("additionalProperties")
        keep_always = {"apiVersion", "kind", "metadata"} if root or schema.get(_EMBEDDED) else set()
        for key in sorted(value):
            child = f"{path}.{key}" if path else key
            if key in props:
                if not (key in keep_always and key == "metadata"):
                    dropped += prune(props[key], value[key], path=child)
            elif isinstance(extra, Mapping):
                dropped += prune(extra, value[key], path=child)
            elif key in keep_always or preserving or extra is True:
                continue
            else:
                del value[key]
                dropped.append(child)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            dropped += prune(schema["items"], item, path=f"{path}[{index}]", preserving=preserving)
    return dropped


# --- validation --------------------------------------------------------------------------------------


def to_json_schema(schema: Any) -> Any:
    """Translate OpenAPI v3.0 (Kubernetes flavour) into plain draft-4 JSON Schema."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {k: to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf", "additionalItems"):
            out[key] = to_json_schema(value)
        elif key in ("default", "example", "description", "nullable") or key.startswith("x-"):
            continue
        else:
            out[key] = value
    if schema.get(_INT_OR_STRING):
        out["type"] = ["integer", "string"]
    if schema.get("nullable"):
        kinds = out.get("type")
        if isinstance(kinds, str):
            out["type"] = [kinds, "null"]
        elif isinstance(kinds, list):
            out["type"] = [*kinds, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if schema.get(_PRESERVE) and "type" not in out and not schema.get(_INT_OR_STRING):
        pass  # anything goes
    return out


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@_FORMATS.checks("date", raises=ValueError)
def _date(value: object) -> bool:
    if isinstance(value, str):
        datetime.date.fromisoformat(value)
    return True


@_FORMATS.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    if isinstance(value, str):
        uuid.UUID(value)
    return True


@_FORMATS.checks("byte", raises=ValueError)
def _byte(value: object) -> bool:
    if isinstance(value, str):
        base64.b64decode(value, validate=True)
    return True


@_FORMATS.checks("ipv4", raises=ValueError)
def _ipv4(value: object) -> bool:
    if isinstance(value, str):
        ipaddress.IPv4Address(value)
    return True


@_FORMATS.checks("ipv6", raises=ValueError)
def _ipv6(value: object) -> bool:
    if isinstance(value, str):
        ipaddress.IPv6Address(value)
    return True


@_FORMATS.checks("cidr", raises=ValueError)
def _cidr(value: object) -> bool:
    if isinstance(value, str):
        ipaddress.ip_network(value, strict=False)
    return True


def _validator(schema: Mapping[str, Any], cache: dict[str, Any]) -> jsonschema.Draft4Validator:
    validator = cache.get("validator")
    if not isinstance(validator, jsonschema.Draft4Validator):
        validator = jsonschema.Draft4Validator(to_json_schema(schema), format_checker=_FORMATS)
        cache["validator"] = validator
    return validator


def _field(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _number(value: Any) -> str:
    # Go's %v prints whole floats without a fraction.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _translate(error: jsonschema.ValidationError) -> FieldError:
    where = _field(error.absolute_path)
    keyword = str(error.validator)
    value: Any = error.instance
    rule: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword == "required":
        missing = re.match(r"^'(.*)' is a required property$", error.message)
        name = missing.group(1) if missing else str(rule)
        return FieldError(REQUIRED, f"{where}.{name}" if where else name)
    if keyword == "enum":
        values = ", ".join(json.dumps(v) if not isinstance(v, str) else f'"{v}"' for v in rule if v is not None)
        return FieldError(NOT_SUPPORTED, where, f"supported values: {values}", value)
    if keyword == "type":
        kinds = ",".join(rule) if isinstance(rule, list) else str(rule)
        kinds = kinds.replace(",null", "")
        actual = _type_name(value)
        return FieldError(TYPE_INVALID, where, f'{where} in body must be of type {kinds}: "{actual}"', actual)
    if keyword == "format":
        return FieldError(TYPE_INVALID, where, f"{where} in body must be of type {rule}: {json.dumps(value)}", value)
    if keyword == "pattern":
        return FieldError(INVALID, where, f"{where} in body should match '{rule}'", value)
    if keyword == "minimum":
        op = "greater than" if schema.get("exclusiveMinimum") else "greater than or equal to"
        return FieldError(INVALID, where, f"{where} in body should be {op} {_number(rule)}", value)
    if keyword == "maximum":
        op = "less than" if schema.get("exclusiveMaximum") else "less than or equal to"
        return FieldError(INVALID, where, f"{where} in body should be {op} {_number(rule)}", value)
    if keyword == "minLength":
        return FieldError(INVALID, where, f"{where} in body should be at least {rule} chars long", value)
    if keyword == "maxLength":
        return FieldError(TOO_LONG, where, f"may not be more than {rule} bytes", value)
    if keyword == "maxItems":
        return FieldError(TOO_MANY, where, f"must have at most {rule} items", len(value))
    if keyword == "minItems":
        return FieldError(INVALID, where, f"{where} in body should have at least {rule} items", value)
    if keyword == "maxProperties":
        return FieldError(TOO_MANY, where, f"must have at most {rule} items", len(value))
    if keyword == "minProperties":
        return FieldError(INVALID, where, f"{where} in body should have at least {rule} properties", value)
    if keyword == "multipleOf":
        return FieldError(INVALID, where, f"{where} in body should be a multiple of {_number(rule)}", value)
    if keyword == "uniqueItems":
        return FieldError(INVALID, where, f"{where} in body shouldn't contain duplicates", value)
    return FieldError(INVALID, where, f"{where or 'body'}: {error.message}", value)


def validate(schema: Mapping[str, Any], obj: Any, cache: dict[str, Any] | None = None) -> list[FieldError]:
    """Validate an object against an openAPIV3Schema; errors sorted by field path for stable messages."""
    validator = _validator(schema, cache if cache is not None else {})
    errors = [_translate(error) for error in validator.iter_errors(obj)]
    return sorted(errors, key=lambda e: e.field)
