"""The PATCH flavours the kube-apiserver accepts, applied to plain JSON-like objects.

* ``application/merge-patch+json``: RFC 7386 JSON merge patch (``null`` deletes a key, lists replace).
* ``application/json-patch+json``: RFC 6902 operations (add, remove, replace, move, copy, test).
* ``application/strategic-merge-patch+json``: APPROXIMATED. The real server merges lists using each
  built-in field's ``patchMergeKey`` from the Go types; here, lists of objects are merged by ``name``
  (containers, initContainers, env, volumes, volumeMounts, ports, ...) or by ``type`` (conditions) when
  every item on both sides has that key, and replaced otherwise. ``$patch: delete`` in a list item
  removes the matching item; ``$patch: replace`` on a map replaces it; other directives
  (``$retainKeys``, ``$setElementOrder``, ``$deleteFromPrimitiveList``) are dropped. Custom resources
  do not support strategic merge on a real server (415); this emulator treats it as a merge patch.
* ``application/apply-patch+yaml``: server-side apply, APPROXIMATED as the strategic merge above
  (no managedFields, no field ownership conflicts).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from harness.sim.api_errors import ApiError, bad_request

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
SUPPORTED = (MERGE, JSON_PATCH, STRATEGIC, APPLY)

_MERGE_KEYS = ("name", "type")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: returns the patched value; ``target`` is not modified."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_key(old: list[Any], new: list[Any]) -> str | None:
    for key in _MERGE_KEYS:
        items = [*old, *new]
        if items and all(isinstance(item, Mapping) and key in item for item in items):
            return key
    return None


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """The approximation of a strategic merge patch described in the module docstring."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result: dict[str, Any] = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # $retainKeys, $setElementOrder/..., $deleteFromPrimitiveList/...: not implemented
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_lists(result[key], value)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _merge_lists(old: list[Any], new: list[Any]) -> list[Any]:
    plain_new = [item for item in new if not (isinstance(item, Mapping) and "$patch" in item)]
    key = _merge_key(old, plain_new) or _merge_key(old, new)
    if key is None:
        return copy.deepcopy(new)
    merged = [copy.deepcopy(item) for item in old]
    for item in new:
        index = next((i for i, existing in enumerate(merged) if existing.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                merged.pop(index)
        elif index is None:
            merged.append(strategic_merge_patch({}, item))
        else:
            merged[index] = strategic_merge_patch(merged[index], item)
    return merged


# --- RFC 6902 --------------------------------------------------------------------------------------


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise bad_request(f"the server rejected our request due to an error in our request: invalid path {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(doc: Any, tokens: list[str], pointer: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        try:
            node = node[int(token)] if isinstance(node, list) else node[token]
        except (KeyError, IndexError, ValueError, TypeError):
            raise bad_request(f"the server rejected our request due to an error in our request: "
                              f"doc is missing path: {pointer!r}") from None
    return node


def _get(doc: Any, pointer: str) -> Any:
    tokens = _tokens(pointer)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, pointer)
    try:
        return parent[int(tokens[-1])] if isinstance(parent, list) else parent[tokens[-1]]
    except (KeyError, IndexError, ValueError, TypeError):
        raise bad_request(f"the server rejected our request due to an error in our request: "
                          f"doc is missing key: {pointer!r}") from None


def _remove(doc: Any, pointer: str) -> Any:
    tokens = _tokens(pointer)
    parent = _parent(doc, tokens, pointer)
    try:
        if isinstance(parent, list):
            return parent.pop(int(tokens[-1]))
        return parent.pop(tokens[-1])
    except (KeyError, IndexError, ValueError, TypeError):
        raise bad_request(f"the server rejected our request due to an error in our request: "
                          f"unable to remove nonexistent key: {pointer!r}") from None


def _add(doc: Any, pointer: str, value: Any) -> Any:
    tokens = _tokens(pointer)
    if not tokens:
        return value
    parent = _parent(doc, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if not 0 <= index <= len(parent):
            raise bad_request(f"the server rejected our request due to an error in our request: "
                              f"add operation index out of bounds: {pointer!r}")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise bad_request(f"the server rejected our request due to an error in our request: "
                          f"doc is missing path: {pointer!r}")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902: returns the patched document; ``target`` is not modified.

    Raises:
        ApiError: 400 BadRequest for a malformed operation, 422 for a failed ``test``.
    """
    if not isinstance(operations, list):
        raise bad_request("the server rejected our request due to an error in our request: "
                          "json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, Mapping) or "op" not in operation or "path" not in operation:
            raise bad_request(f"the server rejected our request due to an error in our request: "
                              f"invalid json patch operation {operation!r}")
        op, path = operation["op"], operation["path"]
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            _remove(doc, path)
        elif op == "replace":
            _get(doc, path)  # must exist
            if _tokens(path):
                _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(operation.get("value")))
        elif op in ("move", "copy"):
            value = _get(doc, operation["from"])
            if op == "move":
                _remove(doc, operation["from"])
            doc = _add(doc, path, copy.deepcopy(value))
        elif op == "test":
            if _get(doc, path) != operation.get("value"):
                raise ApiError(status=422, reason="Invalid",
                               message=f"the server rejected our request due to an error in our request: "
                                       f"testing value {path} failed")
        else:
            raise bad_request(f"the server rejected our request due to an error in our request: "
                              f"Unexpected kind: {op}")
    return doc


def apply(content_type: str, target: Any, patch: Any) -> Any:
    """Apply a patch body of the given content type (parameters after ``;`` ignored).

    Raises:
        ApiError: 415 for an unsupported content type, 400/422 from the patch itself.
    """
    kind = content_type.split(";")[0].strip().lower()
    if kind == MERGE:
        return merge_patch(target, patch)
    if kind == JSON_PATCH:
        return json_patch(target, patch)
    if kind in (STRATEGIC, APPLY):
        return strategic_merge_patch(target, patch)
    raise ApiError(status=415, reason="UnsupportedMediaType",
                   message=f"the body of the request was in an unknown format - accepted media types include: "
                           f"{', '.join(SUPPORTED)}")
