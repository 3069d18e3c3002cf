"""The pipeline images each promise builds, declared once in ``promises/<promise>/images.yaml``.

The same declaration drives ``scripts/build-images`` (docker build), the in-process runner
(:mod:`harness.pipeline_local`) and the consistency test that checks every ``promise.yaml`` names only
declared images. Format::

    images:
      - ref: kratix-workshop/postgresql-configure-pipeline:v0.1.0
        context: workflows/resource/configure/instance-configure/postgresql-configure-pipeline
        local_command: [python, scripts/pipeline.py]     # cwd = context
        resources: zalando_postgres_operator             # optional: versions.yaml dependency set
    uses:                                                # optional: images declared by another promise
      - kratix-workshop/postgresql-dependencies:v2.0.1
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.deps import DEP_SETS, ensure, load_dep_set
from harness.manifests import ManifestError, load_yaml_document
from harness.promise_edit import ACTIONS, pipelines
from harness.tools import run

REPO_ROOT = Path(__file__).resolve().parent.parent
PROMISES_ROOT = REPO_ROOT / "promises"
MANIFEST_NAME = "images.yaml"

# name:tag with a lowercase repository path; digests are not used for locally built images.
_LOCAL_REF = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*:[\w][\w.-]{0,127}$")


class ImageNotFound(LookupError):
    """No promise declares this image (a real kubelet would report ErrImagePull / ImagePullBackOff)."""

    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"image {ref!r} is not declared in any promises/*/{MANIFEST_NAME}")


@dataclass(frozen=True)
class ImageSpec:
    """One buildable pipeline image."""

    ref: str
    promise: str
    context: Path
    dockerfile: Path
    local_command: tuple[str, ...]
    resources: str | None = None

    @property
    def name(self) -> str:
        """Repository part of the reference (``kratix-workshop/security-scanner``)."""
        return self.ref.rsplit(":", 1)[0]

    @property
    def tag(self) -> str:
        """Tag part of the reference (``v0.1.0``)."""
        return self.ref.rsplit(":", 1)[1]


@dataclass(frozen=True)
class PipelineContainer:
    """One container of a Promise's workflow pipelines."""

    workflow: str  # promise | resource
    action: str  # configure | delete
    pipeline: str
    name: str
    image: str
    spec: Mapping[str, Any]


def load_image_catalog(root: Path | None = None) -> dict[str, ImageSpec]:
    """Every image declared under ``root`` (default ``<repo>/promises``), keyed by reference.

    Raises:
        ManifestError: a manifest does not parse, misses a field, names a missing context or Dockerfile,
            declares a reference twice, or ``uses`` a reference no promise declares.
    """
    base = root if root is not None else PROMISES_ROOT
    catalog: dict[str, ImageSpec] = {}
    uses: list[tuple[Path, str]] = []
    for manifest in sorted(base.glob(f"*/{MANIFEST_NAME}")):
        specs, used = _read_manifest(manifest)
        for spec in specs:
            if spec.ref in catalog:
                raise ManifestError(
                    f"{manifest}: image {spec.ref} is already declared by promise {catalog[spec.ref].promise}"
                )
            catalog[spec.ref] = spec
        uses.extend((manifest, ref) for ref in used)
    for manifest, ref in uses:
        if ref not in catalog:
            raise ManifestError(f"{manifest}: uses image {ref}, which no promise declares")
    return catalog


def images_for_promise(promise_dir: str, root: Path | None = None) -> list[ImageSpec]:
    """The images a promise needs: those it declares, then those it ``uses`` from other promises."""
    base = root if root is not None else PROMISES_ROOT
    manifest = base / promise_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise ManifestError(f"{manifest}: no such file (is {promise_dir!r} a promise directory?)")
    catalog = load_image_catalog(base)
    own, used = _read_manifest(manifest)
    return [*own, *(catalog[ref] for ref in used)]


