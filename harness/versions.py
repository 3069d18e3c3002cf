"""Typed view of ``versions.yaml``: every upstream version the suite depends on, read from one file.

The kind target, the platform bootstrap, ``--plan``, the nightly workflow and the report header all read
their pins through ``load_versions()``; nothing else hard-codes a version. A missing or mistyped key fails
with one line naming the file and the key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONS_FILE = REPO_ROOT / "versions.yaml"

_SHA256_HEX = frozenset("0123456789abcdef")


class VersionsError(ValueError):
    """versions.yaml is missing, unparsable, or lacks a key the suite needs."""


@dataclass(frozen=True)
class PinnedFileSet:
    """Files fetched from one base URL, each pinned by sha256 (a ``files:`` map in versions.yaml).

    Attributes:
        section: the versions.yaml key path, for messages (``kratix``).
        base_url: URL the relative paths are joined to.
        files: relative path (as in the upstream repo) -> lowercase hex sha256.
    """

    section: str
    base_url: str
    files: Mapping[str, str]

    def url_for(self, path: str) -> str:
        return f"{self.base_url.rstrip('/')}/{path.lstrip('/')}"


@dataclass(frozen=True)
class KindPins:
    node_image: str
    cli_version: str


@dataclass(frozen=True)
class KratixPins:
    commit: str
    release_manifest: str
    files: PinnedFileSet
    #: sha256 of the release manifest when pinned; None while versions.yaml points at a moving release.
    release_manifest_sha256: str | None = None


@dataclass(frozen=True)
class CertManagerPins:
    version: str
    manifest: str
    manifest_sha256: str | None = None


@dataclass(frozen=True)
class Versions:
    """All pins, as read from versions.yaml."""

    source: Path
    kind: KindPins
    kratix: KratixPins
    #: The Kratix CRDs at the same commit (what kratix.yaml installs), for the simulated platform and tests.
    kratix_crds: PinnedFileSet
    cert_manager: CertManagerPins
    flux_version: str
    minio_image: str
    zalando_version: str
    zalando_files: PinnedFileSet
    kratix_cli_version: str
    kratix_cli_release_base: str
    python_base_image: str
    raw: Mapping[str, Any]

    def header_lines(self) -> list[str]:
        """One line per pin, for the report header and ``--plan``."""
        release = self.kratix.release_manifest
        pinned = "sha256-pinned" if self.kratix.release_manifest_sha256 else "not digest-pinned"
        return [
            f"kind node image: {self.kind.node_image} (kind {self.kind.cli_version})",
            f"Kratix: {release} ({pinned}); install data at commit {self.kratix.commit}",
            f"cert-manager: {self.cert_manager.version}",
            f"Flux: {self.flux_version} (Kratix hack/destination/gitops-tk-install.yaml)",
            f"MinIO: {self.minio_image}",
            f"Zalando postgres-operator: {self.zalando_version}",
            f"Kratix CLI: {self.kratix_cli_version}",
        ]


class _Reader:
    """Walks the parsed YAML and names the full key path in every error."""

    def __init__(self, data: Mapping[str, Any], source: Path) -> None:
        self.data = data
        self.source = source

    def fail(self, key: str, problem: str) -> VersionsError:
        return VersionsError(f"{self.source}: {key}: {problem}")

    def node(self, key: str) -> Any:
        current: Any = self.data
        walked: list[str] = []
        for part in key.split("."):
            walked.append(part)
            if not isinstance(current, Mapping) or part not in current:
                raise self.fail(".".join(walked), "missing")
            current = current[part]
        return current

    def text(self, key: str) -> str:
        value = self.node(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def optional_sha(self, key: str) -> str | None:
        try:
            value = self.node(key)
        except VersionsError:
            return None
        return self.sha(key, value)

    def sha(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or len(value) != 64 or not set(value.lower()) <= _SHA256_HEX:
            raise self.fail(key, f"expected a 64-character hex sha256, got {value!r}")
        return value.lower()

    def file_set(self, section: str, base_key: str) -> PinnedFileSet:
        files = self.node(f"{section}.files")
        if not isinstance(files, Mapping) or not files:
            raise self.fail(f"{section}.files", "expected a non-empty mapping of path -> sha256")
        pinned = {str(path): self.sha(f"{section}.files.{path}", digest) for path, digest in files.items()}
        return PinnedFileSet(section=section, base_url=self.text(f"{section}.{base_key}"), files=pinned)


def parse_versions(data: Any, source: Path) -> Versions:
    """Build ``Versions`` from parsed YAML; raises ``VersionsError`` naming the file and key."""
    if not isinstance(data, Mapping):
        raise VersionsError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    r = _Reader(data, source)
    return Versions(
        source=source,
        kind=KindPins(node_image=r.text("kind.node_image"), cli_version=r.text("kind.cli_version")),
        kratix=KratixPins(
            commit=r.text("kratix.commit"),
            release_manifest=r.text("kratix.release_manifest"),
            files=r.file_set("kratix", "raw_base"),
            release_manifest_sha256=r.optional_sha("kratix.release_manifest_sha256"),
        ),
        kratix_crds=r.file_set("kratix_crds", "raw_base"),
        cert_manager=CertManagerPins(
            version=r.text("cert_manager.version"),
            manifest=r.text("cert_manager.manifest"),
            manifest_sha256=r.optional_sha("cert_manager.manifest_sha256"),
        ),
        flux_version=r.text("flux.version"),
        minio_image=r.text("minio.image"),
        zalando_version=r.text("zalando_postgres_operator.version"),
        zalando_files=r.file_set("zalando_postgres_operator", "raw_base"),
        kratix_cli_version=r.text("kratix_cli.version"),
        kratix_cli_release_base=r.text("kratix_cli.release_base"),
        python_base_image=r.text("python_base_image"),
        raw=data,
    )


def read_versions(path: Path) -> Versions:
    """Read and validate one versions file (no caching)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise VersionsError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise VersionsError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_versions(data, path)


@lru_cache(maxsize=4)
def load_versions(path: Path | None = None) -> Versions:
    """The repository's pins (cached per path). ``path`` overrides ``<repo>/versions.yaml`` (tests)."""
    return read_versions(path or VERSIONS_FILE)
