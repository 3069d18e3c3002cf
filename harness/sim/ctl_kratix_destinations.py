"""Kratix's BucketStateStore and Destination reconcilers on the simulated platform.

BucketStateStore: the credentials Secret and the bucket must exist → ``status.status: Ready`` and condition
``Ready`` (``StateStoreReady`` / "State store is ready"), event ``Ready``; GitStateStores are reported not
ready (not simulated). Destination: its state store must exist and be Ready → the canary documents
(Namespace ``kratix-worker-system``, ConfigMap ``kratix-info``) are written under its path and the condition
``Ready`` is set (``TestDocumentsWritten``, as Kratix at the pinned commit), event ``DestinationReady``
"Destination is Ready"; ``cleanup: all`` adds a finalizer that removes its WorkPlacements and canary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from harness.conditions import condition_is
from harness.kube import Kube
from harness.sim.bucket import BucketMissing
from harness.sim.ctl_base import (
    Controller,
    EventRecorder,
    Informer,
    Obj,
    SimContext,
    deleting,
    labels_of,
    meta,
    name_of,
    ns_of,
    same_conditions,
    set_condition,
    uid_of,
)
from harness.sim.ctl_kratix_works import API, TARGET_LABEL

DESTINATION_FINALIZER = "kratix.io/destination-cleanup"
RECHECK = 2.0  # seconds (at speed 1.0) between re-validations of an unchanged state store


class DestinationController(Controller):
    """State stores and Destinations (shares the Kratix informers; acts only while the manager is ready)."""

    name = "kratix-destinations"

    def __init__(self, ctx: SimContext, kube: Kube, *, bucket_stores: Informer, git_stores: Informer,
                 destinations: Informer, placements: Informer, manager_ready: Callable[[], bool]) -> None:
        super().__init__(ctx)
        self.kube = kube
        self.bucket_stores = bucket_stores
        self.git_stores = git_stores
        self.destinations = destinations
        self.placements = placements
        self.manager_ready = manager_ready
        self.watch(bucket_stores, git_stores, destinations)
        self.destination_events = EventRecorder(kube, "DestinationController", ctx)
        self.store_events = EventRecorder(kube, "BucketStateStoreController", ctx)
        self._store_checked: dict[str, tuple[str, float]] = {}

    def reconcile(self) -> None:
        if not self.manager_ready():
            return
        for store in self.bucket_stores.items():
            self.safely(f"BucketStateStore/{name_of(store)}", self._bucket_store, store)
        for store in self.git_stores.items():
            self.safely(f"GitStateStore/{name_of(store)}", self._git_store, store)
        for dest in self.destinations.items():
            self.safely(f"Destination/{name_of(dest)}", self._destination, dest)

    # -- state stores ------------------------------------------------------------------------------

    def _bucket_store(self, store: Obj) -> None:
        rv = str(meta(store).get("resourceVersion"))
        checked = self._store_checked.get(uid_of(store))
        if checked and checked[0] == rv and time.monotonic() - checked[1] < self.ctx.delay(RECHECK):
            return
        spec = store.get("spec") or {}
        secret_ref = spec.get("secretRef") or {}
        failure = ""
        reason = ""
        if secret_ref.get("name") and spec.get("authMethod", "accessKey") == "accessKey":
            secret_ns = secret_ref.get("namespace") or "default"
            secret = self.kube.get("v1", "Secret", str(secret_ref["name"]), secret_ns)
            if secret is None:
                reason, failure = "ErrorInitialisingWriter", (
                    f"Error initialising writer: secret {secret_ref['name']!r} not found in namespace {secret_ns!r}")
            elif not {"accessKeyID", "secretAccessKey"} <= set((secret.get("data") or {}) |
                                                               (secret.get("stringData") or {})):
                reason, failure = "ErrorInitialisingWriter", (
                    "Error initialising writer: missing key accessKeyID or secretAccessKey in secret "
                    f"{secret_ns}/{secret_ref['name']}")
        if not failure and not self.ctx.bucket.has_bucket(str(spec.get("bucketName") or "")):
            reason, failure = "ErrorValidatingPermissions", (
                "Error validating state store permissions: bucket "
                f"{spec.get('bucketName')!r} does not exist")
        self._store_status(store, reason, failure)
        self._store_checked[uid_of(store)] = (rv, time.monotonic())

    def _git_store(self, store: Obj) -> None:
        self._store_status(store, "ErrorInitialisingWriter",
                           "Error initialising writer: GitStateStores are not simulated (use a BucketStateStore)")

    def _store_status(self, store: Obj, reason: str, failure: str) -> None:
        status = store.get("status") or {}
        ok = not failure
        conditions = set_condition(list(status.get("conditions") or []), "Ready", "True" if ok else "False",
                                   "StateStoreReady" if ok else reason, "State store is ready" if ok else failure)
        new = {"status": "Ready" if ok else "NotReady", "conditions": conditions}
        if status.get("status") == new["status"] and same_conditions(status.get("conditions") or [], conditions):
            return
        informer = self.bucket_stores if store.get("kind") == "BucketStateStore" else self.git_stores
        informer.remember(self.kube.patch(API, str(store["kind"]), name_of(store), {"status": new},
                                          subresource="status"))
        kind = store.get("kind")
        if ok:
            self.store_events.event(store, "Normal", "Ready", f'{kind} "{name_of(store)}" is ready')
        else:
            self.store_events.event(store, "Warning", "NotReady", f'{kind} "{name_of(store)}" is not ready: {failure}')

    def _store_of(self, ref: Mapping[str, Any]) -> Obj | None:
        informer = self.bucket_stores if ref.get("kind") == "BucketStateStore" else self.git_stores
        return informer.get(str(ref.get("name")))

    # -- destinations ------------------------------------------------------------------------------

    def _destination(self, dest: Obj) -> None:
        spec = dest.get("spec") or {}
        ref = spec.get("stateStoreRef") or {}
        store = self._store_of(ref)
        finalizers = list(meta(dest).get("finalizers") or [])
        cleanup_all = spec.get("cleanup") == "all"
        if deleting(dest):
            if DESTINATION_FINALIZER in finalizers:
                for wp in self.placements.items():
                    if labels_of(wp).get(TARGET_LABEL) == name_of(dest):
                        self.kube.delete(API, "WorkPlacement", name_of(wp), ns_of(wp))
                self._canary(dest, store, remove=True)
                self.kube.patch(API, "Destination", name_of(dest), {"metadata": {"finalizers": [
                    f for f in finalizers if f != DESTINATION_FINALIZER] or None}})
            return
        if cleanup_all != (DESTINATION_FINALIZER in finalizers):
            wanted = [*finalizers, DESTINATION_FINALIZER] if cleanup_all else \
                [f for f in finalizers if f != DESTINATION_FINALIZER]
            self.destinations.remember(self.kube.patch(API, "Destination", name_of(dest),
                                                       {"metadata": {"finalizers": wanted or None}}))
            return
        label = f"{ref.get('kind')}/{ref.get('name')}"
        if store is None:
            self._destination_status(dest, False, "StateStoreNotFound", f"{label}: not found")
            return
        if not condition_is(store, "Ready"):
            self._destination_status(dest, False, "StateStoreNotReady", f"{label}: state store is not ready")
            return
        init = (spec.get("initWorkloads") or {}).get("enabled", True)
        try:
            self._canary(dest, store, remove=not init)
        except BucketMissing as exc:
            self._destination_status(dest, False, "StateStoreWriteFailed",
                                     f"Failed to write test documents to State Store: {exc}")
            return
        if init:
            self._destination_status(dest, True, "TestDocumentsWritten", "Test documents written to State Store")
        else:
            self._destination_status(dest, True, "DestinationReady", "Destination is ready")

    def _canary(self, dest: Obj, store: Obj | None, *, remove: bool) -> None:
        if store is None or store.get("kind") != "BucketStateStore":
            return
        sspec = store.get("spec") or {}
        spec = dest.get("spec") or {}
        base = "/".join(p.strip("/") for p in (str(sspec.get("path") or ""), str(spec.get("path") or ""))
                        if p.strip("/"))
        nested = ((spec.get("filepath") or {}).get("mode") or "nestedByMetadata") == "nestedByMetadata"
        ns_key = f"{base}/{'dependencies/' if nested else ''}kratix-canary-namespace.yaml"
        cm_key = f"{base}/{'resources/' if nested else ''}kratix-canary-configmap.yaml"
        bucket = str(sspec.get("bucketName") or "")
        if remove:
            self.ctx.bucket.delete(bucket, ns_key) if self.ctx.bucket.has_bucket(bucket) else None
            self.ctx.bucket.delete(bucket, cm_key) if self.ctx.bucket.has_bucket(bucket) else None
            return
        namespace = {"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"creationTimestamp": None, "name": "kratix-worker-system"},
                     "spec": {}, "status": {}}
        config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"creationTimestamp": None, "name": "kratix-info",
                                   "namespace": "kratix-worker-system"},
                      "data": {"canary": "this confirms your infrastructure is reading from Kratix state stores"}}
        self.ctx.bucket.put(bucket, ns_key, yaml.safe_dump(namespace))
        self.ctx.bucket.put(bucket, cm_key, yaml.safe_dump(config_map))

    def _destination_status(self, dest: Obj, ready: bool, reason: str, message: str) -> None:
        status = dest.get("status") or {}
        conditions = set_condition(list(status.get("conditions") or []), "Ready", "True" if ready else "False",
                                   reason, message)
        if same_conditions(status.get("conditions") or [], conditions):
            return
        self.destinations.remember(self.kube.patch(API, "Destination", name_of(dest),
                                                   {"status": {"conditions": conditions}}, subresource="status"))
        if ready:
            self.destination_events.event(dest, "Normal", "DestinationReady", "Destination is Ready")
        else:
            self.destination_events.event(dest, "Warning", "DestinationNotReady", message)