def find_image(ref: str, root: Path | None = None) -> ImageSpec:
    """The declaration of ``ref``; raises :class:`ImageNotFound` when no promise declares it."""
    spec = load_image_catalog(root).get(ref)
    if spec is None:
        raise ImageNotFound(ref)
    return spec


def pipeline_containers(promise: Mapping[str, Any]) -> Iterator[PipelineContainer]:
    """Every container of every pipeline in a Promise document, in workflow order."""
    for workflow in ("promise", "resource"):
        for action in ACTIONS:
            for pipeline in pipelines(promise, workflow, action):
                name = (pipeline.get("metadata") or {}).get("name", "")
                for container in (pipeline.get("spec") or {}).get("containers") or []:
                    yield PipelineContainer(
                        workflow=workflow,
                        action=action,
                        pipeline=str(name),
                        name=str(container.get("name", "")),
                        image=str(container.get("image", "")),
                        spec=container,
                    )


def _read_manifest(manifest: Path) -> tuple[list[ImageSpec], list[str]]:
    doc = load_yaml_document(manifest)
    promise = manifest.parent.name
    entries = doc.get("images") or []
    if not isinstance(entries, list):
        raise ManifestError(f"{manifest}: 'images' must be a list")
    specs = [_read_entry(manifest, promise, index, entry) for index, entry in enumerate(entries)]
    used = doc.get("uses") or []
    if not isinstance(used, list) or not all(isinstance(u, str) for u in used):
        raise ManifestError(f"{manifest}: 'uses' must be a list of image references")
    return specs, list(used)


def _read_entry(manifest: Path, promise: str, index: int, entry: Any) -> ImageSpec:
    where = f"{manifest}: images[{index}]"
    if not isinstance(entry, dict):
        raise ManifestError(f"{where} must be a mapping")
    for key in ("ref", "context", "local_command"):
        if key not in entry:
            raise ManifestError(f"{where}.{key} is missing")
    ref = str(entry["ref"])
    if not _LOCAL_REF.match(ref):
        raise ManifestError(f"{where}.ref {ref!r} is not a lowercase name:tag image reference")
    context = (manifest.parent / str(entry["context"])).resolve()
    if not context.is_dir():
        raise ManifestError(f"{where}.context {entry['context']!r} is not a directory ({context})")
    dockerfile = context / str(entry.get("dockerfile", "Dockerfile"))
    if not dockerfile.is_file():
        raise ManifestError(f"{where}: no Dockerfile at {dockerfile}")
    command = entry["local_command"]
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise ManifestError(f"{where}.local_command must be a non-empty list of strings")
    resources = entry.get("resources")
    if resources is not None and resources not in DEP_SETS:
        raise ManifestError(f"{where}.resources {resources!r} is not one of {', '.join(sorted(DEP_SETS))}")
    return ImageSpec(
        ref=ref,
        promise=promise,
        context=context,
        dockerfile=dockerfile,
        local_command=tuple(command),
        resources=resources,
    )


# --- building ------------------------------------------------------------------------------------------

BUILD_ROOT = REPO_ROOT / ".cache" / "build"
# Image label holding the digest of the build inputs; an image whose label matches is not rebuilt.
SOURCE_LABEL = "io.kratix-workshop.source-sha256"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


@dataclass(frozen=True)
class BuildPlan:
    """What building one image takes: the assembled context, its digest and the docker argv."""

    spec: ImageSpec
    context: Path
    source_digest: str
    argv: list[str]


@dataclass(frozen=True)
class BuildOutcome:
    """One image after :func:`build_image`: built (or already up to date), and how long that took."""

    ref: str
    built: bool
    duration: float
    argv: list[str]


def default_base_image(spec: ImageSpec) -> str | None:
    """The ``ARG BASE_IMAGE=...`` default of the image's Dockerfile (None when it has none)."""
    for line in spec.dockerfile.read_text().splitlines():
        match = re.match(r"^\s*ARG\s+BASE_IMAGE=(\S+)", line)
        if match:
            return match.group(1)
    return None


