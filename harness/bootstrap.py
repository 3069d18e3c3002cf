"""Platform bootstrap: what Kratix's ``scripts/quick-start.sh`` does, idempotent, one outcome per step.

Two layers:

* ``install_manifests`` (kind and ``scripts/quick-start`` only): ``kubectl apply`` of cert-manager, MinIO,
  ``kratix.yaml`` and the Flux install, files fetched with their pinned digests. The simulated platform
  starts in the state these leave behind, so it skips this layer.
* ``register_destination`` + ``wait_until_ready`` (every target, API calls only through ``Kube``): wait for
  the Kratix controller (its webhook must answer before any Kratix object is created, kratix#557), create
  BucketStateStore ``default`` and wait Ready, the Flux Bucket/Secret/Kustomizations on the worker with the
  platform's MinIO address, Destination ``worker-1`` (``environment=dev``) and wait Ready, then wait for the
  canary namespace ``kratix-worker-system`` on the worker, nudging Flux as quick-start does.

``crds_cache_dir`` / ``ensure_kratix_crds`` (re-exported from ``harness.kratix_install``) give the pinned
Kratix CRDs to the simulated platform.

Every step returns a ``StepOutcome`` (``ok``: already so; ``changed``: this run changed something). A failing
step raises ``BootstrapError`` naming the step and the cause.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from harness import conditions
from harness.kratix_install import (
    FLUX_SOURCE_API,
    KRATIX_API,
    InstallFiles,
    bucket_endpoint,
    crds_cache_dir,
    ensure_install_files,
    ensure_kratix_crds,
    flux_prefix_for_context,
    render_bucket_state_store,
    render_destination,
    render_gitops_resources,
)
from harness.kube import Kube, KubeError, Ref
from harness.pinned import PinnedFetchError, PinnedFile, fetch_pinned
from harness.targets.base import Clusters
from harness.tools import ToolError, ToolTimeout, run
from harness.versions import Versions, load_versions
from harness.waits import NotYet, TerminalFailure, WaitTimeout, wait_for
from harness.worker_ops import wait_deployment_ready

Obj = dict[str, Any]
StepStatus = Literal["ok", "changed"]

__all__ = [
    "BootstrapError", "Kubectl", "Registration", "StepOutcome", "bootstrap_api", "crds_cache_dir",
    "ensure_kratix_crds", "full_bootstrap", "install_manifests", "register_destination", "register_platform",
    "verify_platform", "wait_until_ready",
]

KRATIX_NAMESPACE = "kratix-platform-system"
KRATIX_CONTROLLER = "kratix-platform-controller-manager"
CERT_MANAGER_NAMESPACE = "cert-manager"
CERT_MANAGER_DEPLOYMENTS = ("cert-manager", "cert-manager-cainjector", "cert-manager-webhook")
FLUX_NAMESPACE = "flux-system"
FLUX_BUCKET_CRD = "buckets.source.toolkit.fluxcd.io"
FLUX_KUSTOMIZATION_CRD = "kustomizations.kustomize.toolkit.fluxcd.io"
CANARY_NAMESPACE = "kratix-worker-system"
MINIO_BUCKET_JOB = "minio-create-bucket"
# quick-start re-annotates the Flux source on every 2 s poll; every 10 s is enough to skip Flux's interval.
_NUDGE_EVERY = 10.0
_KUBECTL_APPLY_TIMEOUT = 300.0


class BootstrapError(RuntimeError):
    """A bootstrap step failed; the message names the step and the cause."""

    def __init__(self, step: str, cause: str) -> None:
        self.step = step
        self.cause = cause
        super().__init__(f"bootstrap step {step!r} failed: {cause}")


@dataclass(frozen=True)
class StepOutcome:
    """What one bootstrap step found or did."""

    step: str
    status: StepStatus
    detail: str = ""
    duration: float = 0.0

    def __str__(self) -> str:
        return f"{self.status:<7} {self.step}: {self.detail} ({self.duration:.1f}s)"


@dataclass(frozen=True)
class Registration:
    """The destination the bootstrap registers and how the cluster behind it reaches the state store.

    Attributes:
        destination: the Destination's name (and, by default, its path in the bucket).
        labels: exactly the Destination's labels.
        flux_prefix: ``kratix-<prefix>-resources`` / ``-dependencies`` Kustomization names.
        bucket_endpoint: the MinIO endpoint written into the Flux Bucket; None keeps upstream's (the
            in-cluster Service, right only when Flux runs on the platform itself).
        single_cluster: use upstream's single-cluster gitops resources (the platform is its own destination).
    """

    destination: str = "worker-1"
    labels: Mapping[str, str] = field(default_factory=lambda: {"environment": "dev"})
    path: str | None = None
    flux_prefix: str = "worker"
    bucket_endpoint: str | None = None
    single_cluster: bool = False

    @classmethod
    def worker(cls, *, bucket_endpoint: str, worker_context: str = "kind-worker") -> Registration:
        """quick-start's default: Destination ``worker-1`` labelled ``environment=dev``."""
        return cls(flux_prefix=flux_prefix_for_context(worker_context), bucket_endpoint=bucket_endpoint)

    @classmethod
    def single_cluster_platform(cls, *, platform_context: str = "kind-platform") -> Registration:
        """quick-start ``--single-cluster``: the platform registered as ``platform-cluster``, no labels."""
        return cls(
            destination="platform-cluster",
            labels={},
            flux_prefix=flux_prefix_for_context(platform_context),
            bucket_endpoint=None,
            single_cluster=True,
        )

    @property
    def destination_path(self) -> str:
        return self.path or self.destination


