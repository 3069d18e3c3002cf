"""``--target existing``: two kubeconfig contexts the user already has, used as they are.

Contexts come from ``--platform-context`` / ``--worker-context``, else ``$PLATFORM`` / ``$WORKER`` (the
variables the tutorials export). Nothing is created or deleted: preflight fails with one line when a context
is missing or its API server does not answer, and setup only *checks* that Kratix is installed and a
destination works (``harness.bootstrap.verify_platform``), saying how to install it when not.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.bootstrap import BootstrapError, StepOutcome, verify_platform
from harness.diagnostics_kind import collect_real_cluster_extras
from harness.kind_images import ImageLoader, ImageOutcome
from harness.kube import ContextError, Kube
from harness.promise_edit import images as promise_images
from harness.targets.base import Clusters, Target, TargetError, TargetOptions
from harness.targets.kind import kind_cluster_name


class ExistingTarget(Target):
    """The user's own clusters, reached through their kubeconfig (``$KUBECONFIG`` or ~/.kube/config)."""

    name = "existing"
    simulated = False

    def __init__(
        self,
        options: TargetOptions,
        *,
        env: Mapping[str, str] | None = None,
        on_step: Callable[[StepOutcome], None] | None = None,
    ) -> None:
        super().__init__(options)
        env = os.environ if env is None else env
        self.platform_context = options.platform_context or env.get("PLATFORM", "").strip() or None
        worker = options.worker_context or env.get("WORKER", "").strip() or None
        self.worker_context = self.platform_context if options.single_cluster and not worker else worker
        # Taken from ``env`` (the environment this target was given), so describe() names the very file
        # Kube.connect reads; None leaves the choice to connect() ($KUBECONFIG, else ~/.kube/config).
        self.kubeconfig = Path(env["KUBECONFIG"]) if env.get("KUBECONFIG") else None
        self._on_step = on_step
        self._kubes: dict[str, Kube] = {}
        self.bootstrap_outcomes: list[StepOutcome] = []
        self.image_outcomes: list[ImageOutcome] = []
        self.notes: list[str] = []

    def describe(self) -> str:
        return (f"existing contexts platform={self.platform_context!r} worker={self.worker_context!r} "
                f"(kubeconfig {self.kubeconfig or '~/.kube/config'}); nothing created or deleted")

    def _contexts(self) -> dict[str, str]:
        platform, worker = self.platform_context, self.worker_context
        if not platform or not worker:
            missing = [flag for flag, value in (("--platform-context (or $PLATFORM)", platform),
                                                ("--worker-context (or $WORKER)", worker)) if not value]
            raise TargetError(f"--target existing needs {' and '.join(missing)}: the kubeconfig contexts of your "
                              "platform and worker clusters (e.g. export PLATFORM=kind-platform WORKER=kind-worker)")
        return {"platform": platform, "worker": worker}

    def preflight(self) -> None:
        """Both contexts exist in the kubeconfig and their API servers answer (read-only)."""
        problems = []
        for role, context in self._contexts().items():
            if context in {k.context for k in self._kubes.values()}:
                continue  # --single-cluster: one context, checked once
            try:
                kube = Kube.connect(name=role, context=context, kubeconfig=self.kubeconfig)
                kube.ping()
            except ContextError as exc:
                problems.append(str(exc))
                continue
            self._kubes[role] = kube
        if problems:
            raise TargetError("\n".join(problems))

    def setup(self) -> Clusters:
        if not self._kubes:
            self.preflight()
        platform = self._kubes["platform"]
        worker = self._kubes.get("worker", platform)
        self.clusters = Clusters(platform=platform, worker=worker, kubeconfig=None)
        try:
            self.bootstrap_outcomes = verify_platform(self.clusters, on_step=self._on_step)
        except BootstrapError as exc:
            raise TargetError(str(exc)) from None
        return self.clusters

    def teardown(self, failed: bool) -> None:
        """Nothing: the clusters are the user's."""

    def prepare_images(self, promise: dict[str, Any]) -> None:
        """On a kind platform, build and load the Promise's images; elsewhere the cluster must pull them."""
        loader = self.image_loader()
        if loader is None:
            refs = ", ".join(promise_images(promise)) or "none"
            self.notes.append(f"context {self.platform_context!r} is not a kind cluster: images ({refs}) must be "
                              "pullable by it")
            return
        outcomes, foreign = loader.ensure_for_promise(promise)
        self.image_outcomes.extend(outcomes)
        if foreign:
            self.notes.append(f"not built here, pulled by the cluster: {', '.join(foreign)}")

    def collect_extra_diagnostics(self, dest: Path) -> list[str]:
        """Kratix/Flux digests of both clusters (and ``kind export logs`` when the contexts are kind's)."""
        if self.clusters is None:
            return []
        names = {kind_cluster_name(c) for c in (self.platform_context, self.worker_context)}
        return collect_real_cluster_extras(self.clusters, dest, kind_clusters=sorted(n for n in names if n))

    def image_loader(self) -> ImageLoader | None:
        """A kind loader when the platform context is a kind cluster (``kind-<name>``); None otherwise
        (the cluster must then pull the pipeline images from a registry it can reach)."""
        cluster = kind_cluster_name(self.platform_context)
        return ImageLoader(cluster=cluster) if cluster else None
