from __future__ import annotations

import copy

import pytest

from harness.manifests import ManifestError, parse_yaml_documents
from harness.promise_edit import (
    PromiseEditError,
    add_containers,
    api_coordinates,
    containers,
    images,
    load_promise,
    swap_image,
)

PROMISE = {
    "apiVersion": "platform.kratix.io/v1alpha1",
    "kind": "Promise",
    "metadata": {"name": "postgresql"},
    "spec": {
        "api": {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "postgresqls.workshop.kratix.io"},
            "spec": {
                "group": "workshop.kratix.io",
                "names": {"kind": "postgresql", "plural": "postgresqls", "singular": "postgresql"},
                "scope": "Namespaced",
                "versions": [{"name": "v1", "served": True, "storage": True}],
            },
        },
        "workflows": {
            "resource": {
                "configure": [
                    {
                        "apiVersion": "platform.kratix.io/v1alpha1",
                        "kind": "Pipeline",
                        "metadata": {"name": "instance-configure"},
                        "spec": {"containers": [{"name": "postgresql-configure-pipeline", "image": "pipe:v0.1.0"}]},
                    }
                ]
            },
            "promise": {"configure": [{"kind": "Pipeline", "metadata": {"name": "deps"},
                                       "spec": {"containers": [{"name": "deps", "image": "deps:v1"}]}}]},
        },
    },
}


def test_swap_image_changes_only_that_container_and_copies():
    original = copy.deepcopy(PROMISE)
    edited = swap_image(PROMISE, pipeline="instance-configure", container="postgresql-configure-pipeline",
                        image="pipe:v0.2.0")
    assert [c["image"] for c in containers(edited, "instance-configure")] == ["pipe:v0.2.0"]
    assert original == PROMISE


def test_swap_image_names_what_is_missing():
    with pytest.raises(PromiseEditError, match="no resource/configure pipeline 'nope'; it has: instance-configure"):
        swap_image(PROMISE, pipeline="nope", container="x", image="y")
    with pytest.raises(PromiseEditError, match="no container 'x'; it has: postgresql-configure-pipeline"):
        swap_image(PROMISE, pipeline="instance-configure", container="x", image="y")


def test_add_containers_appends_in_order_and_is_idempotent():
    new = [{"name": "security-scanner", "image": "scan:v1"}, {"name": "external-notifier", "image": "notify:v1"}]
    once = add_containers(PROMISE, new, pipeline="instance-configure")
    twice = add_containers(once, new, pipeline="instance-configure")
    names = [c["name"] for c in containers(twice, "instance-configure")]
    assert names == ["postgresql-configure-pipeline", "security-scanner", "external-notifier"]
    assert once == twice
    assert [c["name"] for c in containers(PROMISE, "instance-configure")] == ["postgresql-configure-pipeline"]


def test_add_containers_after_a_named_container():
    first = add_containers(PROMISE, [{"name": "last", "image": "l:1"}], pipeline="instance-configure")
    second = add_containers(first, [{"name": "middle", "image": "m:1"}], pipeline="instance-configure",
                            after="postgresql-configure-pipeline")
    assert [c["name"] for c in containers(second, "instance-configure")] == [
        "postgresql-configure-pipeline", "middle", "last"]
    with pytest.raises(PromiseEditError, match="no container 'ghost' to insert after"):
        add_containers(PROMISE, [{"name": "x", "image": "x:1"}], pipeline="instance-configure", after="ghost")
    with pytest.raises(PromiseEditError, match="needs a name and an image"):
        add_containers(PROMISE, [{"name": "x"}], pipeline="instance-configure")


def test_images_and_api_coordinates():
    assert images(PROMISE) == ["pipe:v0.1.0", "deps:v1"]
    assert api_coordinates(PROMISE) == ("workshop.kratix.io/v1", "postgresql", "postgresqls.workshop.kratix.io")


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "promise.yaml"
    path.write_text("apiVersion: v1\nkind: Promise\nmetadata:\n  name: [broken\n")
    with pytest.raises(ManifestError, match=r"promise\.yaml:\d+:\d+: invalid YAML"):
        load_promise(path)
    with pytest.raises(ManifestError, match="document 1 is a list"):
        parse_yaml_documents("- a\n- b\n", source="x")
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(ManifestError, match="expected exactly one Promise, found 0"):
        load_promise(path)
