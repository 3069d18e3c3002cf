"""In-memory object storage of one emulated API server, with resourceVersions and watch fan-out.

Everything here runs on the server's event loop thread, so no locks are needed: a handler's state
change happens between two ``await`` points. Stored objects are never mutated in place (a write
replaces the dict), so events and responses can share them safely.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

StorageKey = tuple[str, str]  # (group, plural): all versions of a resource share storage
ObjectKey = tuple[str, str]  # (namespace or "", name)
Obj = dict[str, Any]

# How many past events a watch can resume from (a real etcd compacts after ~5 minutes).
HISTORY_LIMIT = 50_000


@dataclass(frozen=True)
class Event:
    """One change: ``kind`` is ADDED/MODIFIED/DELETED, ``old`` the previous state for MODIFIED."""

    rv: int
    storage: StorageKey
    kind: str
    obj: Obj
    old: Obj | None = None


@dataclass(eq=False)
class Watcher:
    """One open watch: receives the events of one resource, or ``None`` when it must end."""

    storage: StorageKey
    namespace: str | None
    predicate: Callable[[Mapping[str, Any]], bool]
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)


def namespace_of(obj: Mapping[str, Any]) -> str:
    """``metadata.namespace`` or ``""`` for cluster-scoped objects."""
    return str(obj.get("metadata", {}).get("namespace") or "")


class Store:
    """Objects by resource and (namespace, name), a resourceVersion counter and the event history."""

    def __init__(self, history_limit: int = HISTORY_LIMIT) -> None:
        self._rv = 0
        self._objects: dict[StorageKey, dict[ObjectKey, Obj]] = collections.defaultdict(dict)
        self._history: collections.deque[Event] = collections.deque(maxlen=history_limit)
        self._watchers: dict[StorageKey, set[Watcher]] = collections.defaultdict(set)

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out."""
        return self._rv

    def next_rv(self) -> str:
        """A new, strictly larger resourceVersion."""
        self._rv += 1
        return str(self._rv)

    def get(self, storage: StorageKey, namespace: str, name: str) -> Obj | None:
        """The stored object, if any."""
        return self._objects[storage].get((namespace, name))

    def items(self, storage: StorageKey, namespace: str | None = None) -> list[Obj]:
        """Objects of a resource (all namespaces when ``namespace`` is None), sorted like etcd keys."""
        objects = self._objects[storage]
        keys = sorted(k for k in objects if namespace is None or k[0] == namespace)
        return [objects[k] for k in keys]

    def storages(self) -> Iterator[StorageKey]:
        """Every resource that has or had objects."""
        yield from list(self._objects)

    def put(self, storage: StorageKey, obj: Obj, old: Obj | None) -> None:
        """Store a created (``old`` None) or modified object whose resourceVersion is already set."""
        key = (namespace_of(obj), obj["metadata"]["name"])
        self._objects[storage][key] = obj
        self._emit(Event(int(obj["metadata"]["resourceVersion"]), storage,
                         "ADDED" if old is None else "MODIFIED", obj, old))

    def remove(self, storage: StorageKey, obj: Obj) -> None:
        """Forget an object; ``obj`` is its final state (with a fresh resourceVersion) sent to watchers."""
        key = (namespace_of(obj), obj["metadata"]["name"])
        self._objects[storage].pop(key, None)
        self._emit(Event(int(obj["metadata"]["resourceVersion"]), storage, "DELETED", obj))

    def _emit(self, event: Event) -> None:
        self._history.append(event)
        for watcher in list(self._watchers.get(event.storage, ())):
            watcher.queue.put_nowait(event)

    def history_since(self, storage: StorageKey, rv: int) -> list[Event] | None:
        """Events of a resource after ``rv``; None when the history no longer reaches back that far."""
        if self._history and self._history[0].rv > rv + 1 and len(self._history) == self._history.maxlen:
            return None
        return [event for event in self._history if event.rv > rv and event.storage == storage]

    def subscribe(self, watcher: Watcher) -> None:
        """Start delivering events to a watcher."""
        self._watchers[watcher.storage].add(watcher)

    def unsubscribe(self, watcher: Watcher) -> None:
        """Stop delivering events to a watcher."""
        self._watchers[watcher.storage].discard(watcher)

    def close_watchers(self, storage: StorageKey | None = None) -> None:
        """End open watches of one resource (or all of them), e.g. when a CRD goes away or on stop."""
        for key, watchers in self._watchers.items():
            if storage is None or key == storage:
                for watcher in list(watchers):
                    watcher.queue.put_nowait(None)
