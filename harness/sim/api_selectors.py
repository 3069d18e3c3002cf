"""Label and field selectors as the kube-apiserver understands them in ``?labelSelector=`` / ``?fieldSelector=``.

Label selector grammar (apimachinery ``labels.Parse``): comma-separated requirements, each one of
``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``, ``key in (a,b)``, ``key notin (a,b)``.
Field selectors support ``=``, ``==`` and ``!=`` on a per-kind set of fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.sim.api_errors import bad_request

_SET_OPERATION = re.compile(r"^\s*(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*(?P<key>[^\s!=(),]+)\s*(?P<op>==|!=|=)\s*(?P<value>[^\s!=(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)\s*$")


@dataclass(frozen=True)
class Requirement:
    """One label requirement: ``op`` is one of ``=``, ``!=``, ``in``, ``notin``, ``exists``, ``!``."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this requirement (a missing key satisfies ``!=`` and ``notin``)."""
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" match objects lacking the key, as in apimachinery.
        return not present or labels[self.key] not in self.values


def _split_top_level(text: str) -> list[str]:
    # Commas inside "in (a,b)" belong to the set, not to the list of requirements.
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse a label selector string; an empty string selects everything.

    Raises:
        ApiError: 400 BadRequest naming the requirement that cannot be parsed.
    """
    requirements: list[Requirement] = []
    for part in _split_top_level(text or ""):
        if match := _SET_OPERATION.match(part):
            values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
            requirements.append(Requirement(match["key"], match["op"], values))
        elif match := _EQUALITY.match(part):
            op = "!=" if match["op"] == "!=" else "="
            requirements.append(Requirement(match["key"], op, frozenset({match["value"]})))
        elif match := _EXISTS.match(part):
            requirements.append(Requirement(match["key"], "!" if match["neg"] else "exists"))
        else:
            raise bad_request(f"unable to parse requirement: invalid label selector: {part.strip()!r}")
    return requirements


def labels_match(requirements: list[Requirement], obj: Mapping[str, Any]) -> bool:
    """Whether an object's ``metadata.labels`` satisfy every requirement."""
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(requirement.matches(labels) for requirement in requirements)


def _dig(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(part)
    return "" if value is None else str(value)


# Fields every kind supports, plus the per-resource extras the real server registers.
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_EXTRA_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "events"): (
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
        "reason", "reportingComponent", "source", "type",
    ),
    ("events.k8s.io", "events"): ("regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                                  "reason", "type"),
    ("", "pods"): ("status.phase", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                   "spec.serviceAccountName", "status.podIP", "status.nominatedNodeName"),
    ("", "secrets"): ("type",),
    ("", "namespaces"): ("status.phase",),
    ("batch", "jobs"): ("status.successful",),
}


@dataclass(frozen=True)
class FieldRequirement:
    """One field requirement: ``field`` equals (or, with ``negate``, differs from) ``value``."""

    field: str
    value: str
    negate: bool

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object's field value satisfies the requirement."""
        # For events, "source" means source.component.
        actual = _dig(obj, "source.component" if self.field == "source" else self.field)
        return (actual != self.value) if self.negate else (actual == self.value)


def parse_field_selector(text: str, group: str, plural: str) -> list[FieldRequirement]:
    """Parse a field selector for a resource; unknown fields are rejected like the real server does.

    Raises:
        ApiError: 400 BadRequest for a malformed term or a field the resource does not index.
    """
    allowed = _COMMON_FIELDS + _EXTRA_FIELDS.get((group, plural), ())
    requirements: list[FieldRequirement] = []
    for part in (p for p in (text or "").split(",") if p.strip()):
        match = re.match(r"^\s*([^\s!=]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if match is None:
            raise bad_request(f"invalid selector: '{part.strip()}'; can't understand '{part.strip()}'")
        field, op, value = match.groups()
        if field not in allowed:
            raise bad_request(f'field label not supported: {field}')
        requirements.append(FieldRequirement(field, value, op == "!="))
    return requirements


def fields_match(requirements: list[FieldRequirement], obj: Mapping[str, Any]) -> bool:
    """Whether an object satisfies every field requirement."""
    return all(requirement.matches(obj) for requirement in requirements)


def make_filter(
    label_selector: str, field_selector: str, group: str, plural: str,
) -> Callable[[Mapping[str, Any]], bool]:
    """Build one predicate from both selector strings.

    Raises:
        ApiError: 400 BadRequest when either selector is malformed.
    """
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector, group, plural)
    if not labels and not fields:
        return lambda obj: True
    return lambda obj: labels_match(labels, obj) and fields_match(fields, obj)


__all__ = [
    "FieldRequirement",
    "Requirement",
    "fields_match",
    "labels_match",
    "make_filter",
    "parse_field_selector",
    "parse_label_selector",
]
