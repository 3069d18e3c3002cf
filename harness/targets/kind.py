"""``--target kind``: clusters ``platform`` and ``worker`` on the local Docker, as Kratix's quick-start makes them.

Lifecycle:

* ``preflight()``: Docker, kind, kubectl, inotify, disk; every existing cluster of our names inspected (a
  healthy one built from Kratix's kind config is reused, a stopped one or a name clash with a cluster of
  different shape is reported, never silently replaced); the host ports of clusters to create are free.
  Read-only: nothing is created.
* ``setup()``: reused clusters' API servers answer; missing ones are created **in parallel** with the pinned
  node image and Kratix's kind configs (``--recreate`` deletes ours first); kubeconfig written to
  ``<work_dir>/kubeconfig`` (or the user's with ``--use-default-kubeconfig``, restoring their current
  context); then the platform bootstrap (``harness.bootstrap.full_bootstrap``).
* ``teardown(failed)``: deletes only clusters this run created, unless ``--keep-clusters``, or a scenario
  failed and ``--keep-on-failure`` is set.

Clusters this suite created are recorded in ``<work_dir>/kind-clusters.json`` so ``scripts/teardown`` can
delete exactly those and never a user's own cluster of the same name.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import preflight as checks
from harness.bootstrap import Kubectl, StepOutcome, full_bootstrap
from harness.diagnostics_kind import collect_real_cluster_extras
from harness.kind_images import ImageLoader, ImageOutcome
from harness.kratix_install import InstallFiles, ensure_install_files, kind_host_ports
from harness.kube import ContextError, Kube
from harness.pinned import PinnedFetchError
from harness.targets.base import Clusters, Target, TargetError, TargetOptions
from harness.tools import ToolError, ToolNotFound, ToolTimeout, run
from harness.versions import Versions, load_versions

PLATFORM = "platform"
WORKER = "worker"
STATE_FILE = "kind-clusters.json"

_QUICK = 60.0  # kind get/export, docker inspect, kubectl config
_CREATE_TIMEOUT = 600.0  # node image pull on a cold machine + control plane start
_DELETE_TIMEOUT = 180.0
_KIND_WAIT = "120s"  # `kind create --wait`: control plane Ready before kind returns


@dataclass(frozen=True)
class KindCluster:
    """One cluster this target manages."""

    name: str
    config: Path

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def control_plane(self) -> str:
        return f"{self.name}-control-plane"


@dataclass(frozen=True)
class FoundCluster:
    """A kind cluster that already exists, as Docker reports its control-plane container."""

    name: str
    running: bool
    image: str
    host_ports: frozenset[int]


def harness_kubeconfig(options: TargetOptions) -> Path | None:
    """The harness' own kubeconfig; None when ``--use-default-kubeconfig`` (kind's default handling)."""
    return None if options.use_default_kubeconfig else options.work_dir / "kubeconfig"


def managed_clusters(files: InstallFiles, *, single_cluster: bool) -> list[KindCluster]:
    """The clusters the kind target manages, platform first, each with Kratix's kind config for it."""
    clusters = [KindCluster(PLATFORM, files.kind_platform_config)]
    if not single_cluster:
        clusters.append(KindCluster(WORKER, files.kind_worker_config))
    return clusters


def kind_cluster_name(context: str | None) -> str | None:
    """The kind cluster behind a kubeconfig context kind named (``kind-platform`` -> ``platform``); else None."""
    if context and context.startswith("kind-") and len(context) > len("kind-"):
        return context[len("kind-"):]
    return None


def create_kubeconfig(work_dir: Path, cluster: KindCluster) -> Path:
    """The kubeconfig one ``kind create`` writes (each parallel create needs its own; see ``KindCommands``)."""
    return work_dir / f"kubeconfig.{cluster.name}"