def registration_objects(files: InstallFiles, registration: Registration) -> list[tuple[str, Obj]]:
    """Every object ``register_destination`` creates, in order, with the cluster it goes to."""
    gitops = render_gitops_resources(
        files,
        path=registration.destination_path,
        flux_prefix=registration.flux_prefix,
        endpoint=registration.bucket_endpoint,
        single_cluster=registration.single_cluster,
    )
    destination = render_destination(
        files, name=registration.destination, labels=registration.labels, path=registration.destination_path
    )
    return [
        ("platform", render_bucket_state_store(files)),
        *(("worker", doc) for doc in gitops),
        ("platform", destination),
    ]


class StepRunner:
    """Times steps, turns their failures into ``BootstrapError`` and reports each outcome as it happens."""

    def __init__(self, on_step: Callable[[StepOutcome], None] | None = None) -> None:
        self.outcomes: list[StepOutcome] = []
        self._on_step = on_step

    def run(self, step: str, action: Callable[[], tuple[StepStatus, str]]) -> StepOutcome:
        started = time.monotonic()
        try:
            status, detail = action()
        except BootstrapError:
            raise
        except (WaitTimeout, TerminalFailure, KubeError, ToolError, ToolTimeout) as exc:
            raise BootstrapError(step, _one_line(str(exc))) from exc
        outcome = StepOutcome(step, status, detail, time.monotonic() - started)
        self.outcomes.append(outcome)
        if self._on_step is not None:
            self._on_step(outcome)
        return outcome


# -- API-level steps (every target) --------------------------------------------------------------------


def wait_deployments_available(kube: Kube, namespace: str, names: Iterable[str], *, tier: str = "rollout") -> str:
    """Wait until each Deployment is ready (``kubectl wait --for=condition=available``); a pod that can never
    start (image pull errors, CrashLoopBackOff) fails at once instead of at the timeout."""
    ready = []
    for name in names:
        wait_deployment_ready(kube, name, namespace, tier=tier)
        ready.append(name)
    return f"{', '.join(ready)} available"


def wait_crds_established(kube: Kube, names: Iterable[str], *, tier: str = "short") -> None:
    for name in names:
        def probe(name: str = name) -> None:
            crd = kube.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
            if crd is None:
                raise NotYet("not created yet")
            if not conditions.condition_is(crd, "Established"):
                raise NotYet(conditions.conditions_summary(crd))

        wait_for(probe, what=f"CustomResourceDefinition/{name} on {kube.name}", condition="condition=Established",
                 tier=tier)


def _webhook_not_ready(exc: KubeError) -> bool:
    # kratix#557: right after the controller starts, admission calls fail until the webhook serves.
    return "failed calling webhook" in exc.server_message or exc.status in (500, 502, 503)


