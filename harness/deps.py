"""Pinned upstream files the promises deliver as dependencies (the Zalando postgres-operator manifests).

They are never committed. They are fetched with :mod:`harness.pinned` (sha256 checked before anything is
written; an HTTP error, an error page served with status 200 or a moved tag fails loudly and leaves no
file) from a mirror directory or from the URLs pinned in ``versions.yaml``, into a gitignored cache that
the dependency images are built from and that :mod:`harness.pipeline_local` uses in place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.pinned import PinnedFetchError, PinnedFile, fetch_pinned, files_of, sha256_hex
from harness.versions import REPO_ROOT, Versions, load_versions, read_versions

CACHE_ROOT = REPO_ROOT / ".cache" / "deps"
UPSTREAM_ROOT = REPO_ROOT.parent / "shared" / "upstream"

# The dependency sets the promises use: versions.yaml key -> directory name prefix.
DEP_SETS = {"zalando_postgres_operator": "zalando-postgres-operator"}
# Environment variables naming a mirror directory per set (CI points them at ../shared/upstream).
MIRROR_ENV = {"zalando_postgres_operator": "KRATIX_E2E_ZALANDO_MIRROR"}

# A fetch or verification failure (download error, unreadable mirror file, digest mismatch).
DepsError = PinnedFetchError


@dataclass(frozen=True)
class DepSet:
    """A pinned group of upstream files, e.g. the Zalando operator manifests at one release."""

    key: str
    version: str
    files: tuple[PinnedFile, ...]

    @property
    def dir_name(self) -> str:
        """Directory name of this set in the cache and in mirrors (``zalando-postgres-operator-v2.0.1``)."""
        return f"{DEP_SETS[self.key]}-{self.version}"


def load_dep_set(key: str = "zalando_postgres_operator", versions_file: Path | None = None) -> DepSet:
    """One dependency set (URLs and sha256 digests) from ``versions.yaml`` (or ``versions_file``).

    Raises:
        DepsError: ``key`` is not a known set.
        harness.versions.VersionsError: versions.yaml lacks or mistypes a pin (message names file and key).
    """
    if key not in DEP_SETS:
        raise DepsError(f"unknown dependency set {key!r}; known: {', '.join(sorted(DEP_SETS))}")
    versions: Versions = read_versions(versions_file) if versions_file is not None else load_versions()
    return DepSet(key=key, version=versions.zalando_version, files=tuple(files_of(versions.zalando_files)))


def cache_dir(dep: DepSet, cache_root: Path = CACHE_ROOT) -> Path:
    """Where fetched files of ``dep`` live (``.cache/deps/<dir_name>``)."""
    return cache_root / dep.dir_name


def default_mirror(dep: DepSet) -> Path:
    """The shared upstream copy CI uses as a mirror (may not exist)."""
    return UPSTREAM_ROOT / dep.dir_name


def verify_dir(dep: DepSet, directory: Path) -> list[str]:
    """Problems with ``directory`` as a copy of ``dep`` (missing files, wrong digests); empty when complete."""
    problems: list[str] = []
    for f in dep.files:
        path = directory / f.name
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        actual = sha256_hex(path.read_bytes())
        if actual != f.sha256:
            problems.append(f"{path}: sha256 {actual}, expected {f.sha256}")
    return problems


def fetch(dep: DepSet, dest: Path | None = None, *, mirror: Path | None = None, timeout: float = 60.0) -> Path:
    """Fetch every file of ``dep`` into ``dest`` (default: the cache) and return ``dest``.

    With ``mirror``, files are copied from ``mirror/<name>`` instead of downloaded. Files already in ``dest``
    with the pinned digest are kept. Every file is verified before the first one is written.

    Raises:
        DepsError: a download failed, a mirror file is missing, or a digest differs (the message names the
            URL or mirror file and both digests); nothing was written.
    """
    target = dest if dest is not None else cache_dir(dep)
    fetch_pinned(list(dep.files), target, mirror=mirror, timeout=timeout)
    return target


def mirror_for(dep: DepSet, explicit: Path | None = None) -> Path | None:
    """The mirror directory to copy ``dep`` from, or None to download (see :func:`ensure`)."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(MIRROR_ENV.get(dep.key, ""), "")
    if from_env:
        return Path(from_env)
    shared = default_mirror(dep)
    return shared if shared.is_dir() else None


def ensure(dep: DepSet, *, mirror: Path | None = None, cache_root: Path = CACHE_ROOT) -> Path:
    """Return a verified directory holding ``dep``: the cache if complete, else filled and verified.

    Source, first that applies: ``mirror``; the directory in ``$KRATIX_E2E_ZALANDO_MIRROR``; the shared
    upstream copy (``../shared/upstream/<dir_name>``) when it exists; the pinned URLs.

    Raises:
        DepsError: a mirror file is missing, a download failed, or a digest differs (nothing is written).
    """
    # fetch_pinned keeps every cached file whose digest matches and reads no source for it, so a complete
    # cache is used as it is (a broken or absent mirror is not even read).
    return fetch(dep, cache_dir(dep, cache_root), mirror=mirror_for(dep, mirror))