class KindCommands:
    """The argv of every kind/docker command this target runs (shared by execution and ``--plan``)."""

    def __init__(self, kubeconfig: Path | None, node_image: str) -> None:
        self.kubeconfig = kubeconfig
        self.node_image = node_image

    def _kc(self) -> list[str]:
        return ["--kubeconfig", str(self.kubeconfig)] if self.kubeconfig is not None else []

    @staticmethod
    def get_clusters() -> list[str]:
        return ["kind", "get", "clusters"]

    def create(self, cluster: KindCluster, kubeconfig: Path) -> list[str]:
        # Each parallel create writes its own kubeconfig: kind locks the file and a second writer fails.
        return ["kind", "create", "cluster", "--name", cluster.name, "--image", self.node_image,
                "--config", str(cluster.config), "--kubeconfig", str(kubeconfig), "--wait", _KIND_WAIT]

    def export_kubeconfig(self, cluster: KindCluster) -> list[str]:
        return ["kind", "export", "kubeconfig", "--name", cluster.name, *self._kc()]

    def delete(self, cluster: KindCluster) -> list[str]:
        return ["kind", "delete", "cluster", "--name", cluster.name, *self._kc()]

    def inspect(self, cluster: KindCluster) -> list[str]:
        return ["docker", "inspect", cluster.control_plane]

    def node_address(self, cluster: KindCluster) -> list[str]:
        """The control-plane node's address on Docker's ``kind`` network, as Kratix's quick-start reads it."""
        return ["docker", "inspect", "--format", "{{.NetworkSettings.Networks.kind.IPAddress}}",
                cluster.control_plane]


