"""The simulated platform: two emulated API servers (platform + worker), the sim MinIO and the controllers.

    sim = SimPlatform(workdir, kratix_crds=Path("../shared/upstream/kratix-crds"))
    endpoints = sim.start()        # kubeconfig with contexts sim-platform / sim-worker
    ...                            # the harness talks to both clusters over HTTP, as to real ones
    sim.stop()

After ``start()`` the clusters look as after Kratix's quick-start steps 1-2 (Kratix, MinIO and Flux
installed and Available). Everything after that — state store, Destination, Flux sources, Promises,
requests — goes through the API and is reconciled by the simulated controllers: Kratix
(:mod:`harness.sim.kratix`), Flux (:mod:`harness.sim.flux`), workload controllers and kubelet
(:mod:`harness.sim.kubelet`) on both clusters and the Zalando postgres-operator
(:mod:`harness.sim.zalando`) on the worker. Faults for failure tests: :attr:`SimPlatform.faults`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.kube import Kube
from harness.sim.apiserver import SimApiServer, write_kubeconfig
from harness.sim.bucket import SimBucket
from harness.sim.ctl_base import Controller, Informer, SimContext
from harness.sim.ctl_bootstrap import BootstrapError, apply_all, load_kratix_crds, platform_objects, worker_objects
from harness.sim.faults import Faults
from harness.sim.flux import Flux
from harness.sim.kratix import KratixController
from harness.sim.kubelet import Kubelet
from harness.sim.zalando import ZalandoOperator

__all__ = ["BootstrapError", "SimEndpoints", "SimPlatform"]

PLATFORM_CONTEXT = "sim-platform"
WORKER_CONTEXT = "sim-worker"
_STOP_JOIN = 2.0  # seconds per thread at stop(); threads are daemons, so a slow one never hangs the run


class _ManagerLogMirror(logging.Handler):
    """Copies the simulated Kratix's log lines into the manager pod's log, in controller-runtime's JSON style,
    so ``kubectl logs -l app.kubernetes.io/instance=kratix-platform`` shows what the controller did."""

    THREADS = ("ctl-kratix", "sim-pipeline")
    NAMESPACE = "kratix-platform-system"

    def __init__(self, api: SimApiServer, kube: Kube) -> None:
        super().__init__(logging.INFO)
        self.api = api
        self.kube = kube
        self._pod = ""
        self._looked = 0.0

    def _pod_name(self) -> str:
        if not self._pod and time.monotonic() - self._looked > 1.0:
            self._looked = time.monotonic()
            pods = self.kube.list("v1", "Pod", self.NAMESPACE, labels={"control-plane": "controller-manager"})
            self._pod = str(pods[0]["metadata"]["name"]) if pods else ""
        return self._pod

    def emit(self, record: logging.LogRecord) -> None:
        if not (record.threadName or "").startswith(self.THREADS):
            return
        try:
            pod = self._pod_name()
            if pod:
                line = json.dumps({"level": record.levelname.lower(),
                                   "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
                                   "logger": record.threadName, "msg": record.getMessage()})
                self.api.append_pod_log(self.NAMESPACE, pod, "manager", line + "\n")
        except Exception:  # a log line must never break a controller
            self.handleError(record)


@dataclass(frozen=True)
class SimEndpoints:
    """How to reach the simulated clusters."""

    kubeconfig: Path
    platform_context: str = PLATFORM_CONTEXT
    worker_context: str = WORKER_CONTEXT


class SimPlatform:
    """Two emulated clusters with simulated Kratix, Flux, kubelets and Zalando operator.

    Args:
        workdir: where the kubeconfig, the sim log (``sim.log``) and pipeline run directories go.
        kratix_crds: directory with the 11 Kratix CRDs (``platform.kratix.io_*.yaml``).
        speed: factor on every simulated delay (1.0 = realistic-but-fast; smaller is faster).
        faults: fault injection shared with tests (a fresh one when None).
    """

    def __init__(self, workdir: Path, *, kratix_crds: Path, speed: float = 1.0, faults: Faults | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"SimPlatform speed must be positive, got {speed}")
        self.workdir = Path(workdir)
        self.kratix_crds = Path(kratix_crds)
        self.speed = speed
        self.faults = faults if faults is not None else Faults()
        self.bucket = SimBucket(("kratix",))
        self.platform_api = SimApiServer("platform")
        self.worker_api = SimApiServer("worker")
        self.log = logging.getLogger(f"harness.sim.platform.{id(self):x}")
        self.ctx = SimContext(speed=speed, faults=self.faults, bucket=self.bucket, log=self.log)
        self.endpoints: SimEndpoints | None = None
        self.platform: Kube | None = None
        self.worker: Kube | None = None
        self._controllers: list[Controller] = []
        self._informers: list[Informer] = []
        self._kratix: KratixController | None = None
        self._log_handlers: list[logging.Handler] = []
        self._started = False
        self._lock = threading.Lock()

    @property
    def errors(self) -> list[str]:
        """Unexpected controller errors so far (one entry per distinct error); empty in a healthy run."""
        return list(self.ctx.errors)

    @property
    def log_file(self) -> Path:
        return self.workdir / "sim.log"

    def start(self) -> SimEndpoints:
        """Start both API servers, install the quick-start state and start every controller.

        Raises:
            BootstrapError: the Kratix CRDs are missing or invalid, or an object was refused.
        """
        with self._lock:
            if self._started:
                raise RuntimeError("SimPlatform.start() called twice")
            crds = load_kratix_crds(self.kratix_crds)  # fail before starting anything
            self._started = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._setup_log()
        began = time.monotonic()
        self.platform_api.start()
        self.worker_api.start()
        kubeconfig = self.workdir / "kubeconfig"
        write_kubeconfig(kubeconfig, {PLATFORM_CONTEXT: self.platform_api.url, WORKER_CONTEXT: self.worker_api.url})
        cache = self.workdir / "discovery"
        cache.mkdir(exist_ok=True)

        def connect(name: str, context: str, user: str) -> Kube:
            return Kube.connect(name=name, context=context, kubeconfig=kubeconfig,
                                discovery_cache=cache / f"{name}-{user}.json")

        self.platform = connect("platform", PLATFORM_CONTEXT, "sim")
        self.worker = connect("worker", WORKER_CONTEXT, "sim")
        self._add_log_handler(_ManagerLogMirror(self.platform_api, connect("platform", PLATFORM_CONTEXT, "logs")))
        apply_all(self.platform, platform_objects(crds))
        apply_all(self.worker, worker_objects())
        platform_ctl = connect("platform", PLATFORM_CONTEXT, "controllers")
        worker_ctl = connect("worker", WORKER_CONTEXT, "controllers")
        kubelets = [Kubelet(self.ctx, platform_ctl, "platform"), Kubelet(self.ctx, worker_ctl, "worker")]
        flux = Flux(self.ctx, connect("worker", WORKER_CONTEXT, "flux"))
        zalando = ZalandoOperator(self.ctx, connect("worker", WORKER_CONTEXT, "zalando"))
        self._kratix = KratixController(self.ctx, connect("platform", PLATFORM_CONTEXT, "kratix"),
                                        set_log=self.platform_api.set_pod_log, workdir=self.workdir)
        for controller in (*kubelets, flux, zalando):
            self._informers.extend(controller.informers)
            self._controllers.append(controller)
        for informer in self._informers:
            informer.start()
        for controller in self._controllers:
            controller.start()
        self._kratix.start()
        self.endpoints = SimEndpoints(kubeconfig=kubeconfig)
        self.log.info("sim platform started in %.2fs: platform %s, worker %s (speed %.2f)",
                      time.monotonic() - began, self.platform_api.url, self.worker_api.url, self.speed)
        return self.endpoints

    def stop(self) -> None:
        """Stop controllers, informers and both API servers. Safe to call twice; never blocks for long."""
        self.ctx.stopping.set()
        if self._kratix is not None:
            self._kratix.stop()
        for informer in self._informers:
            informer.stop()
        for server in (self.platform_api, self.worker_api):
            try:
                server.stop()
            except Exception as exc:  # keep stopping the rest
                self.log.warning("stopping %r: %s", server, exc)
        deadline = time.monotonic() + _STOP_JOIN
        for thread_owner in [*self._controllers, *([self._kratix] if self._kratix else [])]:
            thread_owner.join(max(0.0, deadline - time.monotonic()))
        for informer in self._informers:
            informer.join(max(0.0, deadline - time.monotonic()))
        for handler in self._log_handlers:
            self.log.removeHandler(handler)
            handler.close()
        self._log_handlers = []

    def __enter__(self) -> SimPlatform:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _setup_log(self) -> None:
        handler = logging.FileHandler(self.log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s"))
        self.log.setLevel(logging.INFO)
        self.log.propagate = False
        self._add_log_handler(handler)

    def _add_log_handler(self, handler: logging.Handler) -> None:
        self.log.addHandler(handler)
        self._log_handlers.append(handler)
