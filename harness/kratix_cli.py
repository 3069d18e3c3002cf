"""The Kratix CLI (``kratix``, syntasso/kratix-cli): find it, check it is the pinned version, run it, install it.

The "Writing a Promise" guide scaffolds the database Promise with the real CLI, so the suite runs the real
CLI too and never imitates it: when no CLI of the pinned version (``versions.yaml`` ``kratix_cli.version``)
is found, the scenarios tagged ``@needs_cli`` are skipped at collection time with the reason
:func:`cli_status` gives.

Where the CLI is looked for, first found wins: ``$KRATIX_E2E_KRATIX_CLI`` (a path), the project's own install
directory ``.cache/bin`` (where ``scripts/install-kratix-cli`` puts it), then ``PATH``.

Installing: the release archive ``kratix-cli_<Linux|Darwin>_<x86_64|arm64>.tar.gz`` (goreleaser's
``archives.name_template`` in kratix-cli) is fetched from ``kratix_cli.release_base`` (or taken from a local
file or mirror directory), verified, and only its ``kratix`` member is extracted. The binary replaces an
installed one only after it has answered ``--version`` with the pinned version, so a failed install leaves
the previous binary as it was.
"""

from __future__ import annotations

import io
import os
import platform
import re
import shlex
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.pinned import PinnedFetchError, PinnedFile, fetch_pinned, sha256_hex
from harness.tools import ToolError, ToolNotFound, ToolResult, ToolTimeout, run, which
from harness.versions import REPO_ROOT, Versions, load_versions

PROGRAM = "kratix"
CLI_ENV = "KRATIX_E2E_KRATIX_CLI"
DEFAULT_BIN_DIR = REPO_ROOT / ".cache" / "bin"
INSTALL_SCRIPT = "scripts/install-kratix-cli"

# `kratix --version` is cobra's version template: "kratix version 0.17.0" (goreleaser strips the tag's "v").
_VERSION_PATTERN = re.compile(r"\bversion\s+v?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)")
_VERSION_TIMEOUT = 15.0
# Scaffolding commands only write a few files; a minute means the CLI is stuck (e.g. waiting on a prompt).
COMMAND_TIMEOUT = 60.0