class KindTarget(Target):
    """Two kind clusters on the local Docker daemon."""

    name = "kind"
    simulated = False

    def __init__(
        self,
        options: TargetOptions,
        *,
        versions: Versions | None = None,
        install_files: InstallFiles | None = None,
        bootstrap: Callable[[Clusters], list[StepOutcome]] | None = None,
        on_step: Callable[[StepOutcome], None] | None = None,
    ) -> None:
        super().__init__(options)
        self.versions = versions or load_versions()
        self._install_files = install_files
        self._bootstrap = bootstrap
        self._on_step = on_step
        self.created: list[str] = []
        self.reused: list[str] = []
        self.found: dict[str, FoundCluster] = {}
        self._inspected = False
        self.bootstrap_outcomes: list[StepOutcome] = []
        self.image_outcomes: list[ImageOutcome] = []
        self.notes: list[str] = []
        self._state_lock = threading.Lock()
        self.commands = KindCommands(self.kubeconfig_path, self.versions.kind.node_image)

    # -- what we manage ----------------------------------------------------------------------------------

    @property
    def kubeconfig_path(self) -> Path | None:
        """The harness' own kubeconfig; None when ``--use-default-kubeconfig`` (kind's default handling)."""
        return harness_kubeconfig(self.options)

    @property
    def state_path(self) -> Path:
        return self.options.work_dir / STATE_FILE

    def install_files(self) -> InstallFiles:
        if self._install_files is None:
            try:
                self._install_files = ensure_install_files(self.versions)
            except PinnedFetchError as exc:
                raise TargetError(f"cannot fetch Kratix's install files: {exc}") from None
        return self._install_files

    def wanted(self) -> list[KindCluster]:
        return managed_clusters(self.install_files(), single_cluster=self.options.single_cluster)

    def describe(self) -> str:
        names = ", ".join(c.name for c in self.wanted())
        where = self.kubeconfig_path or "the default kubeconfig"
        reused = f"; reused: {', '.join(self.reused)}" if self.reused else ""
        return f"kind clusters {names} ({self.versions.kind.node_image}), kubeconfig {where}{reused}"

    # -- preflight ---------------------------------------------------------------------------------------

    def preflight(self) -> None:
        """Everything checkable before a change; raises ``TargetError`` with one line per problem."""
        findings: list[checks.Finding | None] = [
            checks.check_docker(),
            checks.check_kind(self.versions.kind.cli_version),
            checks.check_kubectl(),
            checks.check_inotify(),
        ]
        docker_ok = bool(findings[0] and findings[0].ok)
        kind_ok = bool(findings[1] and findings[1].ok)
        wanted = self.wanted()
        if docker_ok and kind_ok:
            self._inspect_existing(wanted)
            findings.extend(self._existing_cluster_findings(wanted))
            findings.append(self._ports_finding(wanted))
            findings.append(self._context_clash_finding(wanted))
            root = checks.docker_root_dir()
            disk_paths = [p for p in (root, self.options.work_dir) if p is not None]
            findings.append(checks.check_disk(disk_paths, checks.min_free_gib()))
        report = checks.build_report(findings)
        if not report.ok:
            raise TargetError(report.failure_text())

    def _inspect_existing(self, wanted: Sequence[KindCluster]) -> None:
        names = _kind_clusters()
        self.found = {}
        for cluster in wanted:
            if cluster.name not in names:
                continue
            result = run(self.commands.inspect(cluster), timeout=_QUICK, check=False)
            self.found[cluster.name] = _parse_inspect(cluster, result.stdout if result.exit_code == 0 else "[]")
        self._inspected = True

    def _existing_cluster_findings(self, wanted: Sequence[KindCluster]) -> list[checks.Finding]:
        findings = []
        for cluster in wanted:
            existing = self.found.get(cluster.name)
            if existing is None or self.options.recreate:
                continue
            expected = set(kind_host_ports(cluster.config))
            missing = sorted(expected - existing.host_ports)
            if missing:
                findings.append(checks.Finding(
                    f"cluster {cluster.name}", False,
                    f"kind cluster {cluster.name!r} exists but was not made from Kratix's "
                    f"{cluster.config.name} (host ports {', '.join(map(str, missing))} not mapped): it is "
                    f"someone else's cluster",
                    f"delete it (`kind delete cluster --name {cluster.name}`), pass --recreate to replace it, "
                    f"or use --target existing"))
            elif not existing.running:
                findings.append(checks.Finding(
                    f"cluster {cluster.name}", False,
                    f"kind cluster {cluster.name!r} exists but its node {cluster.control_plane} is not running",
                    f"`docker start {cluster.control_plane}`, or pass --recreate to replace the cluster"))
            else:
                image_note = ""
                if existing.image and existing.image.split("@")[0] != self.versions.kind.node_image:
                    image_note = f" (node image {existing.image}, pinned {self.versions.kind.node_image})"
                    self.notes.append(f"reusing {cluster.name}{image_note}")
                findings.append(checks.Finding(f"cluster {cluster.name}", True, f"exists, reused{image_note}"))
        return findings

    def _ports_finding(self, wanted: Sequence[KindCluster]) -> checks.Finding:
        ports: dict[int, str] = {}
        owners: list[str] = []
        for cluster in wanted:
            if cluster.name in self.found:
                if not self.options.recreate:
                    continue  # reused: its own node holds these ports
                owners.append(cluster.control_plane)  # deleted before it is created again
            for port in kind_host_ports(cluster.config):
                ports[port] = cluster.config.name
        if not ports:
            return checks.Finding("ports", True, "no cluster to create")
        return checks.check_ports(ports, allowed_owners=owners)

    def _context_clash_finding(self, wanted: Sequence[KindCluster]) -> checks.Finding | None:
        """With the user's kubeconfig, a ``kind-<name>`` context of a cluster that is not there gets replaced."""
        if not self.options.use_default_kubeconfig:
            return None
        result = run(["kubectl", "config", "get-contexts", "--output", "name"], timeout=_QUICK, check=False)
        contexts = set(result.stdout.split())
        clashes = [c.context for c in wanted if c.context in contexts and c.name not in self.found]
        if clashes:
            return checks.Finding(
                "kubeconfig", False,
                f"your kubeconfig has context(s) {', '.join(clashes)} but no such kind cluster exists; "
                "kind would overwrite them",
                "rename or delete those contexts, or drop --use-default-kubeconfig (the harness then writes its "
                "own kubeconfig)")
        return checks.Finding("kubeconfig", True, "no context clash")

    # -- setup -------------------------------------------------------------------------------------------

    def setup(self) -> Clusters:
        wanted = self.wanted()
        self.options.work_dir.mkdir(parents=True, exist_ok=True)
        if not self._inspected:
            self.preflight()  # never create next to an unchecked cluster of the same name
        previous_context = self._current_context() if self.options.use_default_kubeconfig else None

        to_create = [c for c in wanted if c.name not in self.found or self.options.recreate]
        reuse = [c for c in wanted if c not in to_create]
        kubes: dict[str, Kube] = {}
        try:
            # Reused clusters first: a broken one stops the run before anything is created.
            for cluster in reuse:
                self._export_kubeconfig(cluster)
                kubes[cluster.name] = self._connect(cluster)
                kubes[cluster.name].ping()
                self.reused.append(cluster.name)
            for cluster in to_create:
                if cluster.name in self.found:
                    run(self.commands.delete(cluster), timeout=_DELETE_TIMEOUT)
                    self._forget(cluster.name)
            self._create_in_parallel(to_create)
            for cluster in to_create:
                self._export_kubeconfig(cluster)
        except ContextError as exc:
            raise TargetError(f"{exc}; pass --recreate to replace the cluster") from None
        except (ToolError, ToolTimeout, ToolNotFound) as exc:
            raise TargetError(str(exc).splitlines()[0] + _stderr_tail(exc)) from None
        finally:
            if self.options.use_default_kubeconfig:
                self._restore_context(previous_context)

        for cluster in to_create:  # reused ones were connected and answered above
            try:
                kubes[cluster.name] = self._connect(cluster)
                kubes[cluster.name].ping()
            except ContextError as exc:
                raise TargetError(str(exc)) from None
        platform = kubes[PLATFORM]
        self.clusters = Clusters(platform=platform, worker=kubes.get(WORKER, platform), kubeconfig=self.kubeconfig_path)
        self.bootstrap_outcomes = self._run_bootstrap(self.clusters)
        return self.clusters

    def _run_bootstrap(self, clusters: Clusters) -> list[StepOutcome]:
        if self._bootstrap is not None:
            return self._bootstrap(clusters)
        return full_bootstrap(
            clusters, self.versions, self.install_files(),
            kubectl=Kubectl(self.kubeconfig_path),
            # Per run, next to its artifacts: the exact kratix.yaml this run installed stays inspectable.
            cache_dir=self.options.work_dir / "releases",
            single_cluster=self.options.single_cluster,
            platform_address=None if self.options.single_cluster else self.platform_address(),
            on_step=self._on_step,
        )

    def platform_address(self) -> str | None:
        """The platform node's address on Docker's ``kind`` network, read as quick-start reads it.

        None when Docker does not say (the bootstrap then uses the node's InternalIP from the API).
        """
        result = run(self.commands.node_address(KindCluster(PLATFORM, Path())), timeout=_QUICK, check=False)
        address = result.stdout.strip()
        return address if result.exit_code == 0 and address and address != "<no value>" else None

    def _create_in_parallel(self, clusters: Sequence[KindCluster]) -> None:
        if not clusters:
            return
        errors: list[str] = []

        def create(cluster: KindCluster) -> None:
            own = create_kubeconfig(self.options.work_dir, cluster)
            try:
                run(self.commands.create(cluster, own), timeout=_CREATE_TIMEOUT)
            except (ToolError, ToolTimeout) as exc:
                errors.append(f"creating kind cluster {cluster.name!r} failed: {str(exc).splitlines()[0]}"
                              f"{_stderr_tail(exc)}")
                return
            finally:
                own.unlink(missing_ok=True)
            self.created.append(cluster.name)
            self._remember(cluster.name)

        # Creation is minutes of image pulls and control-plane boot per cluster: run them side by side.
        with ThreadPoolExecutor(max_workers=len(clusters), thread_name_prefix="kind-create") as pool:
            list(pool.map(create, clusters))
        order = [c.name for c in clusters]
        self.created.sort(key=lambda name: order.index(name) if name in order else len(order))
        if errors:
            raise TargetError("; ".join(errors))

    def _export_kubeconfig(self, cluster: KindCluster) -> None:
        run(self.commands.export_kubeconfig(cluster), timeout=_QUICK)

    def _connect(self, cluster: KindCluster) -> Kube:
        role = PLATFORM if cluster.name == PLATFORM else WORKER
        return Kube.connect(name=role, context=cluster.context, kubeconfig=self.kubeconfig_path,
                            discovery_cache=self.options.work_dir / f"discovery-{cluster.name}.json")

    def _current_context(self) -> str | None:
        result = run(["kubectl", "config", "current-context"], timeout=_QUICK, check=False)
        if result.exit_code != 0:  # "current-context is not set"
            return None
        return result.stdout.strip() or None

    def _restore_context(self, previous: str | None) -> None:
        """kind switches the default kubeconfig to the cluster it touched; put the user's choice back."""
        if self._current_context() == previous:
            return
        if previous is None:
            run(["kubectl", "config", "unset", "current-context"], timeout=_QUICK)
        else:
            run(["kubectl", "config", "use-context", previous], timeout=_QUICK)

    # -- teardown ----------------------------------------------------------------------------------------

    def deletion_plan(self, failed: bool) -> tuple[list[str], str]:
        """Which clusters ``teardown(failed)`` deletes, and why (or why not)."""
        if not self.created:
            return [], "no cluster was created by this run"
        if self.options.keep_clusters:
            return [], "--keep-clusters"
        if failed and self.options.keep_on_failure:
            return [], "a scenario failed and --keep-on-failure is set"
        return list(self.created), "created by this run"

    def teardown(self, failed: bool) -> None:
        names, reason = self.deletion_plan(failed)
        if not names:
            if self.created:
                self.notes.append(f"kept {', '.join(self.created)} ({reason}); delete with scripts/teardown")
            return
        problems = []
        for name in names:
            cluster = KindCluster(name, Path())
            try:
                run(self.commands.delete(cluster), timeout=_DELETE_TIMEOUT)
            except (ToolError, ToolTimeout) as exc:
                problems.append(str(exc).splitlines()[0])
                continue
            self.created.remove(name)
            self._forget(name)
        if problems:
            raise TargetError("; ".join(problems))

    # -- state file --------------------------------------------------------------------------------------

    def _remember(self, name: str) -> None:
        with self._state_lock:  # the two creating threads finish at any time
            record_created_cluster(self.state_path, name, node_image=self.versions.kind.node_image,
                                   kubeconfig=self.kubeconfig_path)

    def _forget(self, name: str) -> None:
        with self._state_lock:
            forget_created_cluster(self.state_path, name)

    def kubeconfig_hint(self) -> str | None:
        return str(self.kubeconfig_path) if self.kubeconfig_path else None

    # -- images and diagnostics ----------------------------------------------------------------------

    def image_loader(self) -> ImageLoader:
        """An ``ImageLoader`` for the platform cluster (pipelines run there)."""
        return ImageLoader(cluster=PLATFORM)

    def prepare_images(self, promise: dict[str, Any]) -> None:
        """Build the Promise's pipeline images we declare and ``kind load`` them into the platform."""
        outcomes, foreign = self.image_loader().ensure_for_promise(promise)
        self.image_outcomes.extend(outcomes)
        if foreign:
            self.notes.append(f"not built here, pulled by the cluster: {', '.join(foreign)}")

    def collect_extra_diagnostics(self, dest: Path) -> list[str]:
        """Kratix/Flux digests of both clusters and ``kind export logs`` for each cluster we manage."""
        if self.clusters is None:
            return []
        names = [c.name for c in self.wanted() if c.name in self.created or c.name in self.reused]
        return collect_real_cluster_extras(self.clusters, dest, kind_clusters=names)


