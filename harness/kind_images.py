"""Build the pipeline images a promise needs and ``kind load`` them into the platform cluster, skipping work.

Skips, both checked before acting:

* **build**: every image is built with a label holding a digest of its build context (files, Dockerfile,
  build args). When the local image already carries the current digest, nothing changed: no build.
* **load**: the image ID on each kind node (``crictl inspecti`` inside the node container) is compared with
  the local image ID; equal means the node has this exact image: no ``kind load``.

Kratix leaves ``imagePullPolicy`` unset, so non-``latest`` tags loaded this way are used without a pull
(kratix.md §7).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness.tools import run

CONTEXT_LABEL = "io.kratix-workshop-e2e.context-digest"
BASE_IMAGE_ENV = "KRATIX_E2E_BASE_IMAGE"
_BUILD_TIMEOUT = 900.0
_LOAD_TIMEOUT = 600.0
_QUICK = 60.0


class ImageSpecLike(Protocol):
    """What is needed of ``harness.images.ImageSpec`` (the per-promise image catalog)."""

    @property
    def ref(self) -> str: ...

    @property
    def context(self) -> Path: ...

    @property
    def dockerfile(self) -> Path: ...


@dataclass(frozen=True)
class ImageOutcome:
    """What ``ensure`` did for one image."""

    ref: str
    image_id: str
    built: bool
    loaded: bool

    @property
    def status(self) -> str:
        return "changed" if self.built or self.loaded else "ok"

    def __str__(self) -> str:
        build = "built" if self.built else "build skipped (context unchanged)"
        load = "loaded" if self.loaded else "already on the nodes"
        return f"{self.status:<7} image {self.ref}: {build}, {load}"


def default_build_args(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``BASE_IMAGE`` from ``$KRATIX_E2E_BASE_IMAGE`` when set (a local base image, e.g. in CI)."""
    env = os.environ if env is None else env
    base = env.get(BASE_IMAGE_ENV, "").strip()
    return {"BASE_IMAGE": base} if base else {}


def context_digest(spec: ImageSpecLike, build_args: Mapping[str, str]) -> str:
    """sha256 over the build context's files (paths and bytes), the Dockerfile and the build args."""
    digest = hashlib.sha256()
    root = spec.context
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(b"dockerfile\0" + spec.dockerfile.read_bytes())
    for key in sorted(build_args):
        digest.update(f"arg\0{key}={build_args[key]}\0".encode())
    return digest.hexdigest()


def normalize_ref(ref: str) -> str:
    """The fully qualified name containerd stores (``kratix-workshop/x:v1`` -> ``docker.io/kratix-workshop/x:v1``)."""
    name = ref
    first, sep, _rest = name.partition("/")
    has_registry = bool(sep) and ("." in first or ":" in first or first == "localhost")
    if not has_registry:
        name = f"docker.io/{name}" if sep else f"docker.io/library/{name}"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        name += ":latest"
    return name


class ImageLoader:
    """Builds and loads images into one kind cluster's nodes.

    Args:
        cluster: the kind cluster name (``platform``).
        build_args: ``--build-arg`` values (default: ``default_build_args()``).
    """

    def __init__(self, cluster: str = "platform", *, build_args: Mapping[str, str] | None = None) -> None:
        self.cluster = cluster
        self.build_args = dict(default_build_args() if build_args is None else build_args)

    # argv builders (shared with --plan)

    def build_argv(self, spec: ImageSpecLike, digest: str = "<context digest>") -> list[str]:
        argv = ["docker", "build", "--tag", spec.ref, "--file", str(spec.dockerfile),
                "--label", f"{CONTEXT_LABEL}={digest}"]
        for key in sorted(self.build_args):
            argv += ["--build-arg", f"{key}={self.build_args[key]}"]
        return [*argv, str(spec.context)]

    def load_argv(self, ref: str) -> list[str]:
        return ["kind", "load", "docker-image", ref, "--name", self.cluster]

    # queries

    def local_image(self, ref: str) -> tuple[str, str] | None:
        """(image ID, context-digest label) of the local image, or None when it does not exist."""
        result = run(["docker", "image", "inspect", ref], timeout=_QUICK, check=False)
        if result.exit_code != 0:
            return None
        try:
            info = json.loads(result.stdout)[0]
        except (ValueError, IndexError, KeyError):
            return None
        labels = (info.get("Config") or {}).get("Labels") or {}
        return str(info.get("Id", "")), str(labels.get(CONTEXT_LABEL, ""))

    def nodes(self) -> list[str]:
        result = run(["kind", "get", "nodes", "--name", self.cluster], timeout=_QUICK)
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def node_image_id(self, node: str, ref: str) -> str | None:
        """The image ID the node's containerd has for ``ref`` (None: absent)."""
        result = run(["docker", "exec", node, "crictl", "inspecti", "-o", "json", normalize_ref(ref)],
                     timeout=_QUICK, check=False)
        if result.exit_code != 0:
            return None
        try:
            return str(json.loads(result.stdout)["status"]["id"])
        except (ValueError, KeyError, TypeError):
            return None

    # actions

    def ensure(self, spec: ImageSpecLike) -> ImageOutcome:
        """Build ``spec`` unless unchanged, then load it into every node lacking this exact image."""
        digest = context_digest(spec, self.build_args)
        local = self.local_image(spec.ref)
        built = False
        if local is None or local[1] != digest:
            run(self.build_argv(spec, digest), timeout=_BUILD_TIMEOUT)
            local = self.local_image(spec.ref)
            built = True
            if local is None:
                raise RuntimeError(f"docker build reported success but image {spec.ref} is not there")
        image_id = local[0]
        stale = [node for node in self.nodes() if self.node_image_id(node, spec.ref) != image_id]
        if stale:
            run(self.load_argv(spec.ref), timeout=_LOAD_TIMEOUT)
        return ImageOutcome(spec.ref, image_id, built=built, loaded=bool(stale))

    def ensure_all(self, specs: Iterable[ImageSpecLike]) -> list[ImageOutcome]:
        return [self.ensure(spec) for spec in specs]
