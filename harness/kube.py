"""Per-context Kubernetes adapter on the official ``kubernetes`` client.

The same adapter talks to real clusters (kind or a user's contexts) and to the simulated API servers over
HTTP: only the kubeconfig differs. Objects go in and come out as plain dicts (the shape of the YAML people
read), and API failures become ``KubeError`` with the server's own message.
"""

from __future__ import annotations

import builtins
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

Obj = dict[str, Any]

FIELD_MANAGER = "kratix-workshop-e2e"

# Observers, so reporting stays out of the adapter: called with (cluster name, action) after every
# successful write, and with the adapter on every API use (diagnostics collect from clusters touched).
# Listeners receive the adapter itself, so they can tell the harness' own adapters from others in the
# same process (the simulated controllers use this class too).
WRITE_LISTENERS: list[Callable[[Kube, str], None]] = []
TOUCH_LISTENERS: list[Callable[[Kube], None]] = []
# Client-side socket timeouts: (connect, read). Waits are bounded elsewhere; this only stops a dead
# connection from hanging a step forever.
_REQUEST_TIMEOUT = (5, 60)


class KubeError(RuntimeError):
    """The API server refused or failed a request; carries the server's status and message."""

    def __init__(self, cluster: str, action: str, status: int, reason: str, message: str) -> None:
        self.cluster = cluster
        self.action = action
        self.status = status
        self.reason = reason
        self.server_message = message
        super().__init__(f"[{cluster}] {action}: {message} (HTTP {status} {reason})")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def transient(self) -> bool:
        """Errors worth retrying: throttling, server hiccups, conflicts on concurrent updates."""
        return self.status in (409, 429, 500, 502, 503, 504) and self.reason != "AlreadyExists"


class ContextError(RuntimeError):
    """A kubeconfig context is missing or its API server cannot be reached."""