def _kind_clusters() -> set[str]:
    result = run(KindCommands.get_clusters(), timeout=_QUICK)
    return {line.strip() for line in result.stdout.splitlines() if line.strip()}


def _parse_inspect(cluster: KindCluster, text: str) -> FoundCluster:
    try:
        data = json.loads(text or "[]")
    except ValueError:
        data = []
    if not data:
        return FoundCluster(cluster.name, running=False, image="", host_ports=frozenset())
    info: dict[str, Any] = data[0]
    bindings = (info.get("HostConfig") or {}).get("PortBindings") or {}
    ports = frozenset(
        int(b["HostPort"]) for entries in bindings.values() for b in (entries or []) if b.get("HostPort")
    )
    return FoundCluster(
        cluster.name,
        running=bool((info.get("State") or {}).get("Running")),
        image=str((info.get("Config") or {}).get("Image") or ""),
        host_ports=ports,
    )


def _stderr_tail(exc: BaseException) -> str:
    result = getattr(exc, "result", None)
    stderr = (result.stderr if result is not None else "").strip().splitlines()
    errors = [line for line in stderr if "ERROR" in line or "error" in line]
    return f" ({errors[-1].strip()})" if errors else ""


# -- the record of clusters this suite created ---------------------------------------------------------------


def read_created_clusters(state_path: Path) -> dict[str, dict[str, Any]]:
    """Clusters the suite created and has not deleted yet (name -> details)."""
    try:
        data = json.loads(state_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise TargetError(
            f"{state_path}: not valid JSON ({exc}); delete the file after checking `kind get clusters`"
        ) from None
    created = data.get("created") if isinstance(data, dict) else None
    return dict(created) if isinstance(created, dict) else {}


def _write_state(state_path: Path, created: dict[str, dict[str, Any]]) -> None:
    state_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"created": created}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, state_path)