# platform.machine() spellings -> the architecture word in the archive name.
_ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
_SYSTEMS = {"linux": "Linux", "darwin": "Darwin"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class CliError(RuntimeError):
    """The Kratix CLI cannot be used as asked; the message says why and what to do."""


class CliNotInstalled(CliError):
    """No ``kratix`` binary was found where the suite looks for one."""


class CliVersionMismatch(CliError):
    """A ``kratix`` binary was found but it is not the pinned version."""


class CliInstallError(CliError):
    """The CLI could not be installed (fetch, digest, archive content or version); nothing was replaced."""


def normalise_version(version: str) -> str:
    """``v0.17.0`` and ``0.17.0`` compare equal: the release tag has the ``v``, the binary does not."""
    return version.strip().removeprefix("v")


def parse_version_output(output: str) -> str:
    """The version in ``kratix --version`` output (``kratix version 0.17.0`` -> ``0.17.0``).

    Raises:
        CliError: the output has no version in it.
    """
    match = _VERSION_PATTERN.search(output)
    if match is None:
        first = output.strip().splitlines()[:1]
        raise CliError(f"cannot read a version from `kratix --version` output: {first[0] if first else '(empty)'!r}")
    return match.group(1)


@dataclass(frozen=True)
class KratixCli:
    """A located ``kratix`` binary and the version it reports."""

    path: Path
    version: str

    def run(self, args: Sequence[str], *, cwd: Path, timeout: float = COMMAND_TIMEOUT) -> ToolResult:
        """Run ``kratix ARGS`` in ``cwd`` (raises ``ToolError`` naming the command when it fails)."""
        return run([str(self.path), *args], timeout=timeout, cwd=cwd)


def probe_version(path: Path, *, env: Mapping[str, str] | None = None) -> str:
    """Ask a binary for its version.

    Raises:
        CliError: it did not answer (missing, not executable, failed, timed out, or printed no version).
    """
    try:
        result = run([str(path), "--version"], timeout=_VERSION_TIMEOUT, env=env)
    except (ToolError, ToolTimeout, ToolNotFound) as exc:
        raise CliError(f"{path} does not answer `--version`: {str(exc).splitlines()[0]}") from None
    except OSError as exc:
        raise CliError(f"{path} cannot be run: {exc.strerror or exc}") from None
    return parse_version_output(result.stdout + "\n" + result.stderr)


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def locate(env: Mapping[str, str] | None = None, bin_dir: Path = DEFAULT_BIN_DIR) -> tuple[Path | None, list[str]]:
    """The first ``kratix`` binary found, and the places looked at (for the "not found" message).

    Raises:
        CliNotInstalled: ``$KRATIX_E2E_KRATIX_CLI`` is set but names no executable file (an explicit choice
            that is wrong must not silently fall back to another binary).
    """
    environ = os.environ if env is None else env
    explicit = environ.get(CLI_ENV, "")
    if explicit:
        path = Path(explicit).expanduser()
        if not _is_executable(path):
            raise CliNotInstalled(f"${CLI_ENV} is {explicit!r}, which is not an executable file")
        return path, [f"${CLI_ENV}"]
    looked = [str(bin_dir)]
    installed = bin_dir / PROGRAM
    if _is_executable(installed):
        return installed, looked
    looked.append("PATH")
    found = which(PROGRAM, env=dict(environ) if env is not None else None)
    return (Path(found) if found else None), looked


def find_cli(pinned: str, *, env: Mapping[str, str] | None = None, bin_dir: Path = DEFAULT_BIN_DIR) -> KratixCli:
    """The Kratix CLI at the pinned version.

    Raises:
        CliNotInstalled: no binary found (the message names where the suite looked and the install script).
        CliVersionMismatch: the binary found reports another version.
        CliError: the binary does not answer ``--version``.
    """
    path, looked = locate(env, bin_dir)
    if path is None:
        raise CliNotInstalled(
            f"kratix CLI not found (looked in {', '.join(looked)}); install the pinned v{normalise_version(pinned)} "
            f"with {INSTALL_SCRIPT}"
        )
    version = probe_version(path)
    if normalise_version(version) != normalise_version(pinned):
        raise CliVersionMismatch(
            f"kratix CLI at {path} is {version}, not the pinned v{normalise_version(pinned)}; install it with "
            f"{INSTALL_SCRIPT} (into {bin_dir}, which the suite prefers over PATH)"
        )
    return KratixCli(path=path, version=version)


@dataclass(frozen=True)
class CliStatus:
    """Whether the pinned CLI can be used, and if not why (the skip reason of ``@needs_cli`` scenarios)."""

    cli: KratixCli | None
    reason: str

    @property
    def available(self) -> bool:
        return self.cli is not None


def cli_status(pinned: str | None = None, *, env: Mapping[str, str] | None = None,
               bin_dir: Path = DEFAULT_BIN_DIR) -> CliStatus:
    """Like :func:`find_cli`, but answers instead of raising (for collection-time gating)."""
    wanted = pinned if pinned is not None else load_versions().kratix_cli_version
    try:
        cli = find_cli(wanted, env=env, bin_dir=bin_dir)
    except CliError as exc:
        return CliStatus(None, str(exc))
    return CliStatus(cli, f"kratix {cli.version} at {cli.path}")


def split_command(command: str) -> list[str]:
    """A ``kratix ...`` command line as written in a feature, as arguments after the program name.

    Raises:
        CliError: the line is not a ``kratix`` command or does not parse as shell words.
    """
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise CliError(f"cannot parse the command {command!r}: {exc}") from None
    if not words or words[0] != PROGRAM:
        raise CliError(f"not a kratix command: {command!r} (it must start with `{PROGRAM} `)")
    return words[1:]


# -- installing --------------------------------------------------------------------------------------------


def archive_name(system: str | None = None, machine: str | None = None) -> str:
    """The release archive for this machine (or the one given): ``kratix-cli_Linux_x86_64.tar.gz``.

    Raises:
        CliInstallError: kratix-cli publishes no archive for that system/architecture.
    """
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    if system not in _SYSTEMS or machine not in _ARCHES:
        raise CliInstallError(
            f"kratix-cli publishes no release archive for {system}/{machine}; "
            f"known: {', '.join(sorted(_SYSTEMS))} x {', '.join(sorted(set(_ARCHES.values())))}"
        )
    return f"kratix-cli_{_SYSTEMS[system]}_{_ARCHES[machine]}.tar.gz"


def checksums_name(version: str) -> str:
    """goreleaser's default checksums file of a release (``kratix-cli_0.17.0_checksums.txt``)."""
    return f"kratix-cli_{normalise_version(version)}_checksums.txt"


def pinned_archive_sha256(versions: Versions, name: str) -> str | None:
    """The archive's sha256 from ``versions.yaml`` ``kratix_cli.archives.<name>``, if pinned there.

    Raises:
        CliInstallError: the entry exists but is not a sha256.
    """
    section = versions.raw.get("kratix_cli")
    archives = section.get("archives") if isinstance(section, Mapping) else None
    if not isinstance(archives, Mapping) or name not in archives:
        return None
    digest = str(archives[name]).strip().lower()
    if not _SHA256.match(digest):
        raise CliInstallError(f"{versions.source}: kratix_cli.archives.{name}: expected a sha256, got {digest!r}")
    return digest


def digest_from_checksums(text: str, name: str, *, source: str) -> str:
    """The sha256 that a ``sha256sum``-style checksums file lists for ``name``.

    Raises:
        CliInstallError: the file does not list ``name`` with a well-formed digest.
    """
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == name:
            digest = parts[0].lower()
            if _SHA256.match(digest):
                return digest
            raise CliInstallError(f"{source}: the entry for {name} is not a sha256: {parts[0]!r}")
    raise CliInstallError(f"{source} lists no {name}")


@dataclass(frozen=True)
class Installed:
    """Where the CLI went, what it reports, the archive's digest and how that digest was checked."""

    path: Path
    version: str
    archive: str
    sha256: str
    verified_by: str


def _fetch(name: str, url: str, sha256: str | None, mirror: Path | None, timeout: float) -> bytes:
    """One release asset's bytes, from the mirror directory or the URL (verified when ``sha256`` is given)."""
    # A throwaway directory: fetch_pinned writes what it fetched, and nothing unverified may stay behind.
    with tempfile.TemporaryDirectory(prefix="kratix-cli-") as scratch:
        try:
            fetched = fetch_pinned([PinnedFile(path=name, url=url, sha256=sha256)], Path(scratch), mirror=mirror,
                                   timeout=timeout)
        except PinnedFetchError as exc:
            raise CliInstallError(str(exc)) from None
        return fetched[0].dest.read_bytes()


def extract_binary(data: bytes, *, source: str) -> bytes:
    """The ``kratix`` executable inside a release archive (only that member is read; paths are ignored).

    Raises:
        CliInstallError: not a gzipped tar, or no regular file named ``kratix`` in it.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            members = archive.getmembers()
            chosen = [m for m in members if m.isreg() and Path(m.name).name == PROGRAM]
            if len(chosen) != 1:
                names = ", ".join(m.name for m in members[:10]) or "nothing"
                raise CliInstallError(
                    f"{source} holds {len(chosen)} regular files named {PROGRAM!r} (expected one); it has: {names}"
                )
            handle = archive.extractfile(chosen[0])
            if handle is None:  # pragma: no cover - isreg() members always have content
                raise CliInstallError(f"{source}: cannot read {chosen[0].name}")
            return handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CliInstallError(f"{source} is not a gzipped tar archive: {exc}") from None


def install_cli(
    *,
    dest_dir: Path = DEFAULT_BIN_DIR,
    versions: Versions | None = None,
    archive: Path | None = None,
    mirror: Path | None = None,
    sha256: str | None = None,
    allow_unpinned: bool = False,
    system: str | None = None,
    machine: str | None = None,
    timeout: float = 120.0,
) -> Installed:
    """Install the pinned Kratix CLI from its release archive into ``dest_dir``.

    The archive comes from ``archive`` (a local file; its directory is then the mirror for the checksums
    file), else ``mirror`` (a directory holding release assets by name), else ``kratix_cli.release_base``.
    Its digest is checked against, first that applies: ``sha256``; ``versions.yaml``
    ``kratix_cli.archives``; the release's own checksums file (same origin as the archive: it catches a
    corrupt or wrong download, not tampering, and the result says so); nothing, only with ``allow_unpinned``.

    Raises:
        CliInstallError: any step failed; an installed binary is left untouched.
    """
    versions = versions or load_versions()
    pinned_version = versions.kratix_cli_version
    name = archive.name if archive is not None else archive_name(system, machine)
    base = versions.kratix_cli_release_base.rstrip("/")
    if archive is not None:
        mirror = archive.parent

    expected: str | None
    if sha256 is not None:
        expected = sha256.strip().lower()
        verified_by = "the --sha256 given"
        if not _SHA256.match(expected):
            raise CliInstallError(f"--sha256 must be 64 hex characters, got {sha256!r}")
    else:
        expected = pinned_archive_sha256(versions, name)
        verified_by = f"{versions.source.name} kratix_cli.archives"

    source = str(mirror / name) if mirror is not None else f"{base}/{name}"
    try:
        data = _fetch(name, f"{base}/{name}", expected, mirror, timeout)
    except CliInstallError as exc:
        raise CliInstallError(f"{exc}; nothing installed") from None
    actual = sha256_hex(data)

    if expected is None:
        sums = checksums_name(pinned_version)
        try:
            text = _fetch(sums, f"{base}/{sums}", None, mirror, timeout).decode("utf-8", errors="replace")
            expected = digest_from_checksums(text, name, source=sums)
            verified_by = f"the release's {sums} only (archive digest NOT pinned in versions.yaml)"
        except CliInstallError as exc:
            if not allow_unpinned:
                raise CliInstallError(
                    f"cannot verify {name}: no sha256 pinned (versions.yaml kratix_cli.archives) or given "
                    f"(--sha256), and the release checksums are unavailable ({exc}); pass --allow-unpinned to "
                    f"install it anyway (its sha256 is {actual})"
                ) from None
            verified_by = "nothing (--allow-unpinned): archive digest unverified"
        if expected is not None and actual != expected:
            raise CliInstallError(
                f"sha256 mismatch for {source}: {sums} lists {expected}, got {actual}; nothing installed"
            )

    binary = extract_binary(data, source=source)
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{PROGRAM}.", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(binary)
        tmp.chmod(0o755)
        try:
            version = probe_version(tmp)
        except CliError as exc:
            raise CliInstallError(f"the {PROGRAM} binary from {source} does not run here: {exc}") from None
        if normalise_version(version) != normalise_version(pinned_version):
            raise CliInstallError(
                f"the {PROGRAM} binary from {source} reports version {version}, not the pinned {pinned_version}; "
                f"nothing installed"
            )
        final = dest_dir / PROGRAM
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return Installed(path=final, version=version, archive=name, sha256=actual, verified_by=verified_by)


def plan_lines(commands: Sequence[str], *, versions: Versions | None = None) -> list[str]:
    """What ``--plan`` shows for the CLI scaffolding: where the CLI comes from and each command it runs."""
    versions = versions or load_versions()
    base = versions.kratix_cli_release_base.rstrip("/")
    try:
        archive = f"{base}/{archive_name()}"
    except CliInstallError as exc:
        archive = str(exc)
    status = cli_status(versions.kratix_cli_version)
    found = status.reason if status.available else f"not usable ({status.reason}); the scaffolding is skipped"
    return [
        f"Kratix CLI {versions.kratix_cli_version}: {found}",
        f"  install: {INSTALL_SCRIPT} (release archive {archive})",
        *(f"  (in a temporary directory) {command}" for command in commands),
    ]
