"""Edit Promise manifests as data: swap a pipeline container's image, add containers.

The tutorials tell people to edit promise.yaml by hand; we do the same edits on parsed YAML so a
changed indentation or key order upstream never silently produces a different Promise. Every function
returns a new dict and leaves its input untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.manifests import ManifestError, load_yaml_documents

Obj = dict[str, Any]

LIFECYCLES = ("resource", "promise")
ACTIONS = ("configure", "delete")


class PromiseEditError(ValueError):
    """The Promise does not have the pipeline or container an edit names."""


def load_promise(path: Path) -> Obj:
    """The single Promise in a promise.yaml."""
    promises = [d for d in load_yaml_documents(path) if d.get("kind") == "Promise"]
    if len(promises) != 1:
        raise ManifestError(f"{path}: expected exactly one Promise, found {len(promises)}")
    return promises[0]


def pipelines(promise: Mapping[str, Any], lifecycle: str = "resource", action: str = "configure") -> list[Obj]:
    """The Pipeline objects of one workflow (``spec.workflows.<lifecycle>.<action>``)."""
    if lifecycle not in LIFECYCLES or action not in ACTIONS:
        raise PromiseEditError(f"unknown workflow {lifecycle}/{action}")
    workflows = (promise.get("spec") or {}).get("workflows") or {}
    return list(((workflows.get(lifecycle) or {}).get(action)) or [])


def _pipeline(promise: Obj, pipeline: str, lifecycle: str, action: str) -> Obj:
    found = [p for p in pipelines(promise, lifecycle, action) if (p.get("metadata") or {}).get("name") == pipeline]
    if not found:
        names = [(p.get("metadata") or {}).get("name") for p in pipelines(promise, lifecycle, action)]
        raise PromiseEditError(
            f"Promise {promise.get('metadata', {}).get('name')!r} has no {lifecycle}/{action} pipeline "
            f"{pipeline!r}; it has: {', '.join(map(str, names)) or 'none'}"
        )
    return found[0]


def containers(
    promise: Mapping[str, Any], pipeline: str, lifecycle: str = "resource", action: str = "configure"
) -> list[Obj]:
    """The user containers of a pipeline, in order."""
    p = _pipeline(dict(promise), pipeline, lifecycle, action)
    return list((p.get("spec") or {}).get("containers") or [])


def swap_image(
    promise: Mapping[str, Any],
    *,
    pipeline: str,
    container: str,
    image: str,
    lifecycle: str = "resource",
    action: str = "configure",
) -> Obj:
    """Return a copy of ``promise`` whose named pipeline container runs ``image``."""
    edited = copy.deepcopy(dict(promise))
    p = _pipeline(edited, pipeline, lifecycle, action)
    for c in (p.get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            c["image"] = image
            return edited
    names = [c.get("name") for c in (p.get("spec") or {}).get("containers") or []]
    raise PromiseEditError(f"pipeline {pipeline!r} has no container {container!r}; it has: {', '.join(names)}")


def add_containers(
    promise: Mapping[str, Any],
    new: Iterable[Mapping[str, Any]],
    *,
    pipeline: str,
    after: str | None = None,
    lifecycle: str = "resource",
    action: str = "configure",
) -> Obj:
    """Return a copy with ``new`` containers inserted after container ``after`` (default: at the end).

    Re-adding a container that is already there with the same name replaces it, so the edit is
    idempotent (rehearsing a workshop twice gives the same Promise).
    """
    edited = copy.deepcopy(dict(promise))
    p = _pipeline(edited, pipeline, lifecycle, action)
    spec = p.setdefault("spec", {})
    current: list[Obj] = list(spec.get("containers") or [])
    additions = [dict(c) for c in new]
    for c in additions:
        if not c.get("name") or not c.get("image"):
            raise PromiseEditError(f"a pipeline container needs a name and an image, got {c}")
    added_names = {c["name"] for c in additions}
    current = [c for c in current if c.get("name") not in added_names]
    if after is None:
        index = len(current)
    else:
        positions = [i for i, c in enumerate(current) if c.get("name") == after]
        if not positions:
            raise PromiseEditError(f"pipeline {pipeline!r} has no container {after!r} to insert after")
        index = positions[0] + 1
    spec["containers"] = current[:index] + additions + current[index:]
    return edited


def images(promise: Mapping[str, Any]) -> list[str]:
    """Every image referenced by the Promise's pipelines, in workflow order."""
    found: list[str] = []
    for lifecycle in LIFECYCLES:
        for action in ACTIONS:
            for p in pipelines(promise, lifecycle, action):
                for c in (p.get("spec") or {}).get("containers") or []:
                    if c.get("image"):
                        found.append(str(c["image"]))
    return found


def crd_of(promise: Mapping[str, Any]) -> Obj:
    """The CRD embedded in ``spec.api``."""
    api = (promise.get("spec") or {}).get("api")
    if not isinstance(api, dict):
        raise PromiseEditError(f"Promise {promise.get('metadata', {}).get('name')!r} has no spec.api")
    return dict(api)


def api_coordinates(promise: Mapping[str, Any]) -> tuple[str, str, str]:
    """(apiVersion, kind, plural.group) of the Promise's API, from its storage version."""
    crd = crd_of(promise)
    spec = crd.get("spec") or {}
    versions = spec.get("versions") or []
    storage = next((v for v in versions if v.get("storage")), versions[0] if versions else None)
    if storage is None:
        raise PromiseEditError("spec.api has no versions")
    group = spec["group"]
    return f"{group}/{storage['name']}", spec["names"]["kind"], f"{spec['names']['plural']}.{group}"