def build_context_dir(spec: ImageSpec, build_root: Path = BUILD_ROOT) -> Path:
    """Where :func:`assemble_context` puts the build context of ``spec``."""
    return build_root / spec.ref.replace("/", "_").replace(":", "_")


def assemble_context(spec: ImageSpec, *, build_root: Path = BUILD_ROOT) -> Path:
    """Copy the image's build context to ``build_root`` and add its dependency files under ``resources/``.

    Fetched upstream files never live in the repository, so the context docker sees is assembled here
    (from the verified cache, see :func:`harness.deps.ensure`).
    """
    dest = build_context_dir(spec, build_root)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(spec.context, dest, ignore=_IGNORED)
    if spec.resources is not None:
        source = ensure(load_dep_set(spec.resources))
        resources = dest / "resources"
        resources.mkdir(exist_ok=True)
        for path in sorted(source.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                shutil.copy2(path, resources / path.name)
    return dest


def directory_digest(directory: Path, *extra: str) -> str:
    """sha256 over every file's relative path, executable bit and bytes (plus ``extra`` strings)."""
    digest = hashlib.sha256()
    for value in extra:
        digest.update(value.encode() + b"\0")
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(b"x" if os.access(path, os.X_OK) else b"-")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def plan_build(
    spec: ImageSpec,
    *,
    base_image: str | None = None,
    network: str | None = None,
    build_root: Path = BUILD_ROOT,
    assemble: bool = True,
) -> BuildPlan:
    """The build of one image. With ``assemble=False`` (dry runs) nothing is copied or fetched."""
    if assemble:
        context = assemble_context(spec, build_root=build_root)
        source_digest = directory_digest(context, f"base={base_image or ''}")
    else:
        context, source_digest = build_context_dir(spec, build_root), "<not computed>"
    argv = ["docker", "build", "--tag", spec.ref, "--label", f"{SOURCE_LABEL}={source_digest}"]
    argv += ["--file", str(context / spec.dockerfile.relative_to(spec.context))]
    if base_image:
        argv += ["--build-arg", f"BASE_IMAGE={base_image}"]
    if network:
        argv += ["--network", network]
    argv.append(str(context))
    return BuildPlan(spec=spec, context=context, source_digest=source_digest, argv=argv)


def built_digest(ref: str) -> str | None:
    """The source digest label of the local image ``ref``; None when the image is absent or unlabelled."""
    result = run(
        ["docker", "image", "inspect", "--format", f'{{{{ index .Config.Labels "{SOURCE_LABEL}" }}}}', ref],
        timeout=60,
        check=False,
    )
    label = result.stdout.strip()
    return label if result.exit_code == 0 and label and label != "<no value>" else None


def build_image(
    spec: ImageSpec,
    *,
    base_image: str | None = None,
    network: str | None = None,
    force: bool = False,
    timeout: float = 1800.0,
    on_line: Callable[[str], None] | None = None,
) -> BuildOutcome:
    """Build one image with docker unless a local image with the same source digest exists.

    Raises:
        harness.tools.ToolError: docker build failed (message has the command and stderr).
        harness.tools.ToolNotFound: docker is not installed.
    """
    plan = plan_build(spec, base_image=base_image, network=network)
    if not force and built_digest(spec.ref) == plan.source_digest:
        return BuildOutcome(ref=spec.ref, built=False, duration=0.0, argv=plan.argv)
    result = run(plan.argv, timeout=timeout, on_line=on_line)
    return BuildOutcome(ref=spec.ref, built=True, duration=result.duration, argv=plan.argv)


def kind_load_argv(ref: str, cluster: str) -> list[str]:
    """The command that copies a local image into the nodes of kind cluster ``cluster``."""
    return ["kind", "load", "docker-image", ref, "--name", cluster]
