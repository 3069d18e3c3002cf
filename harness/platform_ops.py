"""What a platform user and a platform engineer do with Kratix: install and delete Promises, make
resource requests, find pipeline pods, and wait for each to settle. Same code on every target.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import conditions as cond
from harness.kube import Kube, KubeError, Ref
from harness.promise_edit import api_coordinates, load_promise
from harness.waits import NotYet, TerminalFailure, wait_for, wait_until_gone

PROMISE_API = "platform.kratix.io/v1alpha1"
PROMISES_DIR = Path(__file__).resolve().parent.parent / "promises"
# Set on every Promise this harness installs, so cleanup never touches a user's own Promises.
SOURCE_LABEL = "e2e.kratix-workshop.io/source"
DIGEST_ANNOTATION = "e2e.kratix-workshop.io/digest"


@dataclass(frozen=True)
class PromiseSource:
    """A Promise manifest as we will install it, with where it came from."""

    source: str
    manifest: dict[str, Any]

    @classmethod
    def from_dir(cls, promise_dir: str, root: Path = PROMISES_DIR) -> PromiseSource:
        path = root / promise_dir / "promise.yaml"
        if not path.exists():
            known = sorted(p.name for p in root.iterdir() if (p / "promise.yaml").exists()) if root.exists() else []
            raise FileNotFoundError(f"no promise {promise_dir!r} in {root}; known: {', '.join(known) or 'none'}")
        return cls(promise_dir, load_promise(path))

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def digest(self) -> str:
        """A digest of the manifest's content (labels and annotations we add excluded)."""
        return hashlib.sha256(json.dumps(self.manifest, sort_keys=True).encode()).hexdigest()[:16]

    def labelled(self) -> dict[str, Any]:
        """The manifest with our provenance label and digest annotation."""
        manifest = json.loads(json.dumps(self.manifest))
        meta = manifest.setdefault("metadata", {})
        meta.setdefault("labels", {})[SOURCE_LABEL] = self.source
        meta.setdefault("annotations", {})[DIGEST_ANNOTATION] = self.digest
        return dict(manifest)

    def edited(self, manifest: Mapping[str, Any], suffix: str = "edited") -> PromiseSource:
        return PromiseSource(f"{self.source}-{suffix}", dict(manifest))


def crd_names_of_promise(name: str, root: Path = PROMISES_DIR) -> list[str]:
    """CRD names (plural.group) served by any of our promise sources named ``name``."""
    names = []
    for path in sorted(root.glob("*/promise.yaml")):
        promise = load_promise(path)
        if promise["metadata"]["name"] == name and (promise.get("spec") or {}).get("api"):
            names.append(api_coordinates(promise)[2])
    return sorted(set(names))


def get_promise(platform: Kube, name: str) -> dict[str, Any] | None:
    return platform.get(PROMISE_API, "Promise", name)


def install_promise(platform: Kube, source: PromiseSource) -> str:
    """Apply the Promise; returns kubectl's word for what happened."""
    _, outcome = platform.apply(source.labelled())
    return outcome


def wait_promise_available(platform: Kube, name: str, tier: str = "pipeline") -> dict[str, Any]:
    """Wait until ``.status.status`` is Available; stop early when a promise workflow failed."""

    def probe() -> dict[str, Any]:
        promise = get_promise(platform, name)
        if promise is None:
            raise NotYet("not found")
        failure = cond.kratix_failure(promise)
        if failure:
            raise TerminalFailure(f"Promise/{name}: {failure}")
        if cond.promise_status(promise) != "Available":
            raise NotYet(cond.kratix_summary(promise))
        return promise

    return wait_for(probe, what=f"Promise/{name} on {platform.name}", condition="status=Available", tier=tier,
                    sleep=lambda s: platform.wake_on_change(PROMISE_API, "Promise", seconds=s))


def ensure_promise(platform: Kube, source: PromiseSource) -> dict[str, Any]:
    """Make sure exactly this Promise is installed and Available.

    A Promise of the same name with other content (e.g. the full-API one when the high-level one is
    wanted) is deleted first, as the workshop does, because Kratix does not migrate requests between
    incompatible APIs.
    """
    current = get_promise(platform, source.name)
    if current is not None:
        digest = ((current.get("metadata") or {}).get("annotations") or {}).get(DIGEST_ANNOTATION)
        if digest != source.digest:
            delete_promise(platform, source.name)
    install_promise(platform, source)
    return wait_promise_available(platform, source.name)


