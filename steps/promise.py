"""Steps about Promises: install, delete, edit their pipelines."""

from __future__ import annotations

import yaml
from pytest_bdd import given, parsers, then, when

from harness import platform_ops as ops
from harness.docs.recorder import DocsRecorder
from harness.promise_edit import add_containers, containers
from harness.targets import Clusters, Target

# Given


@given(parsers.parse('the promise "{promise_dir}" is installed and Available'), target_fixture="promise_source")
def _(promise_dir: str, clusters: Clusters, target: Target) -> ops.PromiseSource:
    source = ops.PromiseSource.from_dir(promise_dir)
    target.prepare_images(source.manifest)
    ops.ensure_promise(clusters.platform, source)
    return source


# When


@when(parsers.parse('the promise "{promise_dir}" is installed'), target_fixture="promise_source")
def _(promise_dir: str, clusters: Clusters, target: Target, docs_recorder: DocsRecorder) -> ops.PromiseSource:
    source = ops.PromiseSource.from_dir(promise_dir)
    target.prepare_images(source.manifest)
    ops.install_promise(clusters.platform, source)
    path = ops.PROMISES_DIR / promise_dir / "promise.yaml"
    docs_recorder.ran(["kubectl", "--context", clusters.platform.context, "apply", "--filename", str(path)])
    docs_recorder.applied(source.manifest, clusters.platform.context)
    return source


@when(parsers.parse('the promise "{name}" is deleted'))
def _(name: str, clusters: Clusters, docs_recorder: DocsRecorder) -> None:
    ops.delete_promise(clusters.platform, name)
    docs_recorder.ran(["kubectl", "--context", clusters.platform.context, "delete", "promise", name])


@when(parsers.parse('its "{pipeline}" pipeline gains the containers:'), target_fixture="promise_source")
def _(pipeline: str, docstring: str, promise_source: ops.PromiseSource) -> ops.PromiseSource:
    new = yaml.safe_load(docstring)
    assert isinstance(new, list), "the docstring must be a YAML list of containers"
    edited = add_containers(promise_source.manifest, new, pipeline=pipeline)
    return promise_source.edited(edited, suffix="extended")


@when("the edited promise is reinstalled")
def _(promise_source: ops.PromiseSource, clusters: Clusters, target: Target, docs_recorder: DocsRecorder) -> None:
    target.prepare_images(promise_source.manifest)
    context = clusters.platform.context
    if ops.get_promise(clusters.platform, promise_source.name) is not None:
        ops.delete_promise(clusters.platform, promise_source.name)
        docs_recorder.ran(["kubectl", "--context", context, "delete", "promise", promise_source.name])
    ops.install_promise(clusters.platform, promise_source)
    docs_recorder.ran(["kubectl", "--context", context, "apply", "--filename", "promise.yaml"])
    docs_recorder.applied(promise_source.manifest, context)
    ops.wait_promise_available(clusters.platform, promise_source.name)


@when("every promise is deleted from the platform")
def _(clusters: Clusters, docs_recorder: DocsRecorder) -> None:
    # Only the Promises this harness installed: a user's own Promises on an existing platform stay.
    for promise in ops.installed_by_us(clusters.platform):
        ops.delete_promise(clusters.platform, promise["metadata"]["name"])
        docs_recorder.ran(["kubectl", "--context", clusters.platform.context, "delete", "promise",
                           promise["metadata"]["name"]])


# Then


@then(parsers.parse('the promise "{name}" becomes Available'))
def _(name: str, clusters: Clusters) -> None:
    ops.wait_promise_available(clusters.platform, name)


@then(parsers.parse('its "{pipeline}" pipeline runs the image "{image}"'))
def _(pipeline: str, image: str, promise_source: ops.PromiseSource, clusters: Clusters) -> None:
    installed = ops.get_promise(clusters.platform, promise_source.name)
    assert installed is not None, f"Promise/{promise_source.name} is not installed"
    images = [c.get("image") for c in containers(installed, pipeline)]
    assert image in images, f"pipeline {pipeline!r} runs {images}, not {image}"


@then("no promise is left on the platform")
def _(clusters: Clusters) -> None:
    left = [p["metadata"]["name"] for p in ops.installed_by_us(clusters.platform)]
    assert not left, f"promises still installed: {left}"


@then(parsers.parse("nothing of the {name} promise is left on the platform"))
def _(name: str, clusters: Clusters) -> None:
    leftovers: list[str] = []
    for kind in ("Work", "WorkPlacement"):
        for obj in clusters.platform.list(ops.PROMISE_API, kind, labels={"kratix.io/promise-name": name}):
            leftovers.append(f"{kind}/{obj['metadata']['name']}")
    for crd_name in ops.crd_names_of_promise(name):
        if clusters.platform.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", crd_name) is not None:
            leftovers.append(f"CustomResourceDefinition/{crd_name}")
    assert not leftovers, f"left behind by Promise/{name}: {', '.join(leftovers)}"
