"""``--target sim``: the simulated platform. Not real clusters, and every report says so.

Two emulated Kubernetes API servers on loopback, reached through the same kube adapter over HTTP with a
generated kubeconfig; simulated controllers (Kratix, Flux, kubelet, Zalando) on top; our pipeline code
run for real in subprocesses. The platform is bootstrapped through the API exactly as on kind
(BucketStateStore, gitops resources on the worker, Destination), with the real upstream manifests.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from harness import bootstrap, waits
from harness.images import load_image_catalog
from harness.kratix_install import ensure_kratix_crds
from harness.kube import Kube
from harness.promise_edit import images as promise_images
from harness.sim.faults import Faults
from harness.sim.platform import SimPlatform
from harness.targets.base import Clusters, Target, TargetError, TargetOptions

# Waits on the simulated platform need seconds, not minutes: a hang should fail fast.
DEFAULT_SIM_SCALE = 0.2
# Simulated delays (pods starting, operators reacting) at half the "realistic-but-fast" defaults: every
# wait still sees objects pass through their intermediate states, in half the time.
SIM_SPEED = float(os.environ.get("KRATIX_E2E_SIM_SPEED", "0.5"))
# Test hook: JSON naming what should go wrong, e.g.
# {"fail_container": [{"image": "img:tag", "exit_code": 3}], "never_ready": [{"cluster": "worker", "pod": "x-0"}],
#  "unpullable": ["img:tag"]}. Used by tests/sim/test_failures.py to break the platform on purpose.
FAULTS_ENV = "KRATIX_E2E_SIM_FAULTS"


def faults_from_env(value: str | None) -> Faults:
    """Faults described by ``$KRATIX_E2E_SIM_FAULTS`` (empty: none); malformed JSON is a TargetError."""
    faults = Faults()
    if not value:
        return faults
    try:
        spec = json.loads(value)
        for item in spec.get("fail_container", []):
            faults.fail_container(item["image"], int(item.get("exit_code", 1)),
                                  item.get("message", "simulated failure"))
        for item in spec.get("never_ready", []):
            faults.never_ready(item["cluster"], item["pod"])
        for image in spec.get("unpullable", []):
            faults.unpullable(image)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TargetError(f"${FAULTS_ENV} is not a valid fault description: {exc}") from None
    return faults


class SimTarget(Target):
    name = "sim"
    simulated = True

    def __init__(self, options: TargetOptions) -> None:
        super().__init__(options)
        self.platform: SimPlatform | None = None
        self._crds: Path | None = None
        self._faults: Faults | None = None

    def describe(self) -> str:
        return ("sim: SIMULATED platform (two emulated Kubernetes API servers on 127.0.0.1 with simulated "
                "Kratix, Flux, kubelet and Zalando controllers; pipeline code runs for real) - not real clusters")

    def preflight(self) -> None:
        try:
            self._crds = ensure_kratix_crds()
        except Exception as exc:
            raise TargetError(
                f"the simulated platform needs the pinned upstream Kratix CRDs and could not get them ({exc}); "
                f"set KRATIX_E2E_CRDS to a directory holding them or run with internet access"
            ) from None
        load_image_catalog()  # a broken images.yaml is reported before anything starts
        self._faults = faults_from_env(os.environ.get(FAULTS_ENV))

    def setup(self) -> Clusters:
        if os.environ.get("KRATIX_E2E_TIMEOUT_SCALE") is None and waits.get_scale() == 1.0:
            waits.set_scale(DEFAULT_SIM_SCALE)
        crds = self._crds or ensure_kratix_crds()
        workdir = self.options.work_dir / "sim"
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        self.platform = SimPlatform(workdir, kratix_crds=crds, faults=self._faults, speed=SIM_SPEED)
        endpoints = self.platform.start()
        platform = Kube.connect(name="platform", context=endpoints.platform_context, kubeconfig=endpoints.kubeconfig,
                                discovery_cache=workdir / "discovery-platform.json")
        worker = platform if self.options.single_cluster else Kube.connect(
            name="worker", context=endpoints.worker_context, kubeconfig=endpoints.kubeconfig,
            discovery_cache=workdir / "discovery-worker.json")
        self.clusters = Clusters(platform=platform, worker=worker, kubeconfig=endpoints.kubeconfig)
        bootstrap.register_platform(self.clusters, single_cluster=self.options.single_cluster,
                                    platform_address="sim-platform-control-plane")
        return self.clusters

    def prepare_images(self, promise: dict[str, Any]) -> None:
        # Nothing to build: the simulated kubelet runs catalog images in process. An image that is not in
        # the catalog is left to fail like an unpullable image on a real node.
        catalog = load_image_catalog()
        unknown = [i for i in promise_images(promise) if i not in catalog]
        if unknown:
            print(f"sim: images not built by this project (will fail to pull): {', '.join(unknown)}")

    def teardown(self, failed: bool) -> None:
        if self.platform is not None:
            self.platform.stop()
            self.platform = None

    def collect_extra_diagnostics(self, dest: Path) -> list[str]:
        findings: list[str] = []
        if self.platform is None:
            return findings
        sim_dest = dest / "sim"
        sim_dest.mkdir(parents=True, exist_ok=True)
        listing = sorted(self.platform.bucket.list("kratix"))
        (sim_dest / "bucket.txt").write_text("\n".join(listing) + "\n")
        if self.platform.log_file.exists():
            shutil.copy(self.platform.log_file, sim_dest / "sim.log")
        for error in self.platform.errors:
            findings.append(f"simulated controller error: {error}")
        return findings
