"""The REST semantics of the emulated kube-apiserver: routing, CRUD, watches, logs, GC, namespaces.

:class:`ApiCore` answers one aiohttp request at a time on the server's event loop. The HTTP plumbing
(listening socket, thread, kmock handler) lives in :mod:`harness.sim.apiserver`.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import datetime
import json
import logging
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp.web
import yaml

from harness.sim import api_crds, api_patch, api_schema
from harness.sim.api_errors import (
    INVALID,
    REQUIRED,
    ApiError,
    FieldError,
    GoLiteral,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    gone,
    invalid,
    method_not_allowed,
    not_found,
    unknown_resource,
)
from harness.sim.api_registry import Registry, ResourceType, builtin_types
from harness.sim.api_selectors import make_filter
from harness.sim.api_store import Event, Obj, Store, Watcher, namespace_of

log = logging.getLogger(__name__)

BOOT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CRD_GROUP, CRD_PLURAL = "apiextensions.k8s.io", "customresourcedefinitions"
_NAME_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's utilrand alphabet
_WATCH_POLL_SECONDS = 0.5  # how often an idle watch checks for a vanished client or a stopping server
_DEFAULT_WATCH_SECONDS = 1800.0
# Registries with ReturnDeletedObject: true answer a delete with the object instead of a Status.
_RETURNS_DELETED_OBJECT = {("", "pods"), ("", "serviceaccounts"), ("storage.k8s.io", "storageclasses")}
# Warnings for the current request (one aiohttp task each), sent back as "Warning: 299 - ..." headers.
_WARNINGS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("sim_api_warnings", default=None)


def now_rfc3339() -> str:
    """The current time as the API server writes timestamps (second precision, UTC, ``Z``)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(body: Any, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(), status=status, content_type="application/json",
    )


def _spec_part(obj: Mapping[str, Any], rtype: ResourceType) -> dict[str, Any]:
    # What counts for metadata.generation: everything but metadata, and status when it is a subresource
    # (without one, a custom resource's status is ordinary content).
    ignored = ("metadata", "apiVersion", "kind", "status") if "status" in rtype.subresources else (
        "metadata", "apiVersion", "kind")
    return {k: v for k, v in obj.items() if k not in ignored}


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


@dataclass(frozen=True)
class ApiPath:
    """A resource URL split into its parts (``plural`` None for ``/api/v1`` or ``/apis/g/v`` itself)."""

    group: str
    version: str
    plural: str | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None


def parse_api_path(path: str) -> ApiPath | None:
    """Split ``/api/v1/namespaces/ns/pods/p/log`` and ``/apis/g/v/...`` URLs; None for other paths.

    ``/api/v1/namespaces/<name>`` (and its ``/status``, ``/finalize``) is the Namespace itself.
    """
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    is_namespace_itself = group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")
    if rest and rest[0] == "namespaces" and len(rest) >= 3 and not is_namespace_itself:
        namespace, rest = rest[1], rest[2:]
    if not rest:
        return ApiPath(group, version, namespace=namespace)
    return ApiPath(group, version, rest[0], namespace, rest[1] if len(rest) > 1 else None,
                   "/".join(rest[2:]) or None)