@dataclass(frozen=True)
class Ref:
    """Identifies one object; prints the way kubectl users name it."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Ref:
        meta = obj.get("metadata") or {}
        return cls(obj["apiVersion"], obj["kind"], meta.get("name", ""), meta.get("namespace"))

    def __str__(self) -> str:
        ns = f" -n {self.namespace}" if self.namespace else ""
        return f"{self.kind}/{self.name}{ns}"


def selector(labels: Mapping[str, str] | str | None) -> str | None:
    """A label selector string from a mapping (``{"a": "b"}`` -> ``a=b``) or pass a string through."""
    if labels is None or isinstance(labels, str):
        return labels
    return ",".join(f"{k}={v}" for k, v in labels.items())


def _status_message(exc: ApiException) -> tuple[str, str]:
    reason = exc.reason or ""
    message = str(exc.body or "").strip()
    try:
        body = json.loads(exc.body or "{}")
        message = body.get("message") or message
        reason = body.get("reason") or reason
    except (ValueError, TypeError, AttributeError):
        pass
    return reason, message


def is_transient(exc: BaseException) -> bool:
    """True for errors a wait may retry: connection trouble and retryable API statuses."""
    if isinstance(exc, KubeError):
        return exc.transient
    return isinstance(
        exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)
    )


class Kube:
    """One cluster, reached through one kubeconfig context.

    Args:
        api_client: a configured ``kubernetes.client.ApiClient``.
        name: the harness' name for this cluster (``platform`` or ``worker``); used in messages.
        context: the kubeconfig context, for messages and for the kubectl-equivalent commands we log.
        discovery_cache: file for the dynamic client's discovery cache (kept out of /tmp so runs against
            different clusters on the same port never share a stale cache).
    """

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        name: str,
        context: str,
        discovery_cache: Path | None = None,
    ) -> None:
        self.api_client = api_client
        self.name = name
        self.context = context
        self._discovery_cache = discovery_cache
        self._dynamic: DynamicClient | None = None
        self._lock = threading.Lock()
        self._discovery_lock = threading.RLock()
        self.core = k8s_client.CoreV1Api(api_client)

    @classmethod
    def connect(
        cls,
        *,
        name: str,
        context: str,
        kubeconfig: Path | None = None,
        discovery_cache: Path | None = None,
    ) -> Kube:
        """Build an adapter for ``context`` in ``kubeconfig`` (default: $KUBECONFIG or ~/.kube/config).

        Never changes the kubeconfig's current context.

        Raises:
            ContextError: the context does not exist in the kubeconfig.
        """
        # Read $KUBECONFIG now: the client library captured it when it was first imported.
        path = str(kubeconfig) if kubeconfig else os.path.expanduser(os.environ.get("KUBECONFIG") or "~/.kube/config")
        try:
            contexts, _ = k8s_config.list_kube_config_contexts(config_file=path)
        except (k8s_config.ConfigException, OSError) as exc:
            raise ContextError(f"cannot read kubeconfig {path or '$KUBECONFIG/~/.kube/config'}: {exc}") from None
        names = [c["name"] for c in contexts or []]
        if context not in names:
            raise ContextError(
                f"context {context!r} ({name}) not found in kubeconfig "
                f"{path or '$KUBECONFIG/~/.kube/config'}; available: {', '.join(names) or 'none'}"
            )
        configuration = k8s_client.Configuration()
        k8s_config.load_kube_config(config_file=path, context=context, client_configuration=configuration,
                                    persist_config=False)
        # Waits, watches and diagnostics run side by side; the default pool of 10 drops connections.
        configuration.connection_pool_maxsize = 32
        api_client = k8s_client.ApiClient(configuration)
        return cls(api_client, name=name, context=context, discovery_cache=discovery_cache)

    # -- discovery -------------------------------------------------------------------------------------

    @property
    def dynamic(self) -> DynamicClient:
        with self._lock:
            if self._dynamic is None:
                try:
                    self._dynamic = DynamicClient(
                        self.api_client,
                        cache_file=str(self._discovery_cache) if self._discovery_cache else None,
                    )
                except ApiException as exc:
                    raise self._error("discover APIs", exc) from None
            return self._dynamic

    def ping(self) -> str:
        """Return the server's version string; a clear ``ContextError`` when unreachable."""
        try:
            info = k8s_client.VersionApi(self.api_client).get_code(_request_timeout=(3, 5))
        except (urllib3.exceptions.HTTPError, ApiException, OSError) as exc:
            raise ContextError(
                f"cannot reach the {self.name} cluster (context {self.context!r}, "
                f"server {self.api_client.configuration.host}): {_short(exc)}"
            ) from None
        return str(info.git_version)

    def resource(self, api_version: str, kind: str) -> Any:
        """The dynamic-client resource for a kind; re-discovers once if the kind is new (fresh CRD)."""
        for touched in TOUCH_LISTENERS:
            touched(self)
        dynamic = self.dynamic
        # The dynamic client's discovery cache is not thread-safe (an invalidation under a concurrent
        # lookup raises KeyError), and waits, watches and diagnostics share one adapter.
        with self._discovery_lock:
            try:
                return dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                dynamic.resources.invalidate_cache()
            try:
                return dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                raise KubeError(
                    self.name, f"find {kind}.{api_version}", 404, "NotFound",
                    f'the server doesn\'t have a resource type "{kind}" in {api_version}',
                ) from None

    def _served(self, api_version: str, kind: str) -> Any | None:
        """The resource, or None when the server does not serve that kind (e.g. its CRD is not installed)."""
        try:
            return self.resource(api_version, kind)
        except KubeError as exc:
            if exc.not_found:
                return None
            raise

    def has_kind(self, api_version: str, kind: str) -> bool:
        return self._served(api_version, kind) is not None

    # -- reads -----------------------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """The object as a dict, or None when it does not exist (or its kind is not served)."""
        res = self._served(api_version, kind)
        if res is None:
            return None
        try:
            found = res.get(name=name, namespace=namespace if res.namespaced else None,
                            _request_timeout=_REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise self._error(f"get {kind}/{name}", exc) from None
        return _to_dict(found)

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        labels: Mapping[str, str] | str | None = None,
        fields: str | None = None,
    ) -> builtins.list[Obj]:
        """Objects of a kind (all namespaces when ``namespace`` is None); [] when the kind is not served."""
        return self.list_with_version(api_version, kind, namespace, labels=labels, fields=fields)[0]

    def list_with_version(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        labels: Mapping[str, str] | str | None = None,
        fields: str | None = None,
    ) -> tuple[builtins.list[Obj], str]:
        """Objects of a kind and the list's resourceVersion: where a watch for changes after it starts.

        The resourceVersion is "" when the kind is not served.
        """
        res = self._served(api_version, kind)
        if res is None:
            return [], ""
        try:
            found = res.get(
                namespace=namespace if res.namespaced else None,
                label_selector=selector(labels),
                field_selector=fields,
                _request_timeout=_REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            raise self._error(f"list {kind}", exc) from None
        listed = _to_dict(found)
        items = listed.get("items") or []
        for item in items:  # list items come without apiVersion/kind
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return list(items), str((listed.get("metadata") or {}).get("resourceVersion") or "")

    def logs(
        self,
        pod: str,
        namespace: str,
        *,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int | None = None,
    ) -> str:
        """A container's log, as ``kubectl logs`` shows it."""
        try:
            text = self.core.read_namespaced_pod_log(
                pod, namespace, container=container, previous=previous, tail_lines=tail_lines,
                _request_timeout=_REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            raise self._error(f"logs {pod} -c {container or '(default)'}", exc) from None
        return str(text)

    def events(self, namespace: str | None = None, *, about: Ref | None = None) -> builtins.list[Obj]:
        """Core events, oldest first, optionally only those about one object."""
        fields = None
        if about is not None:
            fields = f"involvedObject.name={about.name},involvedObject.kind={about.kind}"
            namespace = about.namespace or namespace
        events = self.list("v1", "Event", namespace, fields=fields)
        return sorted(events, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))

    # -- writes ----------------------------------------------------------------------------------------

    def create(self, obj: Mapping[str, Any], *, strict: bool = True) -> Obj:
        """Create an object (fails if it exists). ``strict`` rejects unknown fields, as kubectl does."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        ns = _namespace_for(res, obj)
        try:
            created = res.create(body=dict(obj), namespace=ns, query_params=_validation(strict),
                                 _request_timeout=_REQUEST_TIMEOUT)
        except ApiException as exc:
            raise self._error(f"create {Ref.of(obj)}", exc) from None
        self._wrote(f"create {Ref.of(obj)}")
        return _to_dict(created)

    def apply(self, obj: Mapping[str, Any], *, strict: bool = True) -> tuple[Obj, str]:
        """Server-side apply one object, like ``kubectl apply --server-side --force-conflicts``.

        Returns the object and what happened: ``created``, ``configured`` or ``unchanged`` (kubectl's words).
        """
        res = self.resource(obj["apiVersion"], obj["kind"])
        ns = _namespace_for(res, obj)
        name = obj["metadata"]["name"]
        before = self.get(obj["apiVersion"], obj["kind"], name, ns)
        try:
            applied = res.server_side_apply(
                body=dict(obj), name=name, namespace=ns, field_manager=FIELD_MANAGER,
                force_conflicts=True, query_params=_validation(strict), _request_timeout=_REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            raise self._error(f"apply {Ref.of(obj)}", exc) from None
        after = _to_dict(applied)
        if before is None:
            outcome = "created"
        elif before["metadata"].get("resourceVersion") == after["metadata"].get("resourceVersion"):
            outcome = "unchanged"
        else:
            outcome = "configured"
        if outcome != "unchanged":
            self._wrote(f"apply {Ref.of(obj)} ({outcome})")
        return after, outcome

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Mapping[str, Any] | builtins.list[Any],
        namespace: str | None = None,
        *,
        subresource: str | None = None,
        content_type: str = "application/merge-patch+json",
    ) -> Obj:
        """Patch an object or its ``status`` subresource (merge patch by default)."""
        res = self.resource(api_version, kind)
        target = res.subresources[subresource] if subresource else res
        try:
            patched = target.patch(
                body=patch, name=name, namespace=namespace if res.namespaced else None,
                content_type=content_type, _request_timeout=_REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            sub = f"/{subresource}" if subresource else ""
            raise self._error(f"patch {kind}/{name}{sub}", exc) from None
        self._wrote(f"patch {kind}/{name}")
        return _to_dict(patched)

    def replace(self, obj: Mapping[str, Any], *, subresource: str | None = None) -> Obj:
        """PUT an object back (optimistic concurrency through its resourceVersion)."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        target = res.subresources[subresource] if subresource else res
        try:
            replaced = target.replace(body=dict(obj), namespace=_namespace_for(res, obj),
                                      _request_timeout=_REQUEST_TIMEOUT)
        except ApiException as exc:
            raise self._error(f"replace {Ref.of(obj)}", exc) from None
        self._wrote(f"replace {Ref.of(obj)}")
        return _to_dict(replaced)

    def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None,
        *, propagation: str = "Background",
    ) -> bool:
        """Delete one object; False when it was already gone."""
        res = self._served(api_version, kind)
        if res is None:
            return False
        try:
            res.delete(name=name, namespace=namespace if res.namespaced else None,
                       propagation_policy=propagation, _request_timeout=_REQUEST_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise self._error(f"delete {kind}/{name}", exc) from None
        self._wrote(f"delete {kind}/{name}")
        return True

    # -- watching --------------------------------------------------------------------------------------

    def watch(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        labels: Mapping[str, str] | str | None = None,
        fields: str | None = None,
        timeout: float = 10.0,
        resource_version: str | None = None,
    ) -> Iterator[tuple[str, Obj]]:
        """Stream (event type, object) until ``timeout`` seconds pass (server-side timeout)."""
        res = self.resource(api_version, kind)
        stream = k8s_watch.Watch()
        try:
            for event in self.dynamic.watch(
                res, namespace=namespace if res.namespaced else None,
                label_selector=selector(labels), field_selector=fields,
                timeout=max(1, int(timeout)), resource_version=resource_version, watcher=stream,
            ):
                yield str(event["type"]), _to_dict(event["object"])
        except ApiException as exc:
            raise self._error(f"watch {kind}", exc) from None
        finally:
            stream.stop()

    def wake_on_change(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        seconds: float,
        labels: Mapping[str, str] | str | None = None,
    ) -> None:
        """Block until an object of this kind changes or ``seconds`` pass: a wait's "sleep" on a watch.

        Starts from the current list's resourceVersion, so only changes after the call wake it.
        """
        if seconds <= 0:
            return
        if seconds < 1:
            # Watches time out in whole seconds; a short pause is cheaper as a plain sleep.
            time.sleep(seconds)
            return
        try:
            _, rv = self.list_with_version(api_version, kind, namespace, labels=labels)
            if not rv:  # the kind is not served yet (CRD pending): nothing to watch
                time.sleep(min(seconds, 0.5))
                return
            for _ in self.watch(api_version, kind, namespace, labels=labels, timeout=seconds,
                                resource_version=rv):
                return
        except (KubeError, ApiException, urllib3.exceptions.HTTPError, OSError):
            # The kind may not exist yet (CRD pending) or the watch broke: fall back to sleeping.
            time.sleep(min(seconds, 0.5))

    # -- helpers ---------------------------------------------------------------------------------------

    def _wrote(self, action: str) -> None:
        for listener in WRITE_LISTENERS:
            listener(self, action)

    def _error(self, action: str, exc: ApiException) -> KubeError:
        reason, message = _status_message(exc)
        return KubeError(self.name, action, int(exc.status or 0), reason, message)

    def __repr__(self) -> str:
        return f"Kube({self.name!r}, context={self.context!r}, host={self.api_client.configuration.host!r})"


def _validation(strict: bool) -> list[tuple[str, str]]:
    return [("fieldValidation", "Strict" if strict else "Warn")]


def _namespace_for(res: Any, obj: Mapping[str, Any]) -> str | None:
    if not res.namespaced:
        return None
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def _to_dict(value: Any) -> Obj:
    result = value.to_dict() if hasattr(value, "to_dict") else value
    return dict(result) if isinstance(result, Mapping) else {}


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
