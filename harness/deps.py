"""Pinned upstream files the promises deliver as dependencies (the Zalando postgres-operator manifests).

They are never committed: `scripts/fetch-deps` downloads them (or copies them from a mirror directory such as
``../shared/upstream/zalando-postgres-operator-v2.0.1``) into a gitignored cache, checking each file's sha256
against ``versions.yaml`` *before* anything is written. An HTTP error, an error page served with status 200
or a moved tag therefore fails loudly, naming the URL and both digests, and leaves no file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.schema import ManifestError, load_yaml_document

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONS_FILE = REPO_ROOT / "versions.yaml"
CACHE_ROOT = REPO_ROOT / ".cache" / "deps"
UPSTREAM_ROOT = REPO_ROOT.parent / "shared" / "upstream"

# The dependency sets the promises use: versions.yaml key -> directory name prefix.
DEP_SETS = {"zalando_postgres_operator": "zalando-postgres-operator"}
# Environment variables naming a mirror directory per set (CI points them at ../shared/upstream).
MIRROR_ENV = {"zalando_postgres_operator": "KRATIX_E2E_ZALANDO_MIRROR"}


class DepsError(RuntimeError):
    """A dependency file could not be fetched, copied or verified."""


@dataclass(frozen=True)
class DepFile:
    """One pinned upstream file."""

    name: str
    url: str
    sha256: str


@dataclass(frozen=True)
class DepSet:
    """A pinned group of upstream files, e.g. the Zalando operator manifests at one release."""

    key: str
    version: str
    files: tuple[DepFile, ...]

    @property
    def dir_name(self) -> str:
        """Directory name of this set in the cache and in mirrors (``zalando-postgres-operator-v2.0.1``)."""
        return f"{DEP_SETS[self.key]}-{self.version}"


Opener = Callable[[str, float], bytes]


def load_dep_set(key: str = "zalando_postgres_operator", versions_file: Path = VERSIONS_FILE) -> DepSet:
    """Read one dependency set (URLs and sha256 digests) from ``versions.yaml``."""
    if key not in DEP_SETS:
        raise DepsError(f"unknown dependency set {key!r}; known: {', '.join(sorted(DEP_SETS))}")
    versions = load_yaml_document(versions_file)
    entry = versions.get(key)
    if not isinstance(entry, dict):
        raise ManifestError(f"{versions_file}: no mapping under {key!r}")
    try:
        version = str(entry["version"])
        raw_base = str(entry["raw_base"]).rstrip("/")
        files = entry["files"]
    except KeyError as exc:
        raise ManifestError(f"{versions_file}: {key}.{exc.args[0]} is missing") from None
    if not isinstance(files, dict) or not files:
        raise ManifestError(f"{versions_file}: {key}.files must map file names to sha256 digests")
    return DepSet(
        key=key,
        version=version,
        files=tuple(DepFile(name, f"{raw_base}/{name}", str(digest).lower()) for name, digest in files.items()),
    )


def cache_dir(dep: DepSet, cache_root: Path = CACHE_ROOT) -> Path:
    """Where fetched files of ``dep`` live (``.cache/deps/<dir_name>``)."""
    return cache_root / dep.dir_name


def default_mirror(dep: DepSet) -> Path:
    """The shared upstream copy CI uses as a mirror (may not exist)."""
    return UPSTREAM_ROOT / dep.dir_name


def sha256_of(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def verify_dir(dep: DepSet, directory: Path) -> list[str]:
    """Problems with ``directory`` as a copy of ``dep`` (missing files, wrong digests); empty when complete."""
    problems: list[str] = []
    for f in dep.files:
        path = directory / f.name
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        actual = sha256_of(path.read_bytes())
        if actual != f.sha256:
            problems.append(f"{path}: sha256 {actual}, expected {f.sha256}")
    return problems


def _download(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "kratix-workshop-e2e fetch-deps"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        raise DepsError(f"GET {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DepsError(f"GET {url} failed: {reason}") from None


def fetch(
    dep: DepSet,
    dest: Path | None = None,
    *,
    mirror: Path | None = None,
    timeout: float = 60.0,
    opener: Opener = _download,
) -> Path:
    """Fetch every file of ``dep`` into ``dest`` (default: the cache) and return ``dest``.

    With ``mirror``, files are copied from ``mirror/<name>`` instead of downloaded. Every file is read and its
    digest checked before the first one is written, so a failure leaves ``dest`` as it was.

    Raises:
        DepsError: a download failed, a mirror file is missing, or a digest differs (message names the source,
            the expected and the actual digest).
    """
    target = dest if dest is not None else cache_dir(dep)
    contents: dict[str, bytes] = {}
    for f in dep.files:
        if mirror is not None:
            source = str(mirror / f.name)
            try:
                data = (mirror / f.name).read_bytes()
            except OSError as exc:
                raise DepsError(f"cannot read mirror file {source}: {exc.strerror or exc}") from None
        else:
            source = f.url
            data = opener(f.url, timeout)
        actual = sha256_of(data)
        if actual != f.sha256:
            raise DepsError(
                f"digest mismatch for {source}: expected sha256 {f.sha256}, got {actual} "
                f"({len(data)} bytes; an error page or a moved tag?); nothing was written"
            )
        contents[f.name] = data
    target.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        _write_atomically(target / name, data)
    return target


def ensure(dep: DepSet, *, mirror: Path | None = None, cache_root: Path = CACHE_ROOT) -> Path:
    """Return a verified directory holding ``dep``: the cache if complete, else filled and verified.

    Source, first that applies: ``mirror``; the directory in ``$KRATIX_E2E_ZALANDO_MIRROR``; the shared
    upstream copy (``../shared/upstream/<dir_name>``) when it exists; the pinned URLs.

    Raises:
        DepsError: a mirror file is missing, a download failed, or a digest differs (nothing is written).
    """
    target = cache_dir(dep, cache_root)
    if not verify_dir(dep, target):
        return target
    return fetch(dep, target, mirror=mirror_for(dep, mirror))


def mirror_for(dep: DepSet, explicit: Path | None = None) -> Path | None:
    """The mirror directory to copy ``dep`` from, or None to download (see :func:`ensure`)."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(MIRROR_ENV.get(dep.key, ""), "")
    if from_env:
        return Path(from_env)
    shared = default_mirror(dep)
    return shared if shared.is_dir() else None


def _write_atomically(path: Path, data: bytes) -> None:
    # A crash mid-write must never leave a truncated file that a later verify could miss.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
