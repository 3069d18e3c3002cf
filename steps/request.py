"""Steps about resource requests made by a platform user."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pytest_bdd import parsers, then, when

from harness import platform_ops as ops
from harness.docs.recorder import DocsRecorder
from harness.kube import KubeError, Ref
from harness.manifests import parse_yaml_documents
from harness.promise_edit import api_coordinates
from harness.targets import Clusters


@dataclass
class Submission:
    """What the API server said to a request: the stored object, or its refusal."""

    manifest: dict[str, Any]
    stored: dict[str, Any] | None = None
    error: KubeError | None = None


def _one_manifest(docstring: str) -> dict[str, Any]:
    docs = parse_yaml_documents(docstring, source="step docstring")
    assert len(docs) == 1, f"expected one manifest in the step's docstring, got {len(docs)}"
    return docs[0]


# When


def _record_apply(recorder: DocsRecorder, clusters: Clusters, manifest: dict[str, Any], outcome: str) -> None:
    context = clusters.platform.context
    recorder.applied(manifest, context)
    recorder.ran(["kubectl", "--context", context, "apply", "--filename", "resource.yaml"])
    group = manifest["apiVersion"].rpartition("/")[0]
    recorder.observed("output", f"{manifest['kind'].lower()}.{group}/{manifest['metadata']['name']} {outcome}")


@when("the platform user requests:", target_fixture="resource_request")
def _(docstring: str, clusters: Clusters, docs_recorder: DocsRecorder) -> dict[str, Any]:
    manifest = _one_manifest(docstring)
    stored, outcome = clusters.platform.apply(manifest)
    _record_apply(docs_recorder, clusters, manifest, outcome)
    return stored


@when("the platform user requests a fresh:", target_fixture="resource_request")
def _(docstring: str, clusters: Clusters) -> Iterator[dict[str, Any]]:
    # Each example starts from nothing and leaves nothing: a resize of a live cluster is another story
    # (kind's local-path volumes cannot grow).
    manifest = _one_manifest(docstring)
    ref = ops.request_ref(manifest)
    if ops.get_request(clusters.platform, ref) is not None:
        ops.delete_request(clusters.platform, ref)
    stored, _ = clusters.platform.apply(manifest)
    yield stored
    ops.delete_request(clusters.platform, ref)


@when("the platform user submits:", target_fixture="submission")
def _(docstring: str, clusters: Clusters) -> Submission:
    manifest = _one_manifest(docstring)
    try:
        stored, _ = clusters.platform.apply(manifest)
    except KubeError as exc:
        return Submission(manifest, error=exc)
    return Submission(manifest, stored=stored)


@when(parsers.parse('the platform user deletes the request "{name}" of the promise "{promise}"'))
def _(name: str, promise: str, clusters: Clusters) -> None:
    installed = ops.get_promise(clusters.platform, promise)
    if installed is None:
        # No Promise, no API: a request of it cannot exist (deleting the Promise deleted its requests).
        return
    api_version, kind, _ = api_coordinates(installed)
    ops.delete_request(clusters.platform, Ref(api_version, kind, name, "default"))


# Then


@then(parsers.parse('the request "{name}" is reconciled with the message "{message}"'))
def _(name: str, message: str, resource_request: dict[str, Any], clusters: Clusters) -> None:
    ref = ops.request_ref(resource_request)
    assert ref.name == name, f"the last request was {ref}, not {name}"
    promise = ops.promise_for_request(clusters.platform, resource_request)
    ops.wait_request_reconciled(clusters.platform, ref, promise, message=message)


@then(parsers.parse('the platform refuses it, naming the field "{field}" and saying "{message}"'))
def _(field: str, message: str, submission: Submission, clusters: Clusters) -> None:
    if submission.error is None:
        ref = ops.request_ref(submission.manifest)
        clusters.platform.delete(ref.api_version, ref.kind, ref.name, ref.namespace)
        raise AssertionError(f"the platform accepted {ref}; expected a refusal naming {field}")
    error = submission.error
    assert error.status in (400, 422), f"expected a validation error, got HTTP {error.status}: {error}"
    assert field in error.server_message, f"refusal does not name {field!r}: {error.server_message}"
    assert message in error.server_message, f"refusal does not say {message!r}: {error.server_message}"


@then(parsers.parse('no request "{name}" exists on the platform'))
def _(name: str, submission: Submission, clusters: Clusters) -> None:
    ref = ops.request_ref(submission.manifest)
    assert ref.name == name
    assert ops.get_request(clusters.platform, ref) is None, f"{ref} exists on the platform"


@then(parsers.parse('the request "{name}" reports its vulnerability scan in its status'))
def _(name: str, resource_request: dict[str, Any], clusters: Clusters) -> None:
    ref = Ref(resource_request["apiVersion"], resource_request["kind"], name,
              resource_request["metadata"].get("namespace", "default"))
    obj = ops.get_request(clusters.platform, ref)
    assert obj is not None, f"{ref} not found"
    vulnerabilities = (obj.get("status") or {}).get("vulnerabilities")
    assert vulnerabilities, f"{ref} status has no vulnerabilities summary: {obj.get('status')}"

