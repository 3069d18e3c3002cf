"""What every target (kind, existing, sim) provides: two reachable clusters and an honest name.

Only the edges differ between targets: how clusters come to exist and go away. Everything after
``setup()`` (installing promises, requests, waits, diagnostics) runs the same code on every target.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.kube import Kube


class TargetError(RuntimeError):
    """The target cannot be used as asked (bad option, missing tool, unreachable context).

    Raised before any cluster is touched whenever possible; the message is one line with the fix.
    """


@dataclass
class Clusters:
    """The two clusters a tutorial uses. On --single-cluster targets both are the same cluster."""

    platform: Kube
    worker: Kube
    kubeconfig: Path | None = None

    @property
    def all(self) -> list[Kube]:
        return [self.platform] if self.platform is self.worker else [self.platform, self.worker]


@dataclass
class TargetOptions:
    """Options common to all targets (parsed from the pytest command line)."""

    artifacts_dir: Path = Path("artifacts")
    platform_context: str | None = None
    worker_context: str | None = None
    keep_clusters: bool = False
    keep_on_failure: bool = True
    recreate: bool = False
    use_default_kubeconfig: bool = False
    single_cluster: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def work_dir(self) -> Path:
        """Where the harness keeps its own files (kubeconfig, fetched manifests, sim state)."""
        return self.artifacts_dir / "work"


class Target(abc.ABC):
    """A place the tutorials run.

    Lifecycle: ``preflight()`` (no side effects; raises ``TargetError``) → ``setup()`` → tests →
    ``teardown(failed)``.
    """

    name: str = "abstract"
    #: True when the clusters are simulated; reports must say so.
    simulated: bool = False

    def __init__(self, options: TargetOptions) -> None:
        self.options = options
        self.clusters: Clusters | None = None

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for the report header naming what this run really talks to."""

    def preflight(self) -> None:
        """Check everything that can be checked without side effects; raise ``TargetError``."""

    @abc.abstractmethod
    def setup(self) -> Clusters:
        """Make both clusters reachable (create, reuse or start them) and return them."""

    def teardown(self, failed: bool) -> None:
        """Release what this run created (and only that)."""

    def prepare_images(self, promise: dict[str, Any]) -> None:
        """Make the Promise's pipeline images available to the platform (kind: build and load them)."""

    def collect_extra_diagnostics(self, dest: Path) -> list[str]:
        """Target-specific evidence on failure (kind logs, simulated controllers' log); findings returned."""
        return []

    def context_for(self, cluster: str) -> str:
        """The kubeconfig context a user would pass to kubectl for ``platform``/``worker``."""
        if self.clusters is None:
            raise TargetError("target not set up")
        return self.clusters.platform.context if cluster == "platform" else self.clusters.worker.context

    def kubeconfig_hint(self) -> str | None:
        """The kubeconfig path users should export to look around (None: their default one)."""
        if self.clusters is None or self.clusters.kubeconfig is None:
            return None
        return str(self.clusters.kubeconfig)
