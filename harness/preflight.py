"""Checks run before anything is created: Docker, kind, kubectl, inotify limits, host ports, disk space.

Each check returns a ``Finding``; a failed one is one line saying what is wrong and the fix. Nothing here
changes the machine: the only commands are ``docker info``, ``docker ps``, ``kind version`` and
``kubectl version --client``.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.tools import ToolError, ToolNotFound, ToolTimeout, run

_TIMEOUT = 30.0

# The read-only commands the checks run, in the order the kind target runs them (``--plan`` lists these).
DOCKER_INFO_ARGV = ("docker", "info", "--format", "{{.ServerVersion}}")
KIND_VERSION_ARGV = ("kind", "version")
KUBECTL_CLIENT_ARGV = ("kubectl", "version", "--client", "-o", "json")
DOCKER_PORTS_ARGV = ("docker", "ps", "--format", "{{.Names}}|{{.Ports}}")
DOCKER_ROOT_ARGV = ("docker", "info", "--format", "{{.DockerRootDir}}")

# Kratix's quick-start refuses to start kind on Linux (outside CI) below these (kind's known issue
# "Pod errors due to too many open files").
INOTIFY_MINIMUMS = {"max_user_watches": 246299, "max_user_instances": 128}
INOTIFY_FIX = "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512"
# Two kind nodes, their images (cert-manager, Kratix, Flux, MinIO, Postgres/spilo) and our pipeline images.
DEFAULT_MIN_FREE_GIB = 10.0
MIN_FREE_ENV = "KRATIX_E2E_MIN_FREE_GIB"


@dataclass(frozen=True)
class Finding:
    """The result of one check: ``ok`` with what was found, or a problem with its fix."""

    check: str
    ok: bool
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.check}: {self.message}"
        return f"{text}; fix: {self.fix}" if self.fix and not self.ok else text


@dataclass(frozen=True)
class PreflightReport:
    findings: tuple[Finding, ...]

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def failure_text(self) -> str:
        """One line per failed check (for ``TargetError``)."""
        return "\n".join(f.line() for f in self.failures)

    def summary(self) -> list[str]:
        return [("ok     " if f.ok else "FAILED ") + f.line() for f in self.findings]


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def check_docker() -> Finding:
    """The Docker daemon answers ``docker info`` for this user."""
    try:
        result = run(DOCKER_INFO_ARGV, timeout=_TIMEOUT, check=False)
    except ToolNotFound:
        return Finding("docker", False, "docker is not installed (not on PATH)",
                       "install Docker: https://docs.docker.com/engine/install/")
    except ToolTimeout:
        return Finding("docker", False, f"`docker info` did not answer within {_TIMEOUT:g}s",
                       "restart the Docker daemon")
    version = result.stdout.strip()
    if result.exit_code != 0 or not version:
        reason = _first_line(result.stderr) or f"`docker info` exited {result.exit_code}"
        return Finding("docker", False, f"Docker daemon not reachable: {reason}",
                       "start Docker (Docker Desktop, or `sudo systemctl start docker`) and make sure "
                       "`docker info` works for this user")
    return Finding("docker", True, f"daemon {version}")


_KIND_VERSION = re.compile(r"\bv(\d+)\.(\d+)\.(\d+)")


def _version_tuple(text: str) -> tuple[int, int, int] | None:
    match = _KIND_VERSION.search(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def check_kind(pinned_cli_version: str) -> Finding:
    """kind is installed and not older than the release the pinned node image was built for."""
    install = f"install kind {pinned_cli_version}: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
    try:
        result = run(KIND_VERSION_ARGV, timeout=_TIMEOUT, check=False)
    except ToolNotFound:
        return Finding("kind", False, "kind is not installed (not on PATH)", install)
    text = result.stdout.strip() or result.stderr.strip()
    found, wanted = _version_tuple(text), _version_tuple(pinned_cli_version)
    if result.exit_code != 0 or found is None:
        return Finding("kind", False, f"`kind version` failed: {_first_line(text) or result.exit_code}", install)
    if wanted is not None and found < wanted:
        return Finding("kind", False,
                       f"{_first_line(text)} is older than {pinned_cli_version}, which the pinned node image needs",
                       install)
    return Finding("kind", True, _first_line(text))


def check_kubectl() -> Finding:
    """kubectl is installed (client version only: no cluster is contacted)."""
    fix = "install kubectl: https://kubernetes.io/docs/tasks/tools/"
    try:
        result = run(KUBECTL_CLIENT_ARGV, timeout=_TIMEOUT, check=False)
    except ToolNotFound:
        return Finding("kubectl", False, "kubectl is not installed (not on PATH)", fix)
    try:
        version = json.loads(result.stdout)["clientVersion"]["gitVersion"]
    except (ValueError, KeyError, TypeError):
        return Finding("kubectl", False,
                       f"`kubectl version --client` failed: {_first_line(result.stderr) or result.exit_code}", fix)
    return Finding("kubectl", True, f"client {version}")


def check_inotify(
    *,
    proc: Path = Path("/proc"),
    platform: str = sys.platform,
    env: Mapping[str, str] | None = None,
) -> Finding | None:
    """Linux inotify limits as Kratix's quick-start requires (it skips the check in CI; so do we).

    Returns None when the check does not apply (not Linux, or CI).
    """
    env = os.environ if env is None else env
    if not platform.startswith("linux") or env.get("CI"):
        return None
    low: list[str] = []
    for key, minimum in INOTIFY_MINIMUMS.items():
        path = proc / "sys" / "fs" / "inotify" / key
        try:
            value = int(path.read_text().strip())
        except (OSError, ValueError):
            continue  # not readable here (containers); kind will tell if it matters
        if value < minimum:
            low.append(f"fs.inotify.{key}={value} (needs >= {minimum})")
    if low:
        return Finding("inotify", False, "limits too low for two kind clusters: " + ", ".join(low), INOTIFY_FIX)
    return Finding("inotify", True, "limits sufficient")


def port_in_use(port: int, host: str = "0.0.0.0") -> bool:
    """True when nothing can bind ``host:port`` now (kind binds extraPortMappings on 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


_PUBLISHED = re.compile(r":(\d+)->")


def docker_published_ports() -> dict[int, str]:
    """Host port -> name of the running container publishing it (catches Docker without its userland proxy,
    where nothing on the host listens although the port is taken)."""
    try:
        result = run(DOCKER_PORTS_ARGV, timeout=_TIMEOUT, check=False)
    except (ToolNotFound, ToolTimeout):
        return {}
    published: dict[int, str] = {}
    if result.exit_code != 0:
        return published
    for line in result.stdout.splitlines():
        name, _, ports = line.partition("|")
        for port in _PUBLISHED.findall(ports):
            published.setdefault(int(port), name.strip())
    return published


def check_ports(ports: Mapping[int, str], *, allowed_owners: Iterable[str] = ()) -> Finding:
    """Every host port a kind config maps is free (``ports``: port -> the config that maps it).

    ``allowed_owners``: containers that may hold a port (a cluster this run recreates).
    """
    allowed = set(allowed_owners)
    published = docker_published_ports()
    busy: list[str] = []
    for port, source in sorted(ports.items()):
        owner = published.get(port)
        if owner in allowed:
            continue
        if owner is not None:
            busy.append(f"{port} ({source}) is published by container {owner}")
        elif port_in_use(port):
            busy.append(f"{port} ({source}) is in use by another process")
    if busy:
        return Finding("ports", False, "host port " + "; ".join(busy),
                       "stop what holds it (`docker ps`, `ss -ltnp`), or delete the old cluster")
    return Finding("ports", True, f"free: {', '.join(str(p) for p in sorted(ports))}")


def min_free_gib(env: Mapping[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    try:
        return float(env.get(MIN_FREE_ENV, DEFAULT_MIN_FREE_GIB))
    except ValueError:
        return DEFAULT_MIN_FREE_GIB


def check_disk(paths: Sequence[Path], minimum_gib: float) -> Finding:
    """Enough free space where Docker keeps images (when visible from here) and in the work dir."""
    short: list[str] = []
    seen: list[str] = []
    for path in paths:
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free / 2**30
        seen.append(f"{path} {free:.1f} GiB free")
        if free < minimum_gib:
            short.append(f"{path} has {free:.1f} GiB free (needs {minimum_gib:g} GiB)")
    if short:
        return Finding("disk", False, "; ".join(short),
                       "free space (`docker system prune`, remove old kind clusters) or set "
                       f"{MIN_FREE_ENV} lower if you know better")
    return Finding("disk", True, "; ".join(seen))


def docker_root_dir() -> Path | None:
    """Docker's data directory when it is on this machine's filesystem (not inside a Docker Desktop VM)."""
    try:
        result = run(DOCKER_ROOT_ARGV, timeout=_TIMEOUT, check=False)
    except (ToolNotFound, ToolTimeout, ToolError):
        return None
    text = result.stdout.strip()
    if result.exit_code != 0 or not text:
        return None
    path = Path(text)
    return path if path.exists() else None


def build_report(findings: Iterable[Finding | None]) -> PreflightReport:
    return PreflightReport(tuple(f for f in findings if f is not None))