class ApiCore:
    """State and request handling of one emulated API server (see module docstring)."""

    def __init__(self, name: str, version: str) -> None:
        self.name = name
        self.version = version
        self.store = Store()
        self.registry = Registry()
        for rtype in builtin_types():
            self.registry.add(rtype)
        self._logs: dict[tuple[str, str, str, bool], str] = {}
        self._logs_lock = threading.Lock()
        self._request_log: list[tuple[str, str]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        for ns in BOOT_NAMESPACES:
            self._insert(self._type("", "v1", "namespaces"), {
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"},
            })

    # --- public helpers used by SimApiServer (thread-safe) ---------------------------------------------

    def set_pod_log(self, namespace: str, pod: str, container: str, text: str, previous: bool) -> None:
        """Replace the stored log of one container (current or previous instance)."""
        with self._logs_lock:
            self._logs[(namespace, pod, container, previous)] = text

    def append_pod_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        """Append to the current log of one container."""
        with self._logs_lock:
            key = (namespace, pod, container, False)
            self._logs[key] = self._logs.get(key, "") + text

    def request_log(self) -> list[tuple[str, str]]:
        """A copy of the (method, path) pairs served so far."""
        return list(self._request_log)

    def log_request(self, method: str, path: str) -> None:
        """Record one request (called by the HTTP layer before handling)."""
        self._request_log.append((method, path))

    def shutdown(self) -> None:
        """End open watches and background work; called on the loop before the listener closes."""
        self._stopping = True
        self.store.close_watchers()
        for task in list(self._tasks):
            task.cancel()

    # --- routing ---------------------------------------------------------------------------------------

    async def handle(self, request: aiohttp.web.BaseRequest, body: bytes) -> aiohttp.web.StreamResponse:
        """Answer one request; API errors become ``Status`` bodies."""
        warnings: list[str] = []
        _WARNINGS.set(warnings)
        try:
            response = await self._route(request, body)
            if warnings and not response.prepared:
                for warning in warnings:
                    response.headers.add("Warning", "299 - " + json.dumps(warning))
            return response
        except ApiError as error:
            return _json(error.status_body(), error.status)
        except Exception as error:  # a bug here must reach the client as a 500, not a dropped connection
            log.exception("sim apiserver %s: %s %s failed", self.name, request.method, request.path)
            return _json(ApiError(status=500, reason="InternalError",
                                  message=f"Internal error occurred: {error!r}").status_body(), 500)

    async def _route(self, request: aiohttp.web.BaseRequest, body: bytes) -> aiohttp.web.StreamResponse:
        method, path = request.method, request.path
        if method == "GET":
            simple = self._discovery([p for p in path.split("/") if p])
            if simple is not None:
                return simple
        parsed = parse_api_path(path)
        if parsed is None:
            raise ApiError(status=404, reason="NotFound",
                           message=f"the server could not find the requested resource (path {path})")
        if parsed.plural is None:
            raise unknown_resource()
        group, version, plural = parsed.group, parsed.version, parsed.plural
        namespace, name, sub = parsed.namespace, parsed.name, parsed.subresource
        rtype = self.registry.get(group, version, plural)
        if rtype is None or (sub is not None and sub not in rtype.subresources):
            raise unknown_resource()
        if rtype.namespaced and namespace is None and (name is not None or method != "GET"):
            raise method_not_allowed() if method == "POST" else unknown_resource()
        if not rtype.namespaced and namespace is not None:
            raise unknown_resource()
        params = request.query

        if method == "GET":
            if name is None or _truthy(params.get("watch")):
                selector = make_filter(params.get("labelSelector", ""), params.get("fieldSelector", ""),
                                       rtype.group, rtype.plural)
                if name is not None:
                    by_name = selector
                    selector = lambda obj: obj["metadata"]["name"] == name and by_name(obj)  # noqa: E731
                if _truthy(params.get("watch")):
                    return await self._watch(request, rtype, namespace, selector)
                return _json(self._list(rtype, namespace, selector, params))
            if sub == "log":
                return self._pod_log(rtype, namespace or "", name, params)
            return _json(self._view(rtype, self._existing(rtype, namespace or "", name)))
        if method == "POST" and name is None:
            obj = self._parse_body(body, request.content_type)
            created = self._create(rtype, namespace, obj, params)
            return _json(self._view(rtype, created), 201)
        if method == "PUT" and name is not None:
            obj = self._parse_body(body, request.content_type)
            return _json(self._view(rtype, self._replace(rtype, namespace or "", name, obj, sub, params)))
        if method == "PATCH" and name is not None:
            return await self._patch(request, body, rtype, namespace or "", name, sub)
        if method == "DELETE":
            options = self._parse_body(body, request.content_type) if body.strip() else {}
            if name is None:
                return _json(self._delete_collection(rtype, namespace, params, options))
            return _json(self._delete(rtype, namespace or "", name, params, options))
        raise method_not_allowed()

    def _discovery(self, parts: list[str]) -> aiohttp.web.Response | None:
        if parts in (["healthz"], ["livez"], ["readyz"]):
            return aiohttp.web.Response(text="ok")
        if parts == ["version"]:
            major, minor = self.version.lstrip("v").split(".")[:2]
            return _json({"major": major, "minor": minor, "gitVersion": self.version,
                          "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                          "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
                          "platform": "linux/amd64", "emulatedBy": "harness.sim", "serverName": self.name})
        doc: dict[str, Any] | None
        if parts == ["api"]:
            return _json(self.registry.api_versions())
        if parts == ["apis"]:
            return _json(self.registry.api_group_list())
        if len(parts) == 2 and parts[0] == "api":
            doc = self.registry.api_resource_list("", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            doc = self.registry.api_group(parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = self.registry.api_resource_list(parts[1], parts[2])
        else:
            return None
        if doc is None:
            raise unknown_resource()
        return _json(doc)

    # --- helpers ---------------------------------------------------------------------------------------

    def _type(self, group: str, version: str, plural: str) -> ResourceType:
        rtype = self.registry.get(group, version, plural)
        assert rtype is not None, (group, version, plural)
        return rtype

    @staticmethod
    def _parse_body(body: bytes, content_type: str) -> Any:
        try:
            if "yaml" in content_type:
                return yaml.safe_load(body.decode() or "{}")
            return json.loads(body or b"{}")
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request(f"the request body could not be decoded ({content_type}): {error}") from None

    @staticmethod
    def _view(rtype: ResourceType, obj: Obj) -> Obj:
        # All versions share storage; like a CRD with conversion strategy None, only apiVersion changes.
        if obj.get("apiVersion") == rtype.api_version:
            return obj
        return {**obj, "apiVersion": rtype.api_version}

    def _existing(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.store.get(rtype.storage_key, namespace, name)
        if obj is None:
            raise not_found(rtype.plural, rtype.group, name)
        return obj

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- read ------------------------------------------------------------------------------------------

    def _list(self, rtype: ResourceType, namespace: str | None,
              selector: Callable[[Mapping[str, Any]], bool], params: Mapping[str, str]) -> Obj:
        items = [self._view(rtype, o) for o in self.store.items(rtype.storage_key, namespace) if selector(o)]
        metadata: dict[str, Any] = {"resourceVersion": str(self.store.resource_version)}
        limit = int(params.get("limit") or 0)
        start = int(params.get("continue") or 0)
        if limit > 0:
            # Chunked lists: the continue token is simply the next offset (stable enough for tests).
            if start + limit < len(items):
                metadata["continue"] = str(start + limit)
                metadata["remainingItemCount"] = len(items) - start - limit
            items = items[start:start + limit]
        return {"kind": rtype.effective_list_kind, "apiVersion": rtype.api_version, "metadata": metadata,
                "items": items}

    def _pod_log(self, rtype: ResourceType, namespace: str, name: str,
                 params: Mapping[str, str]) -> aiohttp.web.Response:
        pod = self._existing(rtype, namespace, name)
        spec = pod.get("spec") or {}
        containers = [c.get("name") for c in spec.get("containers") or []]
        init_containers = [c.get("name") for c in spec.get("initContainers") or []]
        container = params.get("container")
        if not container:
            if len(containers) == 1 and not init_containers:
                container = containers[0]
            else:
                message = (f"a container name must be specified for pod {name}, "
                           f"choose one of: [{' '.join(containers)}]")
                if init_containers:
                    message += f" or one of the init containers: [{' '.join(init_containers)}]"
                raise bad_request(message)
        if container not in containers + init_containers:
            raise bad_request(f"container {container} is not valid for pod {name}")
        previous = _truthy(params.get("previous"))
        with self._logs_lock:
            text = self._logs.get((namespace, name, container, previous))
        if text is None:
            if previous:
                raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
            waiting = self._waiting_reason(pod, container)
            if waiting:
                raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: {waiting}')
            text = ""
        tail = params.get("tailLines")
        if tail is not None and tail.lstrip("-").isdigit():
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail):]) if int(tail) > 0 else ""
        limit = params.get("limitBytes")
        if limit is not None and limit.isdigit():
            text = text.encode()[: int(limit)].decode(errors="ignore")
        return aiohttp.web.Response(text=text, content_type="text/plain")

    @staticmethod
    def _waiting_reason(pod: Mapping[str, Any], container: str) -> str | None:
        status = pod.get("status") or {}
        for entry in [*(status.get("containerStatuses") or []), *(status.get("initContainerStatuses") or [])]:
            if entry.get("name") == container:
                waiting = (entry.get("state") or {}).get("waiting")
                return str(waiting.get("reason") or "ContainerCreating") if waiting is not None else None
        return None

    async def _watch(self, request: aiohttp.web.BaseRequest, rtype: ResourceType, namespace: str | None,
                     selector: Callable[[Mapping[str, Any]], bool]) -> aiohttp.web.StreamResponse:
        params = request.query
        watcher = Watcher(rtype.storage_key, namespace, selector)
        # Subscribe before taking the snapshot: nothing can happen in between (one loop thread), and no
        # later event can be missed.
        self.store.subscribe(watcher)
        try:
            since = params.get("resourceVersion") or "0"
            initial: list[tuple[str, Obj]] = []
            error: ApiError | None = None
            if since == "0":
                initial = [("ADDED", o) for o in self.store.items(rtype.storage_key, namespace) if selector(o)]
            else:
                history = self.store.history_since(rtype.storage_key, int(since) if since.isdigit() else 0)
                if history is None:
                    error = gone(f"too old resource version: {since} ({self.store.resource_version})")
                else:
                    initial = [e for e in (self._translate(watcher, ev) for ev in history) if e is not None]
            response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            if error is not None:
                await response.write(self._watch_line("ERROR", error.status_body()))
                return response
            for kind, obj in initial:
                await response.write(self._watch_line(kind, self._view(rtype, obj)))
            await self._stream_events(request, response, rtype, watcher,
                                      float(params.get("timeoutSeconds") or _DEFAULT_WATCH_SECONDS))
            return response
        finally:
            self.store.unsubscribe(watcher)

    async def _stream_events(self, request: aiohttp.web.BaseRequest, response: aiohttp.web.StreamResponse,
                             rtype: ResourceType, watcher: Watcher, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while not self._stopping:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), min(remaining, _WATCH_POLL_SECONDS))
                except TimeoutError:
                    transport = request.transport
                    if transport is None or transport.is_closing():
                        return  # the client went away
                    continue
                if event is None:
                    break
                translated = self._translate(watcher, event)
                if translated is not None:
                    await response.write(self._watch_line(translated[0], self._view(rtype, translated[1])))
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            return  # the client disconnected mid-write

    @staticmethod
    def _translate(watcher: Watcher, event: Event) -> tuple[str, Obj] | None:
        # A selector-filtered watch sees an object entering the selection as ADDED and leaving it as
        # DELETED, as the real watch cache does.
        if watcher.namespace is not None and namespace_of(event.obj) != watcher.namespace:
            return None
        now_match = watcher.predicate(event.obj)
        if event.kind != "MODIFIED":
            return (event.kind, event.obj) if now_match else None
        was_match = event.old is not None and watcher.predicate(event.old)
        if now_match:
            return ("MODIFIED" if was_match else "ADDED", event.obj)
        return ("DELETED", event.obj) if was_match else None

    @staticmethod
    def _watch_line(kind: str, obj: Obj) -> bytes:
        return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"

    # --- write -----------------------------------------------------------------------------------------

    def _insert(self, rtype: ResourceType, obj: Obj) -> Obj:
        """Store a brand-new object: assign uid, resourceVersion, creationTimestamp, generation."""
        meta = obj["metadata"]
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        meta["resourceVersion"] = self.store.next_rv()
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        self.store.put(rtype.storage_key, obj, None)
        return obj

    def _check_object(self, rtype: ResourceType, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise bad_request(f"the body of a {rtype.kind} must be a JSON object, got {type(obj).__name__}")
        if obj.get("kind") not in (None, "", rtype.kind):
            raise bad_request(f"the kind of the provided object ({obj['kind']}) does not match the resource "
                              f"{rtype.plural}.{rtype.group or 'core'} ({rtype.kind})")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request(f"metadata of the provided {rtype.kind} must be an object")
        return obj

    def _create(self, rtype: ResourceType, namespace: str | None, body: Any, params: Mapping[str, str]) -> Obj:
        obj = copy.deepcopy(self._check_object(rtype, body))
        meta = obj["metadata"]
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if namespace is not None and body_ns and body_ns != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on "
                                  "the request")
            namespace = namespace or body_ns or "default"
            meta["namespace"] = namespace
            ns_obj = self.store.get(("", "namespaces"), "", namespace)
            if ns_obj is None:
                raise not_found("namespaces", "", namespace)
            if ns_obj.get("metadata", {}).get("deletionTimestamp"):
                raise forbidden(rtype.plural, rtype.group, meta.get("name") or meta.get("generateName", ""),
                                f"unable to create new content in namespace {namespace} because it is being "
                                f"terminated")
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise invalid(rtype.kind, rtype.group, "", [
                    FieldError(REQUIRED, "metadata.name", "name or generateName is required")])
            while True:
                name = meta["generateName"] + "".join(random.choices(_NAME_SUFFIX_CHARS, k=5))
                if self.store.get(rtype.storage_key, namespace or "", name) is None:
                    break
            meta["name"] = name
        if self.store.get(rtype.storage_key, namespace or "", meta["name"]) is not None:
            raise already_exists(rtype.plural, rtype.group, meta["name"])
        for key in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp",
                    "deletionGracePeriodSeconds", "generation", "managedFields"):
            meta.pop(key, None)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        if "status" in rtype.subresources:
            # The real strategies reset status on create; status is written through /status.
            obj.pop("status", None)
            if rtype.storage_key == ("", "pods"):
                obj["status"] = {"phase": "Pending"}
        if rtype.storage_key == ("", "namespaces"):
            obj["status"] = {"phase": "Active"}
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj = api_schema.admit(rtype, obj, None, strict=params.get("fieldValidation") == "Strict",
                               warnings=_WARNINGS.get())
        if rtype.storage_key == (CRD_GROUP, CRD_PLURAL):
            api_crds.validate_crd(obj)
            obj["status"] = api_crds.established_status(obj, now_rfc3339())
        if params.get("dryRun"):
            return obj
        self._insert(rtype, obj)
        if rtype.storage_key == (CRD_GROUP, CRD_PLURAL):
            self._register_crd(obj)
        return obj

    def _replace(self, rtype: ResourceType, namespace: str, name: str, obj: Any, sub: str | None,
                 params: Mapping[str, str]) -> Obj:
        old = self._existing(rtype, namespace, name)
        new = copy.deepcopy(self._check_object(rtype, obj))
        meta = new["metadata"]
        if meta.get("name", name) != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if not meta.get("resourceVersion") and rtype.crd_name is not None:
            # Custom resources do not allow unconditional updates (AllowUnconditionalUpdate is false).
            raise invalid(rtype.kind, rtype.group, name, [FieldError(
                INVALID, "metadata.resourceVersion", "must be specified for an update", GoLiteral("0x0"))])
        if meta.get("resourceVersion") and meta["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(rtype.plural, rtype.group, name)
        return self._update(rtype, old, new, sub, params)

    def _update(self, rtype: ResourceType, old: Obj, new: Obj, sub: str | None, params: Mapping[str, str]) -> Obj:
        """Write a new full state of an existing object, with the real server's status/metadata rules."""
        if "status" in rtype.subresources:
            if sub == "status":
                # /status writes change only .status (plus nothing else in metadata).
                status = new.get("status")
                new = copy.deepcopy(old)
                if status is None:
                    new.pop("status", None)
                else:
                    new["status"] = status
            elif "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                    "name", "namespace"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise invalid(rtype.kind, rtype.group, meta["name"], [FieldError(
                    ("Forbidden", "FieldValueForbidden"), "metadata.finalizers",
                    f"no new finalizers can be added if the object is being deleted, found new finalizers "
                    f"{json.dumps(sorted(added))}")])
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
        new = api_schema.admit(rtype, new, old, strict=params.get("fieldValidation") == "Strict",
                               status_only=sub == "status", warnings=_WARNINGS.get())
        meta = new["metadata"]  # admission may have returned a new object
        is_crd = rtype.storage_key == (CRD_GROUP, CRD_PLURAL)
        if is_crd:
            api_crds.validate_crd(new)
        if _spec_part(new, rtype) != _spec_part(old, rtype):
            meta["generation"] = int(old_meta.get("generation") or 1) + 1
        if is_crd:
            new["status"] = api_crds.established_status(new, now_rfc3339())
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if new == old:
            return old  # a no-op update writes nothing and notifies nobody, as on a real server
        if params.get("dryRun"):
            return new
        meta["resourceVersion"] = self.store.next_rv()
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._finish_delete(rtype, new)
            return new
        self.store.put(rtype.storage_key, new, old)
        if is_crd:
            self._register_crd(new)
        return new

    async def _patch(self, request: aiohttp.web.BaseRequest, body: bytes, rtype: ResourceType, namespace: str,
                     name: str, sub: str | None) -> aiohttp.web.Response:
        params = request.query
        content_type = request.headers.get("Content-Type", "")
        patch = self._parse_body(body, content_type)
        is_apply = content_type.split(";")[0].strip().lower() == api_patch.APPLY
        if is_apply and not params.get("fieldManager"):
            raise invalid("PatchOptions", "meta.k8s.io", "", [FieldError(
                REQUIRED, "fieldManager", "is required for apply patch")])
        old = self.store.get(rtype.storage_key, namespace, name)
        if old is None:
            if not is_apply or sub is not None:
                raise not_found(rtype.plural, rtype.group, name)
            # Server-side apply creates what does not exist yet.
            patch = self._check_object(rtype, patch)
            patch["metadata"].setdefault("name", name)
            if rtype.namespaced:
                patch["metadata"].setdefault("namespace", namespace)
            if patch["metadata"]["name"] != name:
                raise bad_request(f"the name of the object ({patch['metadata']['name']}) does not match the name "
                                  f"on the URL ({name})")
            return _json(self._view(rtype, self._create(rtype, namespace or None, patch, params)), 201)
        if is_apply:
            self._check_object(rtype, patch)
        # The patch functions share untouched subtrees with the stored object; never write through them.
        patched = copy.deepcopy(api_patch.apply(content_type, old, patch))
        if not isinstance(patched, dict):
            raise bad_request("the patch did not produce an object")
        wanted_rv = (patched.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise conflict(rtype.plural, rtype.group, name)
        return _json(self._view(rtype, self._update(rtype, old, patched, sub, params)))

    # --- delete ----------------------------------------------------------------------------------------

    def _delete(self, rtype: ResourceType, namespace: str, name: str, params: Mapping[str, str],
                options: Any) -> Obj:
        obj = self._existing(rtype, namespace, name)
        options = options if isinstance(options, dict) else {}
        preconditions = options.get("preconditions") or {}
        if preconditions.get("uid") and preconditions["uid"] != obj["metadata"]["uid"]:
            raise conflict(rtype.plural, rtype.group, name)
        if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != obj["metadata"][
                "resourceVersion"]:
            raise conflict(rtype.plural, rtype.group, name)
        if params.get("dryRun") or options.get("dryRun"):
            return obj
        propagation = params.get("propagationPolicy") or options.get("propagationPolicy") or "Background"
        if propagation == "Orphan":
            self._orphan_dependents(obj["metadata"]["uid"])
        result = self._delete_object(rtype, obj)
        if result is None:
            # Deleted at once: like most registries, answer with a success Status, not the object.
            details: dict[str, Any] = {"name": name, "kind": rtype.plural, "uid": obj["metadata"]["uid"]}
            if rtype.group:
                details["group"] = rtype.group
            if rtype.storage_key in _RETURNS_DELETED_OBJECT:
                return obj
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
        return result

    def _delete_object(self, rtype: ResourceType, obj: Obj) -> Obj | None:
        """Delete now, or mark for deletion when finalizers or namespace content hold it; returns the kept state."""
        meta = obj["metadata"]
        is_namespace = rtype.storage_key == ("", "namespaces")
        if meta.get("deletionTimestamp"):
            return obj  # already being deleted
        if meta.get("finalizers") or is_namespace:
            new = copy.deepcopy(obj)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["metadata"]["resourceVersion"] = self.store.next_rv()
            if is_namespace:
                new["status"] = {**(new.get("status") or {}), "phase": "Terminating"}
            self.store.put(rtype.storage_key, new, obj)
            if is_namespace:
                self._spawn(self._terminate_namespace(meta["name"]))
            return new
        final = copy.deepcopy(obj)
        final["metadata"]["resourceVersion"] = self.store.next_rv()
        self._finish_delete(rtype, final)
        return None

    def _finish_delete(self, rtype: ResourceType, final: Obj) -> None:
        self.store.remove(rtype.storage_key, final)
        if rtype.storage_key == (CRD_GROUP, CRD_PLURAL):
            self._unregister_crd(final)
        uid = final["metadata"].get("uid")
        if uid:
            # Garbage collection runs after the response, like the controller-manager's collector.
            asyncio.get_running_loop().call_soon(self._collect_garbage)

    def _delete_collection(self, rtype: ResourceType, namespace: str | None, params: Mapping[str, str],
                           options: Any) -> Obj:
        if "deletecollection" not in rtype.verbs:
            raise method_not_allowed()
        selector = make_filter(params.get("labelSelector", ""), params.get("fieldSelector", ""),
                               rtype.group, rtype.plural)
        deleted = []
        for obj in self.store.items(rtype.storage_key, namespace):
            if selector(obj):
                kept = self._delete_object(rtype, obj)
                deleted.append(self._view(rtype, kept or obj))
        return {"kind": rtype.effective_list_kind, "apiVersion": rtype.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)}, "items": deleted}

    def _all_objects(self) -> list[tuple[ResourceType, Obj]]:
        result: list[tuple[ResourceType, Obj]] = []
        for rtype in self.registry.storage_types():
            result.extend((rtype, obj) for obj in self.store.items(rtype.storage_key))
        return result

    def _collect_garbage(self) -> None:
        """Delete every object whose owners are all gone, repeatedly, until nothing changes."""
        if self._stopping:
            return
        while True:
            objects = self._all_objects()
            live = {obj["metadata"]["uid"] for _, obj in objects}
            orphans = [(rtype, obj) for rtype, obj in objects
                       if (refs := obj["metadata"].get("ownerReferences"))
                       and not obj["metadata"].get("deletionTimestamp")
                       and not any(ref.get("uid") in live for ref in refs)]
            if not orphans:
                return
            for rtype, obj in orphans:
                current = self.store.get(rtype.storage_key, namespace_of(obj), obj["metadata"]["name"])
                if current is not None:
                    self._delete_object(rtype, current)

    def _orphan_dependents(self, uid: str) -> None:
        for rtype, obj in self._all_objects():
            refs = obj["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") == uid for ref in refs):
                new = copy.deepcopy(obj)
                kept = [ref for ref in refs if ref.get("uid") != uid]
                if kept:
                    new["metadata"]["ownerReferences"] = kept
                else:
                    new["metadata"].pop("ownerReferences")
                new["metadata"]["resourceVersion"] = self.store.next_rv()
                self.store.put(rtype.storage_key, new, obj)

    async def _terminate_namespace(self, namespace: str) -> None:
        """The namespace controller: delete everything inside, wait for it to go, then drop the namespace."""
        ns_type = self._type("", "v1", "namespaces")
        while not self._stopping:
            remaining = 0
            for rtype in self.registry.storage_types():
                if not rtype.namespaced:
                    continue
                for obj in self.store.items(rtype.storage_key, namespace):
                    remaining += 1
                    self._delete_object(rtype, obj)
            if remaining == 0:
                ns = self.store.get(ns_type.storage_key, "", namespace)
                if ns is not None:
                    final = copy.deepcopy(ns)
                    final["metadata"]["resourceVersion"] = self.store.next_rv()
                    final["spec"] = {}
                    self._finish_delete(ns_type, final)
                return
            await asyncio.sleep(0.05)  # content held by finalizers: wait for its controllers

    # --- CRDs ------------------------------------------------------------------------------------------

    def _register_crd(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        self.registry.remove_crd(name)
        for rtype, storage in api_crds.resource_types(crd):
            self.registry.add(rtype, preferred=storage)

    def _unregister_crd(self, crd: Obj) -> None:
        removed = self.registry.by_crd(crd["metadata"]["name"])
        if not removed:
            return
        storage_key = removed[0].storage_key
        for obj in self.store.items(storage_key):
            final = copy.deepcopy(obj)
            final["metadata"]["resourceVersion"] = self.store.next_rv()
            self.store.remove(storage_key, final)
        self.store.close_watchers(storage_key)
        self.registry.remove_crd(crd["metadata"]["name"])