def delete_promise(platform: Kube, name: str, tier: str = "delete") -> None:
    """Delete a Promise and wait until it (and with it its API) is gone."""
    platform.delete(PROMISE_API, "Promise", name)
    wait_until_gone(lambda: get_promise(platform, name), what=f"Promise/{name} on {platform.name}", tier=tier,
                    sleep=lambda s: platform.wake_on_change(PROMISE_API, "Promise", seconds=s))


def installed_by_us(platform: Kube) -> list[dict[str, Any]]:
    """Promises carrying our provenance label."""
    return platform.list(PROMISE_API, "Promise", labels=SOURCE_LABEL)


# -- resource requests ---------------------------------------------------------------------------------


def request_ref(request: Mapping[str, Any]) -> Ref:
    meta = request.get("metadata") or {}
    return Ref(request["apiVersion"], request["kind"], meta["name"], meta.get("namespace") or "default")


def get_request(platform: Kube, ref: Ref) -> dict[str, Any] | None:
    return platform.get(ref.api_version, ref.kind, ref.name, ref.namespace)


def pipeline_pods(platform: Kube, promise: str, request_name: str, namespace: str) -> list[dict[str, Any]]:
    """Pipeline pods of one request, newest first, found by Kratix's labels (current and pre-2025 names)."""
    found: dict[str, dict[str, Any]] = {}
    selectors = (
        {"kratix.io/promise-name": promise, "kratix.io/resource-name": request_name,
         "kratix.io/workflow-type": "resource"},
        {"kratix.io/promise-name": promise, "kratix.io/resource-name": request_name,
         "kratix.io/work-type": "resource"},
        {"kratix-promise-id": promise, "kratix-promise-resource-request-id": f"{promise}-{request_name}"},
    )
    for labels in selectors:
        for pod in platform.list("v1", "Pod", namespace, labels=labels):
            found[pod["metadata"]["name"]] = pod
    return sorted(found.values(), key=lambda p: str(p["metadata"].get("creationTimestamp") or ""), reverse=True)


def _request_probe(platform: Kube, ref: Ref, promise: str, message: str | None) -> dict[str, Any]:
    obj = get_request(platform, ref)
    if obj is None:
        raise NotYet("not found")
    failure = cond.kratix_failure(obj)
    if failure:
        raise TerminalFailure(f"{ref}: {failure}")
    for pod in pipeline_pods(platform, promise, ref.name, ref.namespace or "default")[:1]:
        reason = cond.pod_terminal_reason(pod)
        if reason:
            raise TerminalFailure(f"{ref}: pipeline {reason}")
    if not cond.condition_is(obj, "Reconciled"):
        raise NotYet(cond.kratix_summary(obj))
    got = (obj.get("status") or {}).get("message")
    if message is not None and got != message:
        raise NotYet(f"Reconciled but message {got!r}; {cond.kratix_summary(obj)}")
    return obj


def wait_request_reconciled(platform: Kube, ref: Ref, promise: str, *, message: str | None = None,
                            tier: str = "pipeline") -> dict[str, Any]:
    """Wait for condition Reconciled=True (and the message, if given); fail fast on a failed pipeline."""
    return wait_for(
        lambda: _request_probe(platform, ref, promise, message),
        what=f"{ref} on {platform.name}",
        condition="condition=Reconciled" + (f" with message {message!r}" if message else ""),
        tier=tier,
        sleep=lambda s: platform.wake_on_change(ref.api_version, ref.kind, ref.namespace, seconds=s),
    )


def delete_request(platform: Kube, ref: Ref) -> None:
    platform.delete(ref.api_version, ref.kind, ref.name, ref.namespace)
    wait_until_gone(lambda: get_request(platform, ref), what=f"{ref} on {platform.name}")


def promise_for_request(platform: Kube, request: Mapping[str, Any]) -> str:
    """The name of the installed Promise whose API serves this request's kind."""
    api_version, kind = request["apiVersion"], request["kind"]
    for promise in platform.list(PROMISE_API, "Promise"):
        try:
            version, promise_kind, _ = api_coordinates(promise)
        except (KeyError, ValueError):
            continue
        group = version.split("/")[0]
        if promise_kind == kind and api_version.split("/")[0] == group:
            return str(promise["metadata"]["name"])
    raise KubeError(platform.name, f"find the Promise for {kind}", 404, "NotFound",
                    f"no installed Promise provides {kind} in {api_version}")
