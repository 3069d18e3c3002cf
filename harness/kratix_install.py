"""Kratix's own install data at the pinned commit, and the objects rendered from it as its scripts do.

Upstream ships the kind configs, the MinIO install, the BucketStateStore and Destination samples and the
Flux ("gitops toolkit") install and resources. ``scripts/quick-start.sh``, ``scripts/register-destination``
and ``scripts/install-gitops`` apply them with a few rewrites (yq/sed). This module fetches those files
(``harness.pinned``, digests from versions.yaml) and performs the same rewrites on parsed objects, so the
result can be validated against the real CRDs and shown by ``--plan`` before anything runs.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.manifests import load_yaml_documents
from harness.pinned import CACHE_ROOT, fetch_pinned, files_of
from harness.versions import REPO_ROOT, Versions, load_versions

Obj = dict[str, Any]

# Where CI (and anyone with a local copy) keeps the pinned files by basename; no network when set.
MIRROR_ENV = "KRATIX_E2E_KRATIX_MIRROR"
CRDS_MIRROR_ENV = "KRATIX_E2E_CRDS"

# Kustomization names upstream ships; install-gitops renames them per destination context.
UPSTREAM_FLUX_PREFIX = "kratix-workload-"
UPSTREAM_DESTINATION_PATH = "worker-1"

FLUX_SOURCE_API = "source.toolkit.fluxcd.io/v1beta2"
FLUX_KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
KRATIX_API = "platform.kratix.io/v1alpha1"


class InstallDataError(ValueError):
    """An upstream install file does not have the shape the rewrites expect (upstream changed)."""


@dataclass(frozen=True)
class InstallFiles:
    """Local paths of the pinned Kratix install files (all fetched and digest-checked)."""

    directory: Path
    minio_install: Path
    bucket_state_store: Path
    destination_sample: Path
    kind_platform_config: Path
    kind_worker_config: Path
    gitops_install: Path
    gitops_resources: Path
    gitops_resources_single_cluster: Path

    @classmethod
    def in_directory(cls, directory: Path) -> InstallFiles:
        return cls(
            directory=directory,
            minio_install=directory / "minio-install.yaml",
            bucket_state_store=directory / "platform_v1alpha1_bucketstatestore.yaml",
            destination_sample=directory / "platform_v1alpha1_worker.yaml",
            kind_platform_config=directory / "kind-platform-config.yaml",
            kind_worker_config=directory / "kind-worker-config.yaml",
            gitops_install=directory / "gitops-tk-install.yaml",
            gitops_resources=directory / "gitops-tk-resources.yaml",
            gitops_resources_single_cluster=directory / "gitops-tk-resources-single-cluster.yaml",
        )


# The project's read-only shared data next to the repository (CI and development machines); digests are
# verified all the same, so using it is never less safe than downloading.
SHARED_UPSTREAM = REPO_ROOT.parent / "shared" / "upstream"


def _mirror(env_name: str, shared_subdir: str) -> Path | None:
    value = os.environ.get(env_name, "").strip()
    if value:
        return Path(value)
    shared = SHARED_UPSTREAM / shared_subdir
    return shared if shared.is_dir() else None


def default_mirror() -> Path | None:
    """``$KRATIX_E2E_KRATIX_MIRROR``, else ``../shared/upstream/kratix-install`` when present, else None
    (download from GitHub)."""
    return _mirror(MIRROR_ENV, "kratix-install")


def install_cache_dir(versions: Versions) -> Path:
    return CACHE_ROOT / f"kratix-{versions.kratix.commit}"


def ensure_install_files(
    versions: Versions, *, cache_dir: Path | None = None, mirror: Path | None = None, timeout: float = 60.0
) -> InstallFiles:
    """Fetch (or reuse from the cache) every pinned Kratix install file; see ``harness.pinned``."""
    directory = cache_dir or install_cache_dir(versions)
    fetch_pinned(files_of(versions.kratix.files), directory, mirror=mirror or default_mirror(), timeout=timeout)
    return InstallFiles.in_directory(directory)


def crds_cache_dir(versions: Versions | None = None) -> Path:
    """Where ``ensure_kratix_crds`` keeps the CRDs (one directory per pinned commit)."""
    versions = versions or load_versions()
    return CACHE_ROOT / f"kratix-crds-{versions.kratix.commit}"


def ensure_kratix_crds(
    versions: Versions | None = None, *, cache_dir: Path | None = None, mirror: Path | None = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch (or reuse) the pinned Kratix CRDs; returns their directory (``platform.kratix.io_<plural>.yaml``).

    The mirror defaults to ``$KRATIX_E2E_CRDS``, else ``../shared/upstream/kratix-crds`` when present; digests
    are checked either way.
    """
    versions = versions or load_versions()
    directory = cache_dir or crds_cache_dir(versions)
    fetch_pinned(files_of(versions.kratix_crds), directory, mirror=mirror or _mirror(CRDS_MIRROR_ENV, "kratix-crds"),
                 timeout=timeout)
    return directory


def planned_install_urls(versions: Versions) -> list[str]:
    """Every URL ``ensure_install_files`` may download, in order (for ``--plan``)."""
    return [f.url for f in files_of(versions.kratix.files)]


# -- kind configs --------------------------------------------------------------------------------------


