"""Kubernetes ``Status`` errors worded like the real kube-apiserver.

Clients (the official ``kubernetes`` package, kubectl-style code in the suite) branch on ``code`` and
``reason`` and tests assert on ``message``, so the wording follows apimachinery's ``errors`` package
(``NewNotFound``, ``NewAlreadyExists``, ``NewConflict``, ``NewInvalid``, ``NewBadRequest``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import attrs
from kmock import KubernetesError


@attrs.frozen
class ApiError(KubernetesError):
    """A failure answered as a ``v1 Status`` with the given HTTP code, reason, message and details."""

    def status_body(self) -> dict[str, Any]:
        """The JSON body of the ``Status`` object sent to the client."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message or "",
            "reason": self.reason or "",
            "code": self.status,
        }
        if self.details:
            body["details"] = self.details
        return body


def _qualified(plural: str, group: str) -> str:
    # The real server names a resource as "plural.group" ("pods" for the core group).
    return f"{plural}.{group}" if group else plural


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


def not_found(plural: str, group: str, name: str) -> ApiError:
    """``<plural>.<group> "<name>" not found`` (404 NotFound)."""
    return ApiError(
        status=404, reason="NotFound", message=f'{_qualified(plural, group)} "{name}" not found',
        details=_details(name, group, plural),
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    """``<plural>.<group> "<name>" already exists`` (409 AlreadyExists)."""
    return ApiError(
        status=409, reason="AlreadyExists", message=f'{_qualified(plural, group)} "{name}" already exists',
        details=_details(name, group, plural),
    )


def conflict(plural: str, group: str, name: str) -> ApiError:
    """A stale ``resourceVersion`` on update (409 Conflict)."""
    return ApiError(
        status=409, reason="Conflict",
        message=(
            f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again"
        ),
        details=_details(name, group, plural),
    )


def bad_request(message: str) -> ApiError:
    """A malformed request (400 BadRequest)."""
    return ApiError(status=400, reason="BadRequest", message=message)


def forbidden(plural: str, group: str, name: str, why: str) -> ApiError:
    """``<plural>.<group> "<name>" is forbidden: <why>`` (403 Forbidden)."""
    return ApiError(
        status=403, reason="Forbidden", message=f'{_qualified(plural, group)} "{name}" is forbidden: {why}',
        details=_details(name, group, plural),
    )


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    """The verb is not served for this path (405 MethodNotAllowed)."""
    return ApiError(status=405, reason="MethodNotAllowed", message=message)


def unknown_resource() -> ApiError:
    """A path that names no served resource (404 NotFound, as for an unregistered CRD)."""
    return ApiError(status=404, reason="NotFound", message="the server could not find the requested resource")


def gone(message: str) -> ApiError:
    """A watch or list from a resourceVersion older than the server remembers (410 Expired)."""
    return ApiError(status=410, reason="Expired", message=message)


# Field error types as apimachinery's field.ErrorType.String() and the matching StatusCause reasons.
REQUIRED = ("Required value", "FieldValueRequired")
INVALID = ("Invalid value", "FieldValueInvalid")
NOT_SUPPORTED = ("Unsupported value", "FieldValueNotSupported")
TYPE_INVALID = ("Invalid value", "FieldValueTypeInvalid")
TOO_LONG = ("Too long", "FieldValueTooLong")
TOO_MANY = ("Too many", "FieldValueTooMany")
FORBIDDEN = ("Forbidden", "FieldValueForbidden")


class GoLiteral(str):
    """A value printed exactly as given (e.g. ``0x0``, Go's rendering of an unset resourceVersion)."""


def _go_value(value: Any) -> str:
    # field.Error prints strings quoted (%q) and numbers bare; objects and lists as JSON is close
    # enough to Go's rendering for humans and unambiguous for tests.
    if isinstance(value, GoLiteral):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    """One field-level validation failure, as apimachinery's ``field.Error``."""

    kind: tuple[str, str]  # (type string, StatusCause reason), e.g. REQUIRED
    field: str  # dotted path, e.g. "spec.size"
    detail: str = ""
    value: Any = None
    show_value: bool = True

    def body(self) -> str:
        """The message without the field path (``ErrorBody`` in apimachinery)."""
        type_string = self.kind[0]
        if self.kind in (REQUIRED, FORBIDDEN, TOO_LONG) or not self.show_value:
            text = type_string
        else:
            text = f"{type_string}: {_go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


def invalid(kind: str, group: str, name: str, errors: Sequence[FieldError]) -> ApiError:
    """``<Kind>.<group> "<name>" is invalid: <errors>`` (422 Invalid) with one cause per field error."""
    qualified_kind = f"{kind}.{group}" if group else kind
    joined = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    details = _details(name, group, kind)
    details["causes"] = [{"reason": e.kind[1], "message": e.body(), "field": e.field} for e in errors]
    return ApiError(
        status=422, reason="Invalid", message=f'{qualified_kind} "{name}" is invalid: {joined}', details=details,
    )