def record_created_cluster(state_path: Path, name: str, *, node_image: str, kubeconfig: Path | None) -> None:
    created = read_created_clusters(state_path)
    created[name] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "node_image": node_image,
        "kubeconfig": str(kubeconfig) if kubeconfig else None,
    }
    _write_state(state_path, created)


def forget_created_cluster(state_path: Path, name: str) -> None:
    created = read_created_clusters(state_path)
    if created.pop(name, None) is not None:
        _write_state(state_path, created)


def delete_recorded_clusters(state_path: Path, *, dry_run: bool = False,
                             names: Sequence[str] = (PLATFORM, WORKER)) -> tuple[list[str], list[str]]:
    """Delete the kind clusters this suite created (recorded in ``state_path``), never anyone else's.

    Returns (lines saying what was deleted or would be, lines about clusters left alone and why).

    Raises:
        TargetError: a deletion failed (the message has the command and kind's error).
    """
    recorded = read_created_clusters(state_path)
    existing = _kind_clusters()
    done: list[str] = []
    left: list[str] = []
    for name in sorted(set(recorded) | (set(names) & existing)):
        if name not in recorded:
            left.append(f"left alone: kind cluster {name!r} was not created by this suite "
                        f"(delete it yourself: kind delete cluster --name {name})")
            continue
        if name not in existing:
            if not dry_run:
                forget_created_cluster(state_path, name)
            done.append(f"already gone: {name}")
            continue
        kubeconfig = recorded[name].get("kubeconfig")
        argv = ["kind", "delete", "cluster", "--name", name] + (["--kubeconfig", kubeconfig] if kubeconfig else [])
        if dry_run:
            done.append(f"would run: {' '.join(argv)}")
            continue
        try:
            run(argv, timeout=_DELETE_TIMEOUT)
        except (ToolError, ToolTimeout) as exc:
            raise TargetError(f"{str(exc).splitlines()[0]}{_stderr_tail(exc)}") from None
        forget_created_cluster(state_path, name)
        done.append(f"deleted: {name}")
    return done, left