def kind_host_ports(config_path: Path) -> list[int]:
    """Host ports a kind config maps (``extraPortMappings[].hostPort`` of every node)."""
    ports: list[int] = []
    for doc in load_yaml_documents(config_path):
        for node in doc.get("nodes") or []:
            for mapping in node.get("extraPortMappings") or []:
                if "hostPort" in mapping:
                    ports.append(int(mapping["hostPort"]))
    return ports


# -- MinIO ---------------------------------------------------------------------------------------------


def minio_node_port(files: InstallFiles) -> int:
    """The NodePort MinIO is exposed on (the worker's Flux reaches the platform through it)."""
    for doc in load_yaml_documents(files.minio_install):
        if doc.get("kind") == "Service" and doc.get("metadata", {}).get("name") == "minio":
            for port in doc.get("spec", {}).get("ports") or []:
                if "nodePort" in port:
                    return int(port["nodePort"])
    raise InstallDataError(f"{files.minio_install}: no Service 'minio' with a nodePort")


def bucket_endpoint(platform_address: str, files: InstallFiles) -> str:
    """``<platform node address>:<MinIO NodePort>``, as install-gitops writes into the Flux Bucket."""
    return f"{platform_address}:{minio_node_port(files)}"


# -- Kratix objects ------------------------------------------------------------------------------------


def _single(path: Path, kind: str) -> Obj:
    docs = [d for d in load_yaml_documents(path) if d.get("kind") == kind]
    if len(docs) != 1:
        raise InstallDataError(f"{path}: expected exactly one {kind}, found {len(docs)}")
    return copy.deepcopy(docs[0])


def render_bucket_state_store(files: InstallFiles) -> Obj:
    """BucketStateStore ``default`` exactly as upstream's sample (quick-start applies it unchanged)."""
    return _single(files.bucket_state_store, "BucketStateStore")


def render_destination(
    files: InstallFiles,
    *,
    name: str,
    labels: Mapping[str, str],
    path: str | None = None,
    state_store: str = "default",
    state_store_kind: str = "BucketStateStore",
    strict_match_labels: bool | None = None,
) -> Obj:
    """A Destination from upstream's sample, patched as ``scripts/register-destination`` does.

    Name, ``spec.path`` (default: the name) and ``stateStoreRef`` are set; the labels are exactly
    ``labels`` (register-destination labels after applying; a platform destination carries none).
    """
    dest = _single(files.destination_sample, "Destination")
    meta = dest.setdefault("metadata", {})
    meta["name"] = name
    if labels:
        meta["labels"] = dict(labels)
    else:
        meta.pop("labels", None)
    spec = dest.setdefault("spec", {})
    spec["path"] = path or name
    spec["stateStoreRef"] = {"name": state_store, "kind": state_store_kind}
    if strict_match_labels is not None:
        spec["strictMatchLabels"] = strict_match_labels
    return dest


def flux_prefix_for_context(context: str) -> str:
    """install-gitops names Kustomizations ``kratix-<2nd dash field of the context>-*`` (kind-worker -> worker)."""
    fields = context.split("-")
    return fields[1] if len(fields) > 1 and fields[1] else context


def render_gitops_resources(
    files: InstallFiles,
    *,
    path: str,
    flux_prefix: str,
    endpoint: str | None,
    single_cluster: bool = False,
) -> list[Obj]:
    """The Flux Bucket, Secret and Kustomizations for one destination, rewritten as install-gitops does.

    Args:
        path: the destination's path in the bucket (``./worker-1/...`` becomes ``./<path>/...``).
        flux_prefix: replaces ``workload`` in ``kratix-workload-*`` names and ``dependsOn`` references.
        endpoint: the MinIO endpoint the worker reaches (``<platform node IP>:31337``); None keeps the file's.
        single_cluster: use upstream's single-cluster variant (in-cluster MinIO Service endpoint).
    """
    source = files.gitops_resources_single_cluster if single_cluster else files.gitops_resources
    docs = copy.deepcopy(load_yaml_documents(source))
    kinds = sorted(d.get("kind", "?") for d in docs)
    if kinds != ["Bucket", "Kustomization", "Kustomization", "Secret"]:
        raise InstallDataError(f"{source}: expected a Bucket, a Secret and two Kustomizations, found {kinds}")
    new_prefix = f"kratix-{flux_prefix}-"
    for doc in docs:
        meta = doc["metadata"]
        meta["name"] = _renamed(meta["name"], new_prefix)
        spec = doc.get("spec") or {}
        if doc["kind"] == "Bucket" and endpoint is not None:
            spec["endpoint"] = endpoint
        if doc["kind"] == "Kustomization":
            spec["path"] = _repathed(str(spec.get("path", "")), path, source)
            for dep in spec.get("dependsOn") or []:
                dep["name"] = _renamed(dep["name"], new_prefix)
    return docs


def _renamed(name: str, new_prefix: str) -> str:
    return new_prefix + name[len(UPSTREAM_FLUX_PREFIX):] if name.startswith(UPSTREAM_FLUX_PREFIX) else name


def _repathed(flux_path: str, path: str, source: Path) -> str:
    prefix = f"./{UPSTREAM_DESTINATION_PATH}/"
    if not flux_path.startswith(prefix):
        raise InstallDataError(f"{source}: Kustomization path {flux_path!r} does not start with {prefix!r}")
    return f"./{path.strip('/')}/{flux_path[len(prefix):]}"
