"""Build the pipeline images a Promise needs and ``kind load`` them into the platform cluster, skipping work.

Skips, both checked before acting:

* **build**: ``harness.images.build_image`` labels every image with a digest of its assembled build context
  and does not rebuild while the local image carries the current digest.
* **load**: the image ID on each kind node (``crictl inspecti`` inside the node container) is compared with
  the local image ID; equal means the node already has this exact image: no ``kind load``.

Kratix leaves ``imagePullPolicy`` unset, so non-``latest`` tags loaded this way are used without a pull
(kratix.md §7). Images a Promise names that no promise here declares are not ours to build: the cluster
pulls them from their registry, and the outcome says so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.images import ImageSpec, build_image, kind_load_argv, load_image_catalog, plan_build
from harness.promise_edit import images as promise_images
from harness.tools import run

BASE_IMAGE_ENV = "KRATIX_E2E_BASE_IMAGE"
NETWORK_ENV = "KRATIX_E2E_BUILD_NETWORK"
_LOAD_TIMEOUT = 600.0
_QUICK = 60.0


@dataclass(frozen=True)
class ImageOutcome:
    """What ``ImageLoader.ensure`` did for one image."""

    ref: str
    image_id: str
    built: bool
    loaded: bool

    @property
    def status(self) -> str:
        return "changed" if self.built or self.loaded else "ok"

    def __str__(self) -> str:
        build = "built" if self.built else "build skipped (sources unchanged)"
        load = "loaded" if self.loaded else "already on the nodes"
        return f"{self.status:<7} image {self.ref}: {build}, {load}"


def normalize_ref(ref: str) -> str:
    """The fully qualified name containerd stores (``kratix-workshop/x:v1`` -> ``docker.io/kratix-workshop/x:v1``)."""
    first, sep, _rest = ref.partition("/")
    has_registry = bool(sep) and ("." in first or ":" in first or first == "localhost")
    name = ref if has_registry else (f"docker.io/{ref}" if sep else f"docker.io/library/{ref}")
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        name += ":latest"
    return name


def split_by_catalog(refs: Iterable[str], catalog: Mapping[str, ImageSpec]) -> tuple[list[ImageSpec], list[str]]:
    """(specs we build, in order without repeats; refs nobody here declares)."""
    ours: list[ImageSpec] = []
    foreign: list[str] = []
    for ref in refs:
        if ref in catalog:
            if catalog[ref] not in ours:
                ours.append(catalog[ref])
        elif ref not in foreign:
            foreign.append(ref)
    return ours, foreign


class ImageLoader:
    """Builds images and loads them into one kind cluster's nodes.

    Args:
        cluster: the kind cluster name (``platform``).
        base_image: ``BASE_IMAGE`` build-arg (default ``$KRATIX_E2E_BASE_IMAGE``, else each Dockerfile's own).
        network: ``docker build --network`` (default ``$KRATIX_E2E_BUILD_NETWORK``).
    """

    def __init__(self, cluster: str = "platform", *, base_image: str | None = None, network: str | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.cluster = cluster
        self.base_image = base_image or env.get(BASE_IMAGE_ENV) or None
        self.network = network or env.get(NETWORK_ENV) or None

    # -- planning (no side effects) ------------------------------------------------------------------

    def planned_argvs(self, spec: ImageSpec) -> list[list[str]]:
        """The build and load commands ``ensure`` runs when both are needed (for ``--plan``)."""
        plan = plan_build(spec, base_image=self.base_image, network=self.network, assemble=False)
        return [plan.argv, kind_load_argv(spec.ref, self.cluster)]

    # -- queries -------------------------------------------------------------------------------------

    def local_image_id(self, ref: str) -> str | None:
        result = run(["docker", "image", "inspect", ref], timeout=_QUICK, check=False)
        if result.exit_code != 0:
            return None
        try:
            info: dict[str, Any] = json.loads(result.stdout)[0]
        except (ValueError, IndexError, KeyError):
            return None
        return str(info.get("Id") or "") or None

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

    # -- actions -------------------------------------------------------------------------------------

    def ensure(self, spec: ImageSpec) -> ImageOutcome:
        """Build ``spec`` unless its sources are unchanged, then load it where a node lacks this exact image."""
        build = build_image(spec, base_image=self.base_image, network=self.network)
        image_id = self.local_image_id(spec.ref)
        if image_id is None:
            raise RuntimeError(f"image {spec.ref} is not in the local Docker after building it")
        stale = [node for node in self.nodes() if self.node_image_id(node, spec.ref) != image_id]
        if stale:
            run(kind_load_argv(spec.ref, self.cluster), timeout=_LOAD_TIMEOUT)
        return ImageOutcome(spec.ref, image_id, built=build.built, loaded=bool(stale))

    def ensure_for_promise(self, promise: Mapping[str, Any]) -> tuple[list[ImageOutcome], list[str]]:
        """Every image of the Promise's pipelines that a promise here declares; plus the refs left to pulls."""
        specs, foreign = split_by_catalog(promise_images(promise), load_image_catalog())
        return [self.ensure(spec) for spec in specs], foreign
