"""Fetch upstream files pinned by sha256 in versions.yaml, from a mirror directory or by URL, into a cache.

Why this exists: the suite installs Kratix exactly as upstream ships it, but never commits upstream files.
So they are fetched at run time, and a fetch must never produce a wrong file silently: an HTTP error, an
error page served with 200, or a moved tag all end in ``PinnedFetchError`` naming the URL (or mirror file),
the expected and the actual digest, and nothing is written. A set is all-or-nothing: every file is read and
verified before the first one is written.

A mirror directory holds the files by basename (CI points it at ``../shared/upstream/kratix-install``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.versions import REPO_ROOT, PinnedFileSet

CACHE_ROOT = REPO_ROOT / ".cache" / "upstream"
_USER_AGENT = "kratix-workshop-e2e (pinned-file fetcher)"

Source = Literal["cache", "mirror", "url"]


class PinnedFetchError(RuntimeError):
    """A pinned file could not be fetched or did not match its digest; nothing was written."""


@dataclass(frozen=True)
class PinnedFile:
    """One file to fetch.

    Attributes:
        path: the file's path in its upstream repository (``config/samples/minio-install.yaml``).
        url: where to download it.
        sha256: the expected digest; None for a deliberately unpinned file (recorded, not verified).
    """

    path: str
    url: str
    sha256: str | None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Fetched:
    """Where a file landed, where it came from, and its actual digest."""

    file: PinnedFile
    dest: Path
    source: Source
    sha256: str


def files_of(file_set: PinnedFileSet, only: Iterable[str] | None = None) -> list[PinnedFile]:
    """``PinnedFile``s for a versions.yaml ``files:`` section, optionally only some basenames or paths."""
    wanted = None if only is None else set(only)
    chosen = []
    for path, digest in file_set.files.items():
        basename = path.rsplit("/", 1)[-1]
        if wanted is None or path in wanted or basename in wanted:
            chosen.append(PinnedFile(path=path, url=file_set.url_for(path), sha256=digest))
    if wanted is not None:
        found = {f.path for f in chosen} | {f.name for f in chosen}
        missing = sorted(wanted - found)
        if missing:
            raise PinnedFetchError(f"{file_set.section}.files in versions.yaml has no {', '.join(missing)}")
    return chosen


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise PinnedFetchError(f"download failed: {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise PinnedFetchError(f"download failed: {url}: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise PinnedFetchError(f"download failed: {url}: {exc}") from None


def _read_source(file: PinnedFile, mirror: Path | None, timeout: float) -> tuple[bytes, Source, str]:
    """The file's bytes, where they came from, and that place named for messages."""
    if mirror is not None:
        candidate = mirror / file.name
        try:
            return candidate.read_bytes(), "mirror", str(candidate)
        except OSError as exc:
            raise PinnedFetchError(
                f"mirror file {candidate} unreadable ({exc.strerror or exc}); mirror dirs hold the pinned "
                f"files by basename"
            ) from None
    return _download(file.url, timeout), "url", file.url


def _write_atomically(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fetch_pinned(
    files: Sequence[PinnedFile],
    dest_dir: Path,
    *,
    mirror: Path | None = None,
    timeout: float = 60.0,
    refresh: bool = False,
) -> list[Fetched]:
    """Make every file present in ``dest_dir`` (by basename) with its pinned digest.

    A file already cached with the right digest is not fetched again (an unpinned one is reused unless
    ``refresh``). All files are read and verified before any is written.

    Args:
        files: what to fetch.
        dest_dir: the cache directory (created if needed).
        mirror: a directory holding the files by basename; when given, no network is used.
        timeout: seconds per download.
        refresh: re-fetch unpinned files even when cached.

    Raises:
        PinnedFetchError: a download or mirror read failed, or a digest differs. Nothing was written.
    """
    names = [f.name for f in files]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise PinnedFetchError(f"two pinned files share a basename in one cache dir: {', '.join(clashes)}")

    results: list[Fetched] = []
    pending: list[tuple[Fetched, bytes]] = []
    for file in files:
        dest = dest_dir / file.name
        if dest.is_file():
            cached = sha256_hex(dest.read_bytes())
            if (file.sha256 is not None and cached == file.sha256) or (file.sha256 is None and not refresh):
                results.append(Fetched(file, dest, "cache", cached))
                continue
        data, source, origin = _read_source(file, mirror, timeout)
        actual = sha256_hex(data)
        if file.sha256 is not None and actual != file.sha256:
            raise PinnedFetchError(
                f"sha256 mismatch for {origin}: expected {file.sha256}, got {actual} "
                f"({len(data)} bytes{_peek(data)}); nothing written"
            )
        fetched = Fetched(file, dest, source, actual)
        pending.append((fetched, data))
        results.append(fetched)
    for fetched, data in pending:
        _write_atomically(fetched.dest, data)
    return results


def _peek(data: bytes) -> str:
    """A hint of what came back instead (an HTML error page is the usual culprit)."""
    head = data[:80].decode("utf-8", errors="replace").strip().splitlines()
    return f", starts with {head[0]!r}" if head else ""
