"""Every value an object's status field took, not only the last one: what ``kubectl get -w`` shows.

A poll can miss a short-lived state (a Promise is ``Unavailable`` only while its workflows run, seconds on a
fast platform). A watch started from a resourceVersion taken *before* the change replays every write since
then, so the history is complete no matter when it is read. Start a :class:`StatusHistory` before the
action, read it after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.kube import Kube
from harness.waits import timeout_for

# Recorded when the watched object is deleted, so a delete-and-recreate shows in the history.
DELETED = "(deleted)"
# Recorded for writes before the field exists (a new object has no status yet).
UNSET = "(unset)"


def field_value(obj: Any, path: str) -> Any:
    """The value at dotted ``path`` (``status.status``) of ``obj``; None when any part is missing."""
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


@dataclass
class StatusHistory:
    """The values of ``field_path`` of one object, in the order the API server stored them.

    Attributes:
        kube: the cluster.
        api_version, kind, name, namespace: the object (it need not exist yet).
        field_path: dotted path of the field (``status.status`` for a Promise).
        resource_version: where the watch resumes; advanced as events are read.
        values: the field's values so far, consecutive repeats collapsed.
    """

    kube: Kube
    api_version: str
    kind: str
    name: str
    namespace: str | None
    field_path: str
    resource_version: str
    values: list[str] = field(default_factory=list)

    @property
    def what(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.kind}/{self.name}{where} on {self.kube.name}"

    def _record(self, event: str, obj: dict[str, Any]) -> None:
        if event == "DELETED":
            value = DELETED
        else:
            found = field_value(obj, self.field_path)
            value = UNSET if found is None else str(found)
        if not self.values or self.values[-1] != value:
            self.values.append(value)

    def read_until(self, done: Callable[[list[str]], bool], *, tier: str | float = "pipeline") -> list[str]:
        """Replay and follow changes until ``done(values)`` holds or the tier's timeout passes.

        Returns the values seen (whether or not ``done`` was reached: the caller asserts, with the history).

        Raises:
            KubeError: the watch failed, e.g. HTTP 410 when the server's history no longer reaches back to
                where this history started (the action took longer than the server keeps changes).
        """
        deadline = time.monotonic() + timeout_for(tier)
        while not done(self.values):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for event, obj in self.kube.watch(self.api_version, self.kind, self.namespace,
                                              timeout=min(remaining, 30.0), resource_version=self.resource_version):
                version = (obj.get("metadata") or {}).get("resourceVersion")
                if version:
                    self.resource_version = str(version)
                if (obj.get("metadata") or {}).get("name") != self.name or event == "BOOKMARK":
                    continue
                self._record(event, obj)
                if done(self.values):
                    break
        return list(self.values)


def start_history(kube: Kube, api_version: str, kind: str, name: str, namespace: str | None = None, *,
                  field_path: str = "status.status") -> StatusHistory:
    """Begin recording ``field_path`` of one object from now on (its current value, if it exists, first)."""
    res = kube.resource(api_version, kind)
    items, version = kube.list_with_version(api_version, kind, namespace)
    history = StatusHistory(kube, api_version, kind, name, namespace if res.namespaced else None, field_path,
                            version)
    for item in items:
        if (item.get("metadata") or {}).get("name") == name:
            history._record("EXISTING", item)
    return history
