"""Fault injection for the simulated platform: failing pipeline containers, unpullable images, pods never Ready.

Tests declare faults before (or while) the platform runs; controllers consult them at the moment a real
cluster would fail (pulling an image, running a container, probing readiness).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class ContainerFailure:
    """A pipeline container that exits non-zero instead of running its image."""

    image: str
    exit_code: int
    message: str


class Faults:
    """What should go wrong, by image reference or pod name. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, ContainerFailure] = {}
        self._unpullable: set[str] = set()
        self._never_ready: list[tuple[str, re.Pattern[str]]] = []

    def fail_container(self, image_ref: str, exit_code: int = 1, message: str = "simulated failure") -> None:
        """Every pipeline container using ``image_ref`` exits with ``exit_code``, logging ``message``."""
        if exit_code == 0:
            raise ValueError("fail_container needs a non-zero exit code")
        with self._lock:
            self._failures[image_ref] = ContainerFailure(image_ref, exit_code, message)

    def unpullable(self, image_ref: str) -> None:
        """Pulling ``image_ref`` fails on every cluster (ErrImagePull, then ImagePullBackOff)."""
        with self._lock:
            self._unpullable.add(image_ref)

    def never_ready(self, cluster: str, pod_name_regex: str) -> None:
        """Pods on ``cluster`` (``platform``/``worker``) whose name matches run but never pass readiness."""
        with self._lock:
            self._never_ready.append((cluster, re.compile(pod_name_regex)))

    def clear(self) -> None:
        """Forget every fault (pods already stuck stay stuck until recreated)."""
        with self._lock:
            self._failures.clear()
            self._unpullable.clear()
            self._never_ready.clear()

    # -- queries used by the controllers ------------------------------------------------------------

    def container_failure(self, image_ref: str) -> ContainerFailure | None:
        with self._lock:
            return self._failures.get(image_ref)

    def is_unpullable(self, image_ref: str) -> bool:
        with self._lock:
            return image_ref in self._unpullable

    def is_never_ready(self, cluster: str, pod_name: str) -> bool:
        with self._lock:
            return any(c == cluster and rx.search(pod_name) for c, rx in self._never_ready)