def ensure_objects(kube: Kube, objects: Sequence[Obj], *, tier: str = "short") -> tuple[StepStatus, str]:
    """Server-side apply each object; a webhook that is not serving yet is retried until ``tier`` runs out."""
    done: list[str] = []
    changed = False
    for obj in objects:
        def attempt(obj: Obj = obj) -> str:
            try:
                return kube.apply(obj)[1]
            except KubeError as exc:
                if _webhook_not_ready(exc):
                    raise NotYet(exc.server_message) from None
                raise

        outcome = wait_for(attempt, what=f"{Ref.of(obj)} on {kube.name}", condition="applied", tier=tier)
        changed = changed or outcome != "unchanged"
        done.append(f"{Ref.of(obj)} {outcome}")
    return ("changed" if changed else "ok"), "; ".join(done)


def wait_kratix_ready(kube: Kube, api_version: str, kind: str, name: str, *, tier: str = "rollout") -> str:
    """Wait for condition Ready=True on a Kratix object (``kubectl wait <kind> <name> --for=condition=Ready``)."""

    def probe() -> str:
        obj = kube.get(api_version, kind, name)
        if obj is None:
            raise NotYet("not found")
        if conditions.condition_is(obj, "Ready"):
            cond = conditions.condition(obj, "Ready") or {}
            return str(cond.get("message") or cond.get("reason") or "Ready")
        raise NotYet(conditions.conditions_summary(obj))

    return wait_for(probe, what=f"{kind}/{name} on {kube.name}", condition="condition=Ready", tier=tier)


