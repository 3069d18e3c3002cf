"""Emulated kube-apiservers for the simulated platform (``--target sim``).

Each :class:`SimApiServer` is one API server on ``127.0.0.1:<random port>``, served by aiohttp on its
own event loop in a background thread, and reached over plain HTTP by the official ``kubernetes``
client through a kubeconfig from :func:`write_kubeconfig`::

    with SimApiServer("platform") as platform, SimApiServer("worker") as worker:
        write_kubeconfig(path, {"sim-platform": platform.url, "sim-worker": worker.url})
        api = kubernetes.config.new_client_from_config(config_file=str(path), context="sim-platform")

Built on kmock (https://pypi.org/project/kmock/): the HTTP handler is a subclass of
``kmock.KubernetesEmulator``, so kmock's DSL reactions can be layered on top for fault injection
(``server.kmock["get /api/v1/namespaces/default/pods"] << 500``); they take precedence over the
emulation. What kmock could not serve and was replaced (see ``_SimKubernetesHandler``):

* request parsing (``__call__``): kmock's path parser fails on ``/api/v1/namespaces`` (list/create of
  namespaces) and it decodes bodies only as JSON/form, losing YAML apply patches;
* the stateful emulation (``_handle`` and its fallbacks): kmock merges on PUT, has no selectors, no
  uid/resourceVersion/generation/creationTimestamp, no status subresource, no validation, no pod logs,
  no watch resume or timeout, no garbage collection; it is replaced by :mod:`harness.sim.api_handlers`;
* discovery: kmock derives it from declared payloads with arbitrary preferred versions; here it comes
  from :mod:`harness.sim.api_registry` (built-ins plus CRDs, preferred = storage version).

Kept from kmock: the handler base class and its reaction DSL, the ``KubernetesError`` family for
``Status`` errors, and its request record (iterate ``server.kmock``; filled only while reactions exist,
so the emulation path pays nothing for it).

Approximations worth knowing (each documented where it lives): strategic merge and server-side apply
are merge patches with list merging by ``name``/``type`` (:mod:`harness.sim.api_patch`; no
managedFields, so apply never removes fields it stopped managing); Foreground deletion behaves like
Background; ``events.k8s.io/v1`` events are stored apart from ``core/v1`` events; built-in kinds are not
schema-validated; CRD versions share storage with conversion strategy None (only ``apiVersion``
changes); ``limit``/``continue`` tokens are plain offsets.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp.web
import attrs
import yaml
from kmock import KubernetesEmulator, RawHandler, Request, resource

from harness.sim.api_handlers import ApiCore, parse_api_path

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0
_KMOCK_REQUEST_LIMIT = 10_000  # requests kept for kmock's DSL views; older ones are dropped


@attrs.define(kw_only=True)
class _SimKubernetesHandler(KubernetesEmulator):
    """kmock's emulator with its request parsing and state replaced by :class:`ApiCore`."""

    core: ApiCore

    def __attrs_post_init__(self) -> None:
        # Deliberately not calling super(): kmock's fallback reactions are its own (merging, selector-less)
        # emulation, which ApiCore replaces. User reactions added through the DSL still apply first.
        pass

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw_request.read()
        self.core.log_request(raw_request.method, raw_request.path)
        if self._payloads:
            try:
                return await RawHandler._handle(self, self._kmock_request(raw_request, body))
            except NotImplementedError:
                pass  # no user reaction matched: emulate
            except Exception as error:
                return await self._render_error(error)
        return await self.core.handle(raw_request, body)

    def _kmock_request(self, raw_request: aiohttp.web.BaseRequest, body: bytes) -> Request:
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        parsed = parse_api_path(raw_request.path)
        request = Request(
            id=len(self._requests), method=raw_request.method, url=raw_request.url,
            params=dict(raw_request.query), headers=dict(raw_request.headers), cookies=dict(raw_request.cookies),
            body=body, text=body.decode(errors="replace"), data=data,
            resource=resource(group=parsed.group, version=parsed.version, plural=parsed.plural) if parsed else None,
            namespace=parsed.namespace if parsed else None, name=parsed.name if parsed else None,
            subresource=parsed.subresource if parsed else None, raw_request=raw_request,
        )
        if len(self._requests) >= _KMOCK_REQUEST_LIMIT:
            del self._requests[: _KMOCK_REQUEST_LIMIT // 2]
        self._requests.append(request)
        return request


class SimApiServer:
    """One emulated kube-apiserver on 127.0.0.1 (random free port), running in a background thread."""

    def __init__(self, name: str, *, version: str = "v1.33.1") -> None:
        self.name = name
        self.version = version
        self.url = ""
        self._core = ApiCore(name, version)
        self._handler = _SimKubernetesHandler(core=self._core)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: aiohttp.web.ServerRunner | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    @property
    def kmock(self) -> KubernetesEmulator:
        """The kmock handler: add DSL reactions here to override the emulation (e.g. inject a 500)."""
        return self._handler

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._thread is not None and self._thread.is_alive() and bool(self.url)

    def start(self) -> None:
        """Start listening; returns once the server answers. Calling it again while running does nothing.

        Raises:
            RuntimeError: the server did not come up within 10 s (the cause is chained).
        """
        if self.running:
            return
        if self._thread is not None:
            raise RuntimeError(f"sim apiserver {self.name!r} was stopped; create a new SimApiServer")
        self._thread = threading.Thread(target=self._run, name=f"sim-apiserver-{self.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT) or self._startup_error is not None:
            raise RuntimeError(f"sim apiserver {self.name!r} did not start") from self._startup_error

    def stop(self) -> None:
        """Close open watches, stop listening and join the thread. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(_STOP_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_STOP_TIMEOUT)
            self.url = ""

    def set_pod_log(self, namespace: str, pod: str, container: str, text: str, *, previous: bool = False) -> None:
        """Set what ``GET .../pods/<pod>/log?container=<container>[&previous=true]`` returns."""
        self._core.set_pod_log(namespace, pod, container, text, previous)

    def append_pod_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        """Append text to a container's current log."""
        self._core.append_pod_log(namespace, pod, container, text)

    def request_log(self) -> list[tuple[str, str]]:
        """(method, path without query) of every request served so far, oldest first."""
        return self._core.request_log()

    def __enter__(self) -> SimApiServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SimApiServer(name={self.name!r}, url={self.url!r})"

    # --- the loop thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as error:  # reported to start() in the caller's thread
            self._startup_error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _startup(self) -> None:
        await self._handler.__aenter__()
        server = aiohttp.web.Server(self._handler, handler_cancellation=True, access_log=None)
        # A short shutdown timeout: open watches are ended by ApiCore.shutdown() first anyway.
        self._runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
        await self._runner.setup()
        site = aiohttp.web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _shutdown(self) -> None:
        self._core.shutdown()
        await asyncio.sleep(0)  # let watch handlers see the end of their queues
        if self._runner is not None:
            await self._runner.cleanup()
        await self._handler.__aexit__(None, None, None)


def write_kubeconfig(path: Path, clusters: Mapping[str, str], *, current: str | None = None) -> None:
    """Write a kubeconfig with one cluster+context+user per entry ``{context_name: server_url}``.

    Plain http, token auth with a dummy token, namespace ``default``; contexts, clusters and users are
    named exactly as the keys. ``current`` (default: the first key) becomes ``current-context``.

    Raises:
        ValueError: no clusters, a non-http(s) URL, or ``current`` not among the keys.
    """
    if not clusters:
        raise ValueError(f"write_kubeconfig({path}): no clusters given")
    for context, url in clusters.items():
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"write_kubeconfig({path}): cluster {context!r} has no http(s) URL: {url!r}")
    current = current if current is not None else next(iter(clusters))
    if current not in clusters:
        raise ValueError(f"write_kubeconfig({path}): current context {current!r} is not one of {sorted(clusters)}")
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": url}} for name, url in clusters.items()],
        "users": [{"name": name, "user": {"token": f"sim-token-{name}"}} for name in clusters],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}
                     for name in clusters],
        "current-context": current,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
