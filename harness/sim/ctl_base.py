"""Plumbing shared by the simulated controllers: context, informers (watch-fed caches), the loop, events.

Every controller talks to its cluster only through :class:`harness.kube.Kube` over HTTP, as the harness
does. An :class:`Informer` keeps a cache of one kind fed by a watch (relisting when the watch breaks), and
wakes the controllers that read it. A :class:`Controller` is a thread that reconciles from those caches
on every wake-up or tick; it logs and records errors instead of dying.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.kube import Kube, KubeError
from harness.sim.bucket import SimBucket
from harness.sim.faults import Faults

Obj = dict[str, Any]


def now_iso() -> str:
    """The current time the way the API server writes timestamps (RFC 3339, UTC, seconds)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# apimachinery's utilrand alphabet (no vowels, no 0/1/3): what real generated names are made of.
NAME_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(length: int = 5) -> str:
    """A suffix like those of generated Job and pod names."""
    return "".join(random.choices(NAME_SUFFIX_CHARS, k=length))


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` of an object (empty dict when absent)."""
    return dict(obj.get("metadata") or {})


def name_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def ns_of(obj: Mapping[str, Any]) -> str | None:
    ns = (obj.get("metadata") or {}).get("namespace")
    return str(ns) if ns else None


def uid_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def owner_ref(obj: Mapping[str, Any], *, controller: bool = True) -> dict[str, Any]:
    """An ownerReference pointing at ``obj`` (as controllers set on what they create)."""
    ref: dict[str, Any] = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": name_of(obj),
        "uid": uid_of(obj),
    }
    if controller:
        ref["controller"] = True
        ref["blockOwnerDeletion"] = True
    return ref


def owned_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    return any(ref.get("uid") == owner_uid for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def has_ready_replica(dep: Mapping[str, Any] | None) -> bool:
    """Whether a controller's Deployment has a pod running, so the controller it stands for acts.

    One ready replica is enough (not :func:`harness.conditions.deployment_ready`): a real controller keeps
    working while its Deployment rolls out or is scaled up.
    """
    return dep is not None and int(((dep.get("status") or {}).get("readyReplicas")) or 0) >= 1


def set_condition(
    conditions: list[dict[str, Any]], type_: str, status: str, reason: str, message: str,
    *, observed_generation: int | None = None,
) -> list[dict[str, Any]]:
    """Return ``conditions`` with one condition set; lastTransitionTime moves only when status changes.

    Mirrors ``meta.SetStatusCondition``: order kept, new types appended.
    """
    result = [dict(c) for c in conditions]
    for cond in result:
        if cond.get("type") == type_:
            if cond.get("status") != status:
                cond["lastTransitionTime"] = now_iso()
            cond.update(status=status, reason=reason, message=message)
            if observed_generation is not None:
                cond["observedGeneration"] = observed_generation
            return result
    new: dict[str, Any] = {"type": type_, "status": status, "reason": reason, "message": message,
                           "lastTransitionTime": now_iso()}
    if observed_generation is not None:
        new["observedGeneration"] = observed_generation
    result.append(new)
    return result


def same_conditions(a: Iterable[Mapping[str, Any]], b: Iterable[Mapping[str, Any]]) -> bool:
    """Equal ignoring lastTransitionTime (so re-asserting a state does not rewrite it)."""
    def strip(conds: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in conds]

    return strip(a) == strip(b)


@dataclass
class SimContext:
    """What every controller shares: timing, faults, the state store, the log and the error list."""

    speed: float
    faults: Faults
    bucket: SimBucket
    log: logging.Logger
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    _error_counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def delay(self, seconds: float) -> float:
        """A realistic delay (in seconds at speed 1.0), scaled by the platform's speed factor."""
        return max(0.0, seconds * self.speed)

    def sleep(self, seconds: float) -> bool:
        """Sleep a scaled delay; False when the platform is stopping (callers should return)."""
        return not self.stopping.wait(self.delay(seconds))

    def record_error(self, where: str, exc: BaseException) -> None:
        """Log an unexpected controller error and keep it for tests (deduplicated by message)."""
        text = f"{where}: {type(exc).__name__}: {exc}"
        with self._lock:
            count = self._error_counts.get(text, 0)
            self._error_counts[text] = count + 1
            if count == 0:
                self.errors.append(text)
        if count == 0:
            self.log.error("%s\n%s", text, "".join(traceback.format_exception(exc)).rstrip())
        else:
            self.log.debug("again (%d): %s", count + 1, text)


def expected_kube_error(exc: BaseException) -> bool:
    """Races every controller meets: retried (or moot) on the next pass.

    The object is gone (404), changed or already exists (409), or its namespace is terminating (403).
    """
    if not isinstance(exc, KubeError):
        return False
    return exc.status in (404, 409) or (exc.status == 403 and "being terminated" in exc.server_message)


class Informer:
    """A cache of one kind on one cluster, fed by list + watch, that wakes its listeners on change.

    The kind may not be served yet (a CRD still to come): the informer waits for it, then starts.

    Args:
        kube: the cluster.
        api_version, kind: what to cache.
        ctx: shared context (stop flag, log).
        namespace: limit to one namespace.
        ready_check: when given, only start once this returns True (e.g. "the CRD is established").
    """

    WATCH_SECONDS = 20

    def __init__(
        self,
        kube: Kube,
        api_version: str,
        kind: str,
        ctx: SimContext,
        *,
        namespace: str | None = None,
        ready_check: Callable[[], bool] | None = None,
    ) -> None:
        self.kube = kube
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self.ctx = ctx
        self._ready_check = ready_check
        self._cache: dict[tuple[str, str], Obj] = {}
        self._lock = threading.Lock()
        self._listeners: list[threading.Event] = []
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"informer-{kube.name}-{kind}", daemon=True)

    def __repr__(self) -> str:
        return f"Informer({self.kube.name}, {self.kind}.{self.api_version})"

    def add_listener(self, event: threading.Event) -> None:
        self._listeners.append(event)

    def start(self) -> Informer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- reads -------------------------------------------------------------------------------------

    def items(self, namespace: str | None = None) -> list[Obj]:
        """Cached objects (shared dicts: copy before changing them)."""
        with self._lock:
            values = list(self._cache.values())
        if namespace is None:
            return values
        return [o for o in values if ns_of(o) == namespace]

    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        with self._lock:
            return self._cache.get((namespace or "", name))

    def get_copy(self, name: str, namespace: str | None = None) -> Obj | None:
        found = self.get(name, namespace)
        return copy.deepcopy(found) if found is not None else None

    # -- writes from the controllers' own results (read-your-writes without waiting for the watch) --

    def remember(self, obj: Mapping[str, Any]) -> None:
        """Put an object the controller just wrote into the cache, unless the cache already has a newer one."""
        key = (ns_of(obj) or "", name_of(obj))
        new_rv = _rv(obj)
        with self._lock:
            old = self._cache.get(key)
            if old is not None and _rv(old) > new_rv:
                return
            self._cache[key] = dict(obj)

    def forget(self, name: str, namespace: str | None = None) -> None:
        with self._lock:
            self._cache.pop((namespace or "", name), None)

    # -- the loop ----------------------------------------------------------------------------------

    def _notify(self) -> None:
        for event in self._listeners:
            event.set()

    def _stopped(self) -> bool:
        return self._stop.is_set() or self.ctx.stopping.is_set()

    def _run(self) -> None:
        failures = 0
        while not self._stopped():
            try:
                if self._ready_check is not None and not self._ready_check():
                    self._stop.wait(0.1)
                    continue
                rv: str | None = self._relist()
                failures = 0
                while rv is not None and not self._stopped():
                    rv = self._watch(rv)  # None when the watch expired or broke: relist
            except Exception as exc:  # an informer must outlive any single failure
                if self._stopped():
                    return
                failures += 1
                if isinstance(exc, KubeError) and exc.not_found:
                    self.ctx.log.debug("%r: kind not served yet", self)
                elif failures >= 3:
                    self.ctx.record_error(repr(self), exc)
                else:
                    self.ctx.log.warning("%r: %s (retrying)", self, exc)
                self._stop.wait(min(2.0, 0.1 * failures))

    def _relist(self) -> str:
        res = self.kube.resource(self.api_version, self.kind)
        listing = res.get(namespace=self.namespace if res.namespaced else None, _request_timeout=(5, 30))
        data = listing.to_dict() if hasattr(listing, "to_dict") else dict(listing)
        fresh: dict[tuple[str, str], Obj] = {}
        for item in data.get("items") or []:
            item.setdefault("apiVersion", self.api_version)
            item.setdefault("kind", self.kind)
            fresh[(ns_of(item) or "", name_of(item))] = item
        with self._lock:
            changed = fresh != self._cache
            self._cache = fresh
        self.synced.set()
        if changed:
            self._notify()
        return str((data.get("metadata") or {}).get("resourceVersion") or "")

    def _watch(self, rv: str) -> str | None:
        for event_type, obj in self.kube.watch(
            self.api_version, self.kind, self.namespace, timeout=self.WATCH_SECONDS, resource_version=rv or None,
        ):
            if self._stopped():
                return None
            if event_type == "ERROR":
                return None
            obj.setdefault("apiVersion", self.api_version)
            obj.setdefault("kind", self.kind)
            key = (ns_of(obj) or "", name_of(obj))
            with self._lock:
                if event_type == "DELETED":
                    self._cache.pop(key, None)
                elif event_type in ("ADDED", "MODIFIED"):
                    old = self._cache.get(key)
                    if old is None or _rv(old) <= _rv(obj):
                        self._cache[key] = obj
            rv = str(meta(obj).get("resourceVersion") or rv)
            self._notify()
        return rv


def _rv(obj: Mapping[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


class Controller:
    """A reconcile loop on its own thread: woken by informers, and by a tick for time-driven progress.

    Subclasses implement :meth:`reconcile` (one pass over the caches). Expected races (404/409) are
    logged; anything else is recorded in ``ctx.errors`` and the loop continues.
    """

    name = "controller"
    #: seconds between passes when nothing wakes the controller (at speed 1.0)
    tick = 0.05

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.wake = threading.Event()
        # The informers this controller owns; whoever runs the controller starts and stops them.
        self.informers: list[Informer] = []
        self._thread = threading.Thread(target=self._run, name=f"ctl-{self.name}", daemon=True)

    def watch(self, *informers: Informer) -> None:
        for informer in informers:
            informer.add_listener(self.wake)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def reconcile(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self.ctx.stopping.is_set():
            # Woken by informers; the tick only drives time-based progress (pods starting, Flux intervals).
            self.wake.wait(max(0.02, self.tick * min(1.0, max(self.ctx.speed, 0.2))))
            self.wake.clear()
            if self.ctx.stopping.is_set():
                return
            self.safely(self.name, self.reconcile)

    def safely(self, where: str, action: Callable[..., Any], *args: Any) -> Any:
        """Run ``action(*args)``; log expected API races, record anything else; never raise."""
        try:
            return action(*args)
        except Exception as exc:  # a controller keeps going, like a real one
            if self.ctx.stopping.is_set():
                return None
            if expected_kube_error(exc):
                self.ctx.log.info("%s: %s (will retry)", where, exc)
            else:
                self.ctx.record_error(where, exc)
            return None


class Clock:
    """Remembers when a controller first saw something, to drive time-based transitions."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def since(self, key: str) -> float:
        """Seconds since ``key`` was first asked about (0 on the first call)."""
        now = time.monotonic()
        started = self._seen.setdefault(key, now)
        return now - started

    def reset(self, key: str) -> None:
        self._seen.pop(key, None)

    def forget_except(self, keep: Iterable[str]) -> None:
        keep_set = set(keep)
        for key in [k for k in self._seen if k not in keep_set]:
            del self._seen[key]


class EventRecorder:
    """Writes core/v1 Events like client-go's recorder: one Event per (object, type, reason, message),
    its ``count`` and ``lastTimestamp`` bumped on repeats.

    Args:
        kube: the cluster the events go to.
        component: ``source.component`` (``PromiseController``, ``kubelet``...).
    """

    def __init__(self, kube: Kube, component: str, ctx: SimContext) -> None:
        self.kube = kube
        self.component = component
        self.ctx = ctx
        self._seen: dict[tuple[str, str, str, str], tuple[str, str, int]] = {}
        self._lock = threading.Lock()

    def event(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Record one event about ``obj`` (errors are logged, never raised: events are best effort)."""
        namespace = ns_of(obj) or "default"
        key = (uid_of(obj) or f"{obj.get('kind')}/{name_of(obj)}", type_, reason, message)
        self.ctx.log.info("%s: %s %s/%s%s: %s", self.component, reason, obj.get("kind"),
                          f"{ns_of(obj)}/" if ns_of(obj) else "", name_of(obj), message)
        stamp = now_iso()
        try:
            with self._lock:
                known = self._seen.get(key)
            if known is not None:
                ev_name, ev_ns, count = known
                self.kube.patch("v1", "Event", ev_name, {"count": count + 1, "lastTimestamp": stamp}, ev_ns)
                with self._lock:
                    self._seen[key] = (ev_name, ev_ns, count + 1)
                return
            ev_name = f"{name_of(obj)}.{time.time_ns():x}"[:253]
            involved: dict[str, Any] = {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": name_of(obj),
                "uid": uid_of(obj),
                "resourceVersion": meta(obj).get("resourceVersion"),
            }
            if ns_of(obj):
                involved["namespace"] = ns_of(obj)
            self.kube.create({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": ev_name, "namespace": namespace},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": type_,
                "source": {"component": self.component},
                "reportingComponent": self.component,
                "reportingInstance": "",
                "count": 1,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
            }, strict=False)
            with self._lock:
                self._seen[key] = (ev_name, namespace, 1)
        except Exception as exc:  # a lost event must not break a reconcile
            if not self.ctx.stopping.is_set():
                self.ctx.log.warning("event %s/%s about %s/%s not recorded: %s",
                                     type_, reason, obj.get("kind"), name_of(obj), exc)
