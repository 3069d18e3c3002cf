"""The simulated MinIO state store: named buckets of objects, in memory.

Kratix's WorkPlacement and Destination controllers write here; the simulated Flux source-controller reads
here. A monotonically increasing ``generation`` lets readers notice changes without diffing contents.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable


class BucketMissing(LookupError):
    """The bucket does not exist (MinIO answers ``NoSuchBucket``)."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        super().__init__(f"bucket {bucket!r} does not exist (NoSuchBucket)")


class SimBucket:
    """An in-memory object store with MinIO's path semantics (keys are ``a/b/c.yaml``, no real folders).

    Args:
        buckets: bucket names that exist from the start (the sim's ``minio-create-bucket`` Job has run).
    """

    def __init__(self, buckets: Iterable[str] = ("kratix",)) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, dict[str, bytes]] = {name: {} for name in buckets}
        self.generation = 0

    def make_bucket(self, bucket: str) -> None:
        """Create a bucket (no-op when it exists), like ``mc mb --ignore-existing``."""
        with self._lock:
            self._objects.setdefault(bucket, {})

    def has_bucket(self, bucket: str) -> bool:
        with self._lock:
            return bucket in self._objects

    def put(self, bucket: str, key: str, data: bytes | str) -> None:
        """Write one object; a no-op (no new generation) when the content is unchanged."""
        payload = data.encode() if isinstance(data, str) else data
        key = _clean(key)
        with self._lock:
            store = self._store(bucket)
            if store.get(key) == payload:
                return
            store[key] = payload
            self.generation += 1

    def get(self, bucket: str, key: str) -> bytes | None:
        """One object's bytes, or None."""
        with self._lock:
            return self._store(bucket).get(_clean(key))

    def delete(self, bucket: str, key: str) -> bool:
        """Remove one object; False when it was not there."""
        with self._lock:
            removed = self._store(bucket).pop(_clean(key), None) is not None
            if removed:
                self.generation += 1
            return removed

    def delete_prefix(self, bucket: str, prefix: str) -> list[str]:
        """Remove every object under ``prefix`` (a "directory"); returns the removed keys."""
        prefix = _dir_prefix(prefix)
        with self._lock:
            store = self._store(bucket)
            gone = [k for k in store if k.startswith(prefix)]
            for key in gone:
                del store[key]
            if gone:
                self.generation += 1
            return gone

    def replace_prefix(self, bucket: str, prefix: str, files: dict[str, bytes]) -> None:
        """Make ``prefix`` hold exactly ``files`` (keys relative to the prefix), in one step."""
        base = _dir_prefix(prefix)
        wanted = {_clean(base + rel): data for rel, data in files.items()}
        with self._lock:
            store = self._store(bucket)
            current = {k: v for k, v in store.items() if k.startswith(base)}
            if current == wanted:
                return
            for key in current:
                del store[key]
            store.update(wanted)
            self.generation += 1

    def list(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Objects under ``prefix`` (recursive), keyed by full key, sorted."""
        start = _dir_prefix(prefix) if prefix else ""
        with self._lock:
            store = self._store(bucket)
            return {k: store[k] for k in sorted(store) if k.startswith(start)}

    def revision(self, bucket: str, prefix: str = "") -> str:
        """A content digest of everything under ``prefix``: Flux's ``sha256:<hex>`` artifact revision."""
        digest = hashlib.sha256()
        for key, data in self.list(bucket, prefix).items():
            digest.update(key.encode())
            digest.update(b"\0")
            digest.update(data)
            digest.update(b"\0")
        return f"sha256:{digest.hexdigest()}"

    def _store(self, bucket: str) -> dict[str, bytes]:
        try:
            return self._objects[bucket]
        except KeyError:
            raise BucketMissing(bucket) from None


def _clean(key: str) -> str:
    parts = [p for p in key.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts)


def _dir_prefix(prefix: str) -> str:
    cleaned = _clean(prefix)
    return f"{cleaned}/" if cleaned else ""
