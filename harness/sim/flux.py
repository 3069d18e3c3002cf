"""The simulated Flux on the worker: source-controller for ``Bucket`` sources, kustomize-controller for
``Kustomization`` objects, reading the sim MinIO (:class:`harness.sim.bucket.SimBucket`).

Behaviour follows Flux v2.4: a Kustomization with no ``kustomization.yaml`` in its path applies every
``.yaml``/``.yml``/``.json`` file below the path (server-side apply, CRDs and Namespaces first), waits for
its ``dependsOn`` Kustomizations to be Ready, records what it applied in ``status.inventory`` and, with
``prune: true``, deletes what left the source. Only what Flux really does is simulated; a
``GitRepository`` source is reported as not simulated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import yaml

from harness.conditions import condition_is
from harness.kube import Kube, KubeError
from harness.sim.bucket import BucketMissing
from harness.sim.ctl_base import (
    Controller,
    EventRecorder,
    Informer,
    Obj,
    SimContext,
    deleting,
    has_ready_replica,
    meta,
    name_of,
    now_iso,
    ns_of,
    same_conditions,
    set_condition,
)

FLUX_NS = "flux-system"
SOURCE_API = "source.toolkit.fluxcd.io/v1beta2"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
FINALIZER = "finalizers.fluxcd.io"
#: seconds between drift-correcting re-applies of an unchanged revision (at speed 1.0)
RESYNC = 2.0
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
# Applied first (and waited for), as kustomize-controller stages them.
_FIRST_KINDS = ("CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding")


class BuildError(ValueError):
    """A source file is not a set of Kubernetes documents; the message names the file."""


def manifests_under(files: Mapping[str, bytes], prefix: str) -> list[Obj]:
    """Kubernetes documents of every manifest file below ``prefix`` (as kustomize's generated file list).

    Raises:
        BuildError: a file does not parse, or a document lacks apiVersion/kind/metadata.name.
    """
    docs: list[Obj] = []
    for key, data in sorted(files.items()):
        if not key.endswith(_MANIFEST_SUFFIXES):
            continue
        rel = key[len(prefix):].lstrip("/") if prefix else key
        try:
            loaded = list(yaml.safe_load_all(data.decode("utf-8")))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise BuildError(f"kustomize build failed: {rel}: {_one_line(exc)}") from None
        for index, doc in enumerate(loaded):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise BuildError(f"kustomize build failed: {rel}: document {index} is not a mapping")
            if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
                docs.extend(i for i in doc["items"] if isinstance(i, dict))
                continue
            missing = [f for f in ("apiVersion", "kind") if not doc.get(f)]
            if not (doc.get("metadata") or {}).get("name"):
                missing.append("metadata.name")
            if missing:
                raise BuildError(f"kustomize build failed: {rel}: document {index} is missing {', '.join(missing)}")
            docs.append(doc)
    return docs


def inventory_id(obj: Mapping[str, Any], namespace: str | None) -> str:
    """Flux's inventory entry id: ``<namespace>_<name>_<group>_<kind>``."""
    api_version = str(obj["apiVersion"])
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    return f"{namespace or ''}_{name_of(obj)}_{group}_{obj['kind']}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class Flux(Controller):
    """source-controller + kustomize-controller of the worker cluster, in one loop."""

    name = "flux"
    tick = 0.2

    def __init__(self, ctx: SimContext, kube: Kube) -> None:
        super().__init__(ctx)
        self.kube = kube
        self.buckets = Informer(kube, SOURCE_API, "Bucket", ctx, namespace=FLUX_NS,
                                ready_check=lambda: kube.has_kind(SOURCE_API, "Bucket"))
        self.kustomizations = Informer(kube, KUSTOMIZE_API, "Kustomization", ctx, namespace=FLUX_NS,
                                       ready_check=lambda: kube.has_kind(KUSTOMIZE_API, "Kustomization"))
        self.deployments = Informer(kube, "apps/v1", "Deployment", ctx, namespace=FLUX_NS)
        self.secrets = Informer(kube, "v1", "Secret", ctx, namespace=FLUX_NS)
        self.informers = [self.buckets, self.kustomizations, self.deployments, self.secrets]
        self.watch(*self.informers)
        self.source_events = EventRecorder(kube, "source-controller", ctx)
        self.kustomize_events = EventRecorder(kube, "kustomize-controller", ctx)
        # Kustomization name -> (revision applied, monotonic time of the apply)
        self._applied: dict[str, tuple[str, float]] = {}

    def _controller_ready(self, name: str) -> bool:
        return has_ready_replica(self.deployments.get(name, FLUX_NS))

    def reconcile(self) -> None:
        if self._controller_ready("source-controller"):
            for bucket in self.buckets.items():
                self.safely(f"flux Bucket/{name_of(bucket)}", self._bucket, bucket)
        if self._controller_ready("kustomize-controller"):
            for ks in self.kustomizations.items():
                self.safely(f"flux Kustomization/{name_of(ks)}", self._kustomization, ks)

    # -- source-controller -------------------------------------------------------------------------

    def _bucket(self, src: Obj) -> None:
        if deleting(src):
            self._drop_finalizer(src, self.buckets)
            return
        if FINALIZER not in (meta(src).get("finalizers") or []):
            self._add_finalizer(src, self.buckets)
            return
        spec = src.get("spec") or {}
        conditions = list((src.get("status") or {}).get("conditions") or [])
        artifact = (src.get("status") or {}).get("artifact")
        secret_name = (spec.get("secretRef") or {}).get("name")
        bucket_name = str(spec.get("bucketName") or "")
        if secret_name and self.secrets.get(secret_name, FLUX_NS) is None:
            message = f"failed to get secret '{FLUX_NS}/{secret_name}': secrets \"{secret_name}\" not found"
            conditions = set_condition(conditions, "Ready", "False", "AuthenticationFailed", message)
        else:
            try:
                revision = self.ctx.bucket.revision(bucket_name, str(spec.get("prefix") or ""))
            except BucketMissing:
                message = f"bucket '{bucket_name}' not found"
                conditions = set_condition(conditions, "Ready", "False", "BucketOperationFailed", message)
            else:
                message = f"stored artifact: revision '{revision}'"
                conditions = set_condition(conditions, "ArtifactInStorage", "True", "Succeeded", message)
                conditions = set_condition(conditions, "Ready", "True", "Succeeded", message)
                if (artifact or {}).get("revision") != revision:
                    artifact = {
                        "revision": revision, "digest": revision,
                        "path": f"bucket/{FLUX_NS}/{name_of(src)}/{revision.split(':')[-1][:12]}.tar.gz",
                        "url": f"http://source-controller.{FLUX_NS}.svc.cluster.local./bucket/{FLUX_NS}/"
                               f"{name_of(src)}/{revision.split(':')[-1][:12]}.tar.gz",
                        "lastUpdateTime": now_iso(),
                    }
                    self.source_events.event(src, "Normal", "NewArtifact", message)
        status = {"conditions": conditions, "observedGeneration": meta(src).get("generation", 1),
                  "artifact": artifact}
        self._write_status(src, status, self.buckets)

    # -- kustomize-controller ----------------------------------------------------------------------

    def _kustomization(self, ks: Obj) -> None:
        spec = ks.get("spec") or {}
        status = dict(ks.get("status") or {})
        if deleting(ks):
            if spec.get("prune"):
                self._prune(status.get("inventory"), keep=set())
            self._drop_finalizer(ks, self.kustomizations)
            self._applied.pop(name_of(ks), None)
            return
        if FINALIZER not in (meta(ks).get("finalizers") or []):
            self._add_finalizer(ks, self.kustomizations)
            return
        if spec.get("suspend"):
            return
        conditions = list(status.get("conditions") or [])
        generation = meta(ks).get("generation", 1)

        def fail(reason: str, message: str, revision: str | None = None) -> None:
            new = set_condition(conditions, "Ready", "False", reason, message)
            patch: dict[str, Any] = {"conditions": new, "observedGeneration": generation}
            if revision:
                patch["lastAttemptedRevision"] = revision
            self._write_status(ks, patch, self.kustomizations)

        source = spec.get("sourceRef") or {}
        src_kind, src_name = source.get("kind"), source.get("name")
        src_ns = source.get("namespace") or FLUX_NS
        if src_kind != "Bucket":
            fail("ArtifactFailed", f"{src_kind} sources are not simulated (only Bucket on the sim MinIO)")
            return
        src = self.buckets.get(str(src_name), src_ns)
        if src is None:
            fail("ArtifactFailed", f"Source '{src_kind}/{src_ns}/{src_name}' not found")
            return
        artifact = (src.get("status") or {}).get("artifact") or {}
        if not condition_is(src, "Ready") or not artifact.get("revision"):
            fail("ArtifactFailed", f"Source artifact not found, retrying in {spec.get('retryInterval') or '30s'}")
            return
        for dep in spec.get("dependsOn") or []:
            dep_ns = dep.get("namespace") or FLUX_NS
            other = self.kustomizations.get(str(dep.get("name")), dep_ns)
            if other is None or not condition_is(other, "Ready"):
                fail("DependencyNotReady", f"dependency '{dep_ns}/{dep.get('name')}' is not ready")
                return
        revision = str(artifact["revision"])
        last = self._applied.get(name_of(ks))
        fresh = last is not None and last[0] == revision and status.get("lastAppliedRevision") == revision
        if fresh and last is not None and time.monotonic() - last[1] < self.ctx.delay(RESYNC) and \
                status.get("observedGeneration") == generation:
            return
        bucket_name = str((src.get("spec") or {}).get("bucketName") or "")
        prefix = str(spec.get("path") or "").strip()
        prefix = "/".join(p for p in prefix.split("/") if p not in ("", "."))
        try:
            files = self.ctx.bucket.list(bucket_name, prefix)
            docs = manifests_under(files, prefix)
        except BuildError as exc:
            fail("BuildFailed", str(exc), revision)
            return
        except BucketMissing as exc:
            fail("ArtifactFailed", str(exc), revision)
            return
        if not files and prefix:
            fail("BuildFailed", f"kustomization path not found: stat /tmp/kustomization/{prefix}: "
                                "no such file or directory", revision)
            return
        entries, changes, errors = self._apply_all(ks, docs)
        if errors:
            fail("ReconciliationFailed", "\n".join(errors), revision)
            return
        old_inventory = status.get("inventory")
        pruned = self._prune(old_inventory, keep={e["id"] for e in entries}) if spec.get("prune") else []
        message = f"Applied revision: {revision}"
        new_conditions = set_condition(conditions, "Ready", "True", "ReconciliationSucceeded", message)
        self._write_status(ks, {
            "conditions": new_conditions, "observedGeneration": generation,
            "lastAppliedRevision": revision, "lastAttemptedRevision": revision,
            "inventory": {"entries": entries},
        }, self.kustomizations)
        self._applied[name_of(ks)] = (revision, time.monotonic())
        if changes or pruned:
            self.kustomize_events.event(ks, "Normal", "Progressing", "\n".join(changes + pruned))

    def _apply_all(self, ks: Obj, docs: list[Obj]) -> tuple[list[dict[str, str]], list[str], list[str]]:
        labels = {"kustomize.toolkit.fluxcd.io/name": name_of(ks), "kustomize.toolkit.fluxcd.io/namespace": FLUX_NS}
        ordered = sorted(docs, key=lambda d: 0 if d.get("kind") in _FIRST_KINDS else 1)
        entries: list[dict[str, str]] = []
        changes: list[str] = []
        errors: list[str] = []
        for doc in ordered:
            obj = {**doc, "metadata": {**(doc.get("metadata") or {})}}
            obj["metadata"]["labels"] = {**(obj["metadata"].get("labels") or {}), **labels}
            try:
                res = self.kube.resource(str(obj["apiVersion"]), str(obj["kind"]))
            except KubeError:
                errors.append(f"{obj['kind']}/{name_of(obj)} dry-run failed: no matches for kind "
                              f"\"{obj['kind']}\" in version \"{obj['apiVersion']}\"")
                continue
            namespace: str | None = None
            if res.namespaced:
                namespace = ns_of(obj) or "default"
                obj["metadata"]["namespace"] = namespace
            else:
                obj["metadata"].pop("namespace", None)
            shown = f"{obj['kind']}/{namespace + '/' if namespace else ''}{name_of(obj)}"
            try:
                _, outcome = self.kube.apply(obj, strict=False)
            except KubeError as exc:
                errors.append(f"{shown} dry-run failed ({exc.reason or exc.status}): {exc.server_message}")
                continue
            entries.append({"id": inventory_id(obj, namespace), "v": str(obj["apiVersion"]).rsplit("/", 1)[-1]})
            if outcome != "unchanged":
                changes.append(f"{shown} {outcome}")
        return entries, changes, errors

    def _prune(self, inventory: Mapping[str, Any] | None, keep: set[str]) -> list[str]:
        pruned: list[str] = []
        for entry in (inventory or {}).get("entries") or []:
            entry_id = str(entry.get("id") or "")
            if entry_id in keep:
                continue
            parts = entry_id.split("_")
            if len(parts) != 4:
                continue
            namespace, name, group, kind = parts
            api_version = f"{group}/{entry.get('v')}" if group else str(entry.get("v"))
            try:
                if self.kube.delete(api_version, kind, name, namespace or None):
                    pruned.append(f"{kind}/{namespace + '/' if namespace else ''}{name} deleted")
            except KubeError as exc:
                self.ctx.log.warning("flux prune %s: %s", entry_id, exc)
        return pruned

    # -- helpers -----------------------------------------------------------------------------------

    def _write_status(self, obj: Obj, status: dict[str, Any], informer: Informer) -> None:
        old = obj.get("status") or {}
        same = all(
            same_conditions(old.get(k) or [], v) if k == "conditions" else old.get(k) == v
            for k, v in status.items()
        )
        if same:
            return
        informer.remember(self.kube.patch(obj["apiVersion"], obj["kind"], name_of(obj), {"status": status},
                                          ns_of(obj), subresource="status"))

    def _add_finalizer(self, obj: Obj, informer: Informer) -> None:
        finalizers = [*(meta(obj).get("finalizers") or []), FINALIZER]
        informer.remember(self.kube.patch(obj["apiVersion"], obj["kind"], name_of(obj),
                                          {"metadata": {"finalizers": finalizers}}, ns_of(obj)))

    def _drop_finalizer(self, obj: Obj, informer: Informer) -> None:
        finalizers = [f for f in meta(obj).get("finalizers") or [] if f != FINALIZER]
        if finalizers == list(meta(obj).get("finalizers") or []):
            return
        # Not remembered: without finalizers the object is gone, and the watch says so.
        self.kube.patch(obj["apiVersion"], obj["kind"], name_of(obj),
                        {"metadata": {"finalizers": finalizers or None}}, ns_of(obj))
