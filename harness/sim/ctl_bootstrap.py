"""What the simulated clusters hold right after Kratix's quick-start steps 1-2 (``kratix.yaml``, MinIO and
Flux's ``gitops-tk-install.yaml``), written through the API like ``kubectl apply`` would.

Not created here: the BucketStateStore, Destinations and Flux's Bucket/Kustomizations/Secret — the
harness' bootstrap registers those, as the quick-start script does, and the controllers react.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.kube import Kube, KubeError
from harness.manifests import ManifestError, load_yaml_documents
from harness.sim.ctl_base import Obj
from harness.sim.ctl_kratix_pipeline import PIPELINE_ADAPTER_IMG

KRATIX_CRD_COUNT = 11
KRATIX_IMAGE = "syntasso/kratix-platform:v0.0.0-sim"
MANAGER_LABELS = {
    "control-plane": "controller-manager",
    "app.kubernetes.io/instance": "kratix-platform",
    "app.kubernetes.io/component": "kratix-manager",
    "app.kubernetes.io/part-of": "kratix",
}
FLUX_VERSION = "v2.4.0"


class BootstrapError(RuntimeError):
    """The simulated platform cannot be set up from the given inputs (message names the file or object)."""


def load_kratix_crds(directory: Path) -> list[Obj]:
    """The Kratix CRDs from ``directory`` (one CRD per ``*.yaml``), checked to be the 11 of kratix.yaml.

    Raises:
        BootstrapError: the directory is missing, a file is not a CRD, or CRDs are missing.
    """
    if not directory.is_dir():
        raise BootstrapError(f"Kratix CRD directory {directory} does not exist")
    crds: list[Obj] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            docs = load_yaml_documents(path)
        except ManifestError as exc:
            raise BootstrapError(str(exc)) from None
        for doc in docs:
            if doc.get("kind") != "CustomResourceDefinition":
                raise BootstrapError(f"{path}: expected a CustomResourceDefinition, found {doc.get('kind')}")
            crds.append(doc)
    names = {(c.get("metadata") or {}).get("name") for c in crds}
    if len(names) != KRATIX_CRD_COUNT or not all(str(n).endswith(".platform.kratix.io") for n in names):
        raise BootstrapError(f"{directory}: expected the {KRATIX_CRD_COUNT} *.platform.kratix.io CRDs of kratix.yaml, "
                             f"found {len(names)}: {', '.join(sorted(str(n) for n in names))}")
    return crds


def _deployment(name: str, namespace: str, labels: dict[str, str], selector: dict[str, str], containers: list[Obj],
                **extra: Any) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": selector},
                 "template": {"metadata": {"labels": {**selector, **extra.get("pod_labels", {})}},
                              "spec": {"containers": containers,
                                       **({"serviceAccountName": extra["sa"]} if "sa" in extra else {})}}},
    }


def _storage_class() -> Obj:
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
    }


def platform_objects(kratix_crds: list[Obj]) -> Iterator[Obj]:
    """kratix.yaml (CRDs, namespace, controller manager, adapter ConfigMap) and minio-install.yaml, in order."""
    yield _storage_class()
    yield {"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": "kratix-platform-system", "labels": {"control-plane": "controller-manager"}}}
    yield from kratix_crds
    yield {"apiVersion": "v1", "kind": "ServiceAccount",
           "metadata": {"name": "kratix-platform-controller-manager", "namespace": "kratix-platform-system"}}
    yield {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "kratix-platform-pipeline-adapter-config", "namespace": "kratix-platform-system"},
           "data": {"PIPELINE_ADAPTER_IMG": PIPELINE_ADAPTER_IMG}}
    yield {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "kratix-platform-webhook-service", "namespace": "kratix-platform-system",
                        "labels": {"app.kubernetes.io/part-of": "kratix"}},
           "spec": {"ports": [{"port": 443, "protocol": "TCP", "targetPort": 9443}],
                    "selector": {"control-plane": "controller-manager"}}}
    yield _deployment(
        "kratix-platform-controller-manager", "kratix-platform-system", dict(MANAGER_LABELS),
        {"control-plane": "controller-manager"},
        [{"name": "manager", "image": KRATIX_IMAGE, "command": ["/manager"], "args": ["--leader-elect"],
          "envFrom": [{"configMapRef": {"name": "kratix-platform-pipeline-adapter-config"}}],
          "ports": [{"containerPort": 9443, "name": "webhook-server", "protocol": "TCP"}],
          "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "10m", "memory": "64Mi"}}}],
        pod_labels={k: v for k, v in MANAGER_LABELS.items() if k != "control-plane"},
        sa="kratix-platform-controller-manager")
    # minio-install.yaml (the bucket-creating Job has already run: the sim bucket "kratix" exists)
    yield {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "minio", "namespace": "kratix-platform-system"},
           "spec": {"type": "NodePort", "selector": {"run": "minio"},
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": 9000, "nodePort": 31337}]}}
    yield _deployment("minio", "kratix-platform-system", {"run": "minio"}, {"run": "minio"},
                      [{"name": "minio", "image": "docker.io/minio/minio:RELEASE.2022-06-30T20-58-09Z",
                        "args": ["server", "/data"], "ports": [{"containerPort": 9000}],
                        "volumeMounts": [{"mountPath": "/data", "name": "data-volume"}]}])
    yield {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "minio-credentials", "namespace": "default"},
           "type": "Opaque",
           "data": {"accessKeyID": base64.b64encode(b"minioadmin").decode(),
                    "secretAccessKey": base64.b64encode(b"minioadmin").decode()}}


def _flux_crd(group: str, plural: str, kind: str, versions: list[str], short: list[str]) -> Obj:
    schema = {"openAPIV3Schema": {"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}
    columns = [
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Status", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].message'},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}",
                     "labels": {"app.kubernetes.io/part-of": "flux", "app.kubernetes.io/version": FLUX_VERSION}},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower(),
                           "shortNames": short},
                 "versions": [{"name": v, "served": True, "storage": v == versions[-1], "schema": schema,
                               "subresources": {"status": {}}, "additionalPrinterColumns": columns}
                              for v in versions]},
    }


def worker_objects() -> Iterator[Obj]:
    """gitops-tk-install.yaml, reduced to what the simulation serves: Flux CRDs and its two controllers."""
    yield _storage_class()
    yield {"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": "flux-system", "labels": {"app.kubernetes.io/instance": "flux-system",
                                                          "app.kubernetes.io/part-of": "flux",
                                                          "app.kubernetes.io/version": FLUX_VERSION}}}
    yield _flux_crd("source.toolkit.fluxcd.io", "buckets", "Bucket", ["v1beta2"], [])
    yield _flux_crd("source.toolkit.fluxcd.io", "gitrepositories", "GitRepository", ["v1beta2", "v1"], ["gitrepo"])
    yield _flux_crd("kustomize.toolkit.fluxcd.io", "kustomizations", "Kustomization", ["v1"], ["ks"])
    for name, image in (("source-controller", "ghcr.io/fluxcd/source-controller:v1.4.1"),
                        ("kustomize-controller", "ghcr.io/fluxcd/kustomize-controller:v1.4.0")):
        labels = {"app.kubernetes.io/component": name, "app.kubernetes.io/instance": "flux-system",
                  "app.kubernetes.io/part-of": "flux", "app.kubernetes.io/version": FLUX_VERSION,
                  "control-plane": "controller"}
        yield {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "flux-system"}}
        yield _deployment(name, "flux-system", labels, {"app": name},
                          [{"name": "manager", "image": image, "args": ["--watch-all-namespaces=true"],
                            "ports": [{"containerPort": 8080, "name": "http-prom"}]}], sa=name)


def apply_all(kube: Kube, objects: Iterator[Obj]) -> None:
    """Create each object, skipping ones that exist (controllers wait for CRD kinds to be served themselves).

    Raises:
        BootstrapError: the API server refused an object (named in the message).
    """
    for obj in objects:
        try:
            kube.create(obj, strict=False)
        except KubeError as exc:
            if exc.status == 409:
                continue
            name = (obj.get("metadata") or {}).get("name")
            raise BootstrapError(f"{kube.name}: cannot create {obj.get('kind')}/{name}: {exc}") from None