def platform_node_address(platform: Kube) -> str:
    """The InternalIP of the platform's control-plane node: what quick-start reads with ``docker inspect``.

    kind nodes are containers on the ``kind`` Docker network; their InternalIP is that network address, which
    the worker's Flux uses to reach MinIO's NodePort.
    """
    nodes = platform.list("v1", "Node")
    if not nodes:
        raise BootstrapError("platform address", f"the {platform.name} cluster lists no nodes")
    control = [n for n in nodes if "node-role.kubernetes.io/control-plane" in (n["metadata"].get("labels") or {})]
    for node in control or nodes:
        for address in (node.get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP" and address.get("address"):
                return str(address["address"])
    raise BootstrapError("platform address", f"no node of the {platform.name} cluster reports an InternalIP")


def register_destination(
    clusters: Clusters,
    files: InstallFiles,
    registration: Registration,
    *,
    runner: StepRunner | None = None,
) -> list[StepOutcome]:
    """Register the destination as quick-start does, through the API (every target).

    Steps: Kratix controller available; BucketStateStore ``default`` applied and Ready; Flux Bucket, Secret
    and Kustomizations on the destination cluster; Destination applied and Ready.
    """
    runner = runner or StepRunner()
    platform, worker = clusters.platform, clusters.worker
    objects = registration_objects(files, registration)
    on_platform = [o for where, o in objects if where == "platform"]
    state_store, destination = on_platform[0], on_platform[-1]
    gitops = [o for where, o in objects if where == "worker"]

    runner.run("kratix controller available", lambda: (
        "ok", wait_deployments_available(platform, KRATIX_NAMESPACE, [KRATIX_CONTROLLER])))
    runner.run("bucket state store", lambda: ensure_objects(platform, [state_store]))
    runner.run("bucket state store ready", lambda: (
        "ok", wait_kratix_ready(platform, KRATIX_API, "BucketStateStore", state_store["metadata"]["name"])))

    def gitops_resources() -> tuple[StepStatus, str]:
        wait_crds_established(worker, [FLUX_BUCKET_CRD, FLUX_KUSTOMIZATION_CRD])
        return ensure_objects(worker, gitops)

    runner.run(f"gitops resources on {worker.name}", gitops_resources)
    runner.run(f"destination {registration.destination}", lambda: ensure_objects(platform, [destination]))
    runner.run(f"destination {registration.destination} ready", lambda: (
        "ok", wait_kratix_ready(platform, KRATIX_API, "Destination", registration.destination)))
    return runner.outcomes


def wait_until_ready(
    clusters: Clusters, *, runner: StepRunner | None = None, tier: str = "cluster", nudge_every: float = _NUDGE_EVERY
) -> list[StepOutcome]:
    """Wait for namespace ``kratix-worker-system`` on the worker: Kratix wrote its canary and Flux applied it.

    Like quick-start, the Flux Bucket ``kratix`` is annotated ``reconcile.fluxcd.io/requestedAt`` while waiting
    so Flux does not sit out its interval.
    """
    runner = runner or StepRunner()
    worker = clusters.worker
    last_nudge: list[float] = []

    def probe() -> str:
        if worker.get("v1", "Namespace", CANARY_NAMESPACE) is not None:
            return CANARY_NAMESPACE
        now = time.monotonic()
        if not last_nudge or now - last_nudge[0] >= nudge_every:
            last_nudge[:] = [now]
            nudge_flux(worker)
        raise NotYet(f"namespace {CANARY_NAMESPACE} not on {worker.name} yet")

    runner.run("worker ready", lambda: (
        "ok", "namespace " + wait_for(probe, what=f"Namespace/{CANARY_NAMESPACE} on {worker.name}",
                                      condition="present", tier=tier)))
    return runner.outcomes


def nudge_flux(worker: Kube, bucket: str = "kratix") -> bool:
    """Ask Flux to reconcile the Bucket now; False when it does not exist (yet)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    try:
        worker.patch(FLUX_SOURCE_API, "Bucket", bucket,
                     {"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": stamp}}}, FLUX_NAMESPACE)
    except KubeError as exc:
        if exc.not_found:
            return False
        raise
    return True


def bootstrap_api(
    clusters: Clusters,
    files: InstallFiles,
    registration: Registration,
    *,
    on_step: Callable[[StepOutcome], None] | None = None,
) -> list[StepOutcome]:
    """The API-level bootstrap alone: what the simulated platform needs after its pre-installed state."""
    runner = StepRunner(on_step)
    register_destination(clusters, files, registration, runner=runner)
    wait_until_ready(clusters, runner=runner)
    return runner.outcomes


def register_platform(
    clusters: Clusters,
    *,
    single_cluster: bool = False,
    platform_address: str | None = None,
    files: InstallFiles | None = None,
    on_step: Callable[[StepOutcome], None] | None = None,
) -> list[StepOutcome]:
    """Register the worker (or, ``single_cluster``, the platform itself) and wait until it is ready.

    The API-level half of quick-start, for a platform where Kratix, MinIO and Flux are already installed
    (the simulated platform; ``full_bootstrap`` calls the same steps on kind).

    Args:
        platform_address: the platform node's address the worker's Flux reaches MinIO on; default: the
            platform control-plane node's InternalIP (what quick-start reads with ``docker inspect``).
        files: the install files; default: fetched per versions.yaml (mirror: ``$KRATIX_E2E_KRATIX_MIRROR``).
    """
    files = files or ensure_install_files(load_versions())
    if single_cluster:
        registration = Registration.single_cluster_platform(platform_context=clusters.platform.context)
    else:
        address = platform_address or platform_node_address(clusters.platform)
        registration = Registration.worker(bucket_endpoint=bucket_endpoint(address, files),
                                           worker_context=clusters.worker.context)
    return bootstrap_api(clusters, files, registration, on_step=on_step)


# -- manifest layer (kind, quick-start) ----------------------------------------------------------------


@dataclass(frozen=True)
class Kubectl:
    """Builds (and runs) the few kubectl commands the bootstrap needs; ``kubeconfig`` None = user's default."""

    kubeconfig: Path | None = None

    def base(self, context: str) -> list[str]:
        argv = ["kubectl"]
        if self.kubeconfig is not None:
            argv += ["--kubeconfig", str(self.kubeconfig)]
        return [*argv, "--context", context]

    def apply_argv(self, context: str, manifest: Path) -> list[str]:
        return [*self.base(context), "apply", "--filename", str(manifest)]

    def apply(self, context: str, manifest: Path) -> tuple[StepStatus, str]:
        """``kubectl apply``; ``changed`` unless kubectl reported every object ``unchanged``."""
        result = run(self.apply_argv(context, manifest), timeout=_KUBECTL_APPLY_TIMEOUT)
        return summarize_apply(result.stdout)


_APPLY_LINE = re.compile(r"^(?P<obj>\S+/\S+) (?P<verb>created|configured|unchanged|serverside-applied)$")


def summarize_apply(stdout: str) -> tuple[StepStatus, str]:
    """Count kubectl apply's per-object verbs into a step outcome."""
    counts: dict[str, int] = {}
    for line in stdout.splitlines():
        match = _APPLY_LINE.match(line.strip())
        if match:
            counts[match["verb"]] = counts.get(match["verb"], 0) + 1
    if not counts:
        return "changed", "applied (kubectl reported no objects)"
    changed = any(verb != "unchanged" for verb in counts)
    detail = ", ".join(f"{n} {verb}" for verb, n in sorted(counts.items()))
    return ("changed" if changed else "ok"), detail


@dataclass(frozen=True)
class ReleaseManifests:
    """The two release manifests fetched by URL: cert-manager and ``kratix.yaml`` (with the digest installed)."""

    cert_manager: Path
    kratix: Path
    kratix_sha256: str = ""


def release_manifest_files(versions: Versions) -> list[PinnedFile]:
    return [
        PinnedFile(path="cert-manager.yaml", url=versions.cert_manager.manifest,
                   sha256=versions.cert_manager.manifest_sha256),
        PinnedFile(path="kratix.yaml", url=versions.kratix.release_manifest,
                   sha256=versions.kratix.release_manifest_sha256),
    ]


# A directory holding cert-manager.yaml and kratix.yaml (air-gapped machines, CI caches, tests).
RELEASES_MIRROR_ENV = "KRATIX_E2E_RELEASES_MIRROR"


def fetch_release_manifests(versions: Versions, cache_dir: Path, *, timeout: float = 120.0,
                            mirror: Path | None = None) -> ReleaseManifests:
    """Download (or reuse) cert-manager's and Kratix's release manifests; digests checked where pinned.

    ``mirror`` (default ``$KRATIX_E2E_RELEASES_MIRROR``): take them from that directory instead.
    """
    env_mirror = os.environ.get(RELEASES_MIRROR_ENV, "").strip()
    mirror = mirror or (Path(env_mirror) if env_mirror else None)
    fetched = fetch_pinned(release_manifest_files(versions), cache_dir, timeout=timeout, mirror=mirror,
                           refresh=mirror is not None)
    return ReleaseManifests(cert_manager=fetched[0].dest, kratix=fetched[1].dest, kratix_sha256=fetched[1].sha256)


def install_manifests(
    clusters: Clusters,
    files: InstallFiles,
    releases: ReleaseManifests,
    kubectl: Kubectl,
    *,
    runner: StepRunner | None = None,
) -> list[StepOutcome]:
    """quick-start's install steps: cert-manager (available), MinIO, kratix.yaml, Flux on the destination,
    MinIO up and its bucket Job complete. The Kratix controller is awaited by ``register_destination``."""
    runner = runner or StepRunner()
    platform, worker = clusters.platform, clusters.worker

    runner.run("cert-manager", lambda: kubectl.apply(platform.context, releases.cert_manager))
    runner.run("cert-manager available", lambda: (
        "ok", wait_deployments_available(platform, CERT_MANAGER_NAMESPACE, CERT_MANAGER_DEPLOYMENTS)))
    runner.run("minio", lambda: kubectl.apply(platform.context, files.minio_install))
    runner.run("kratix", lambda: kubectl.apply(platform.context, releases.kratix))
    runner.run(f"flux on {worker.name}", lambda: kubectl.apply(worker.context, files.gitops_install))
    runner.run("minio bucket", lambda: ("ok", wait_minio_bucket(platform)))
    return runner.outcomes


def wait_minio_bucket(platform: Kube, *, tier: str = "rollout") -> str:
    """MinIO's Deployment available and Job ``minio-create-bucket`` complete (the bucket ``kratix`` exists)."""
    wait_deployments_available(platform, KRATIX_NAMESPACE, ["minio"], tier=tier)

    def probe() -> str:
        job = platform.get("batch/v1", "Job", MINIO_BUCKET_JOB, "default")
        if job is None:
            raise NotYet("not created yet")
        failed = conditions.job_failed(job)
        if failed:
            raise TerminalFailure(failed)
        if not conditions.job_complete(job):
            raise NotYet(conditions.conditions_summary(job))
        return "bucket kratix created"

    return wait_for(probe, what=f"Job/{MINIO_BUCKET_JOB} -n default on {platform.name}",
                    condition="condition=Complete", tier=tier)


def full_bootstrap(
    clusters: Clusters,
    versions: Versions,
    files: InstallFiles,
    *,
    kubectl: Kubectl,
    cache_dir: Path,
    single_cluster: bool = False,
    releases: ReleaseManifests | None = None,
    platform_address: str | None = None,
    on_step: Callable[[StepOutcome], None] | None = None,
) -> list[StepOutcome]:
    """Everything quick-start does after the clusters exist (kind target, ``scripts/quick-start``).

    Args:
        releases: already-fetched release manifests (default: fetched per versions.yaml into ``cache_dir``).
        platform_address: see ``register_platform`` (default: the platform node's InternalIP).
    """
    runner = StepRunner(on_step)
    releases_box: list[ReleaseManifests] = [releases] if releases is not None else []

    def fetch() -> tuple[StepStatus, str]:
        try:
            fetched = fetch_release_manifests(versions, cache_dir)
        except PinnedFetchError as exc:
            raise BootstrapError("fetch release manifests", str(exc)) from None
        releases_box.append(fetched)
        # kratix.yaml may come from a moving "latest" release: the digest says exactly what was installed.
        return "ok", (f"cert-manager {versions.cert_manager.version}; {versions.kratix.release_manifest} "
                      f"sha256:{fetched.kratix_sha256[:16]}")

    if not releases_box:
        runner.run("fetch release manifests", fetch)
    install_manifests(clusters, files, releases_box[0], kubectl, runner=runner)
    runner.outcomes.extend(register_platform(clusters, single_cluster=single_cluster, files=files,
                                             platform_address=platform_address, on_step=on_step))
    return runner.outcomes


# -- existing clusters: check, never install -------------------------------------------------------------


def verify_platform(clusters: Clusters, *, on_step: Callable[[StepOutcome], None] | None = None,
                    tier: str = "short") -> list[StepOutcome]:
    """Check a user's clusters are a working Kratix platform (``--target existing``); changes nothing.

    Raises:
        BootstrapError: naming what is missing and how to get it (quick-start).
    """
    runner = StepRunner(on_step)
    platform, worker = clusters.platform, clusters.worker
    fix = "install Kratix first (scripts/quick-start, or Kratix's own quick-start.sh)"

    def controller() -> tuple[StepStatus, str]:
        if platform.get("apps/v1", "Deployment", KRATIX_CONTROLLER, KRATIX_NAMESPACE) is None:
            raise BootstrapError("kratix controller available",
                                 f"no Deployment {KRATIX_CONTROLLER} in {KRATIX_NAMESPACE} on context "
                                 f"{platform.context!r}; {fix}")
        return "ok", wait_deployments_available(platform, KRATIX_NAMESPACE, [KRATIX_CONTROLLER], tier=tier)

    def destinations() -> tuple[StepStatus, str]:
        ready = [d["metadata"]["name"] for d in platform.list(KRATIX_API, "Destination")
                 if conditions.condition_is(d, "Ready")]
        if not ready:
            raise BootstrapError("destination ready",
                                 f"no Destination is Ready on context {platform.context!r}; {fix}")
        return "ok", f"ready: {', '.join(sorted(ready))}"

    def canary() -> tuple[StepStatus, str]:
        if worker.get("v1", "Namespace", CANARY_NAMESPACE) is None:
            raise BootstrapError("worker ready",
                                 f"namespace {CANARY_NAMESPACE} is missing on context {worker.context!r}: the "
                                 f"worker does not receive Kratix's documents (check its Flux Bucket/Kustomizations)")
        return "ok", f"namespace {CANARY_NAMESPACE}"

    runner.run("kratix controller available", controller)
    runner.run("destination ready", destinations)
    runner.run("worker ready", canary)
    return runner.outcomes


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[:3]) if lines else text
