"""The promise files themselves: valid against the real CRDs, consistent with their image manifests."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.images import default_base_image, images_for_promise, load_image_catalog, pipeline_containers
from harness.manifests import ManifestError, load_yaml_documents
from harness.promise_edit import containers
from harness.schema import CrdValidator
from tests.promises.conftest import (
    PROMISE_DIRS,
    PROMISES,
    ZALANDO,
    api_validator,
    example_request,
    extended_promise_clean,
    promise_doc,
    promise_docs_as_taught,
)


@pytest.mark.parametrize("promise", PROMISE_DIRS)
def test_promise_validates_against_the_kratix_promise_crd(promise: str, kratix_promise_crd: CrdValidator) -> None:
    kratix_promise_crd.validate(promise_doc(promise), source=f"promises/{promise}/promise.yaml")


def _schema_nodes(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for key, child in (node.get("properties") or {}).items():
        yield from _schema_nodes(child, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        yield from _schema_nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _schema_nodes(node["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("promise", PROMISE_DIRS)
def test_promise_api_is_a_structural_schema(promise: str) -> None:
    """Kubernetes rejects a CRD whose schema nodes lack a type (unless int-or-string / preserve-unknown)."""
    api = promise_doc(promise)["spec"]["api"]
    assert api["kind"] == "CustomResourceDefinition"
    [version] = api["spec"]["versions"]
    untyped = [
        path
        for path, node in _schema_nodes(version["schema"]["openAPIV3Schema"], "")
        if "type" not in node
        and not node.get("x-kubernetes-int-or-string")
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ]
    assert untyped == []


@pytest.mark.parametrize("promise", PROMISE_DIRS)
def test_example_request_validates_against_its_promise_api(promise: str) -> None:
    request = example_request(promise)
    api = promise_doc(promise)["spec"]["api"]
    group, _version = request["apiVersion"].split("/")
    assert (group, request["kind"]) == (api["spec"]["group"], api["spec"]["names"]["kind"])
    api_validator(promise).validate(request)


def test_postgres_names_match_the_workshop() -> None:
    for promise in ("postgres-full", "promise-clean"):
        doc = promise_doc(promise)
        assert doc["metadata"]["name"] == "postgresql"
        crd = doc["spec"]["api"]
        assert crd["metadata"]["name"] == "postgresqls.workshop.kratix.io"
        assert crd["spec"]["scope"] == "Namespaced"
        assert [v["name"] for v in crd["spec"]["versions"]] == ["v1"]
        [pipeline] = doc["spec"]["workflows"]["resource"]["configure"]
        assert pipeline["metadata"]["name"] == "instance-configure"


def test_postgres_full_api_types_every_field_as_the_operator_does(upstream) -> None:
    """Every field of our low-level API has the Zalando v2.0.1 type, enum, pattern, format and bounds."""
    zalando = load_yaml_documents(ZALANDO / "postgresql.crd.yaml")[0]
    theirs = dict(_schema_nodes(zalando["spec"]["versions"][0]["schema"]["openAPIV3Schema"], ""))
    ours = promise_doc("postgres-full")["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    compared = 0
    for path, node in _schema_nodes(ours, ""):
        if path == "":
            continue
        assert path in theirs, f"{path} is not a field of the Zalando postgresql CRD"
        for key in ("type", "enum", "pattern", "format", "minimum", "maximum", "nullable"):
            assert node.get(key) == theirs[path].get(key), f"{path}: {key}"
        if path != ".spec" or "required" in node:
            assert sorted(node.get("required", [])) == sorted(theirs[path].get("required", [])), path
        compared += 1
    assert compared > 60


def test_full_request_uses_only_fields_the_api_declares_and_rejects_others() -> None:
    validator = api_validator("postgres-full")
    request = example_request("postgres-full")
    request["spec"]["volume"]["sise"] = "1Gi"
    request["spec"]["numberOfInstances"] = "one"

    problems = [str(p) for p in validator.violations(request)]

    assert problems == ["spec.numberOfInstances: 'one' is not of type 'integer'", "spec.volume.sise: unknown field"]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"size": "tiny", "requester": "r"}, "spec.size: 'tiny' does not match '^(small|medium|large)$'"),
        ({"size": "small"}, "spec.requester: Required value"),
        ({"requester": "r", "teamId": "acid"}, "spec.teamId: unknown field"),
    ],
)
def test_promise_clean_api_rejects_bad_requests(spec: dict[str, Any], problem: str) -> None:
    request = example_request("promise-clean")
    request["spec"] = spec

    assert [str(p) for p in api_validator("promise-clean").violations(request)] == [problem]


def test_promise_clean_api_defaults() -> None:
    request = example_request("promise-clean")
    request["spec"] = {"requester": "r"}

    assert api_validator("promise-clean").with_defaults(request)["spec"] == {
        "requester": "r",
        "size": "small",
        "dbName": "postgres",
    }


def test_database_promise_is_what_the_cli_writes() -> None:
    doc = promise_doc("database")
    assert doc["metadata"] == {"labels": {"kratix.io/promise-version": "v0.0.1"}, "name": "database"}
    crd = doc["spec"]["api"]
    assert crd["metadata"]["name"] == "databases.demo.kratix.io"
    assert crd["spec"]["names"] == {"kind": "Database", "plural": "databases", "singular": "database"}
    [version] = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1"
    assert version["schema"]["openAPIV3Schema"]["properties"]["spec"] == {
        "default": {},
        "properties": {"size": {"type": "string"}},
        "type": "object",
    }
    containers = [(c.workflow, c.action, c.pipeline, c.name, c.image) for c in pipeline_containers(doc)]
    assert containers == [
        ("promise", "configure", "dependencies", "configure-deps", "kratix-guide/database-promise-pipeline:v0.1.0"),
        (
            "resource",
            "configure",
            "database-configure",
            "kratix-guide-database-resource-pipeline",
            "kratix-guide/database-resource-pipeline:v0.1.0",
        ),
    ]
    assert "dependencies" not in doc["spec"]  # `update dependencies --image` clears them
    assert example_request("database") == {
        "apiVersion": "demo.kratix.io/v1alpha1",
        "kind": "Database",
        "metadata": {"name": "example-database"},
        "spec": {"size": "1Gi"},
    }


def test_notifier_reads_its_webhook_from_an_optional_secret() -> None:
    [notifier] = [c for c in pipeline_containers(extended_promise_clean()) if c.name == "external-notifier"]
    [env] = notifier.spec["env"]
    assert env["name"] == "NOTIFIER_WEBHOOK_URL"
    assert env["valueFrom"]["secretKeyRef"]["optional"] is True
    assert "value" not in env


# --- images.yaml ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("promise", PROMISE_DIRS)
def test_promise_uses_exactly_the_images_it_needs(promise: str) -> None:
    """Every image in promise.yaml is declared, and every image the promise lists is used by it."""
    catalog = load_image_catalog()
    used = {c.image for c in pipeline_containers(promise_docs_as_taught(promise))}
    needed = {spec.ref for spec in images_for_promise(promise)}

    assert used <= set(catalog), f"undeclared: {used - set(catalog)}"
    assert used == needed


def test_every_declared_image_is_used_by_some_promise() -> None:
    used = {c.image for p in PROMISE_DIRS for c in pipeline_containers(promise_docs_as_taught(p))}
    assert set(load_image_catalog()) == used


def test_image_names_are_the_agreed_ones() -> None:
    assert set(load_image_catalog()) == {
        "kratix-workshop/postgresql-configure-pipeline:v0.1.0",
        "kratix-workshop/postgresql-configure-pipeline:v0.2.0",
        "kratix-workshop/security-scanner:v0.1.0",
        "kratix-workshop/external-notifier:v0.1.0",
        "kratix-workshop/postgresql-dependencies:v2.0.1",
        "kratix-guide/database-promise-pipeline:v0.1.0",
        "kratix-guide/database-resource-pipeline:v0.1.0",
    }


def test_each_image_has_its_own_dockerfile_with_an_overridable_base() -> None:
    """Python containers default to the pinned official image, shell ones to alpine."""
    python_base = yaml.safe_load((PROMISES.parent / "versions.yaml").read_text())["python_base_image"]
    dockerfiles = [spec.dockerfile for spec in load_image_catalog().values()]
    assert len(set(dockerfiles)) == len(dockerfiles)
    for spec in load_image_catalog().values():
        text = spec.dockerfile.read_text()
        assert text.count("ARG BASE_IMAGE=") == 1, spec.ref
        assert "FROM ${BASE_IMAGE}" in text, spec.ref
        assert (spec.context / spec.local_command[1]).is_file(), spec.ref
        expected = python_base if spec.local_command[0] == "python" else "alpine:3.20"
        assert default_base_image(spec) == expected, spec.ref


def _copy_promises(tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "promises"
    shutil.copytree(PROMISES, root)
    return root


def test_catalog_names_the_file_and_line_of_a_broken_manifest(tmp_path: Path) -> None:
    root = _copy_promises(tmp_path)
    manifest = root / "database" / "images.yaml"
    manifest.write_text("images:\n  - ref: a/b:v1\n    context: a: b\n")

    with pytest.raises(ManifestError, match=rf"^{manifest}:3:\d+: invalid YAML"):
        load_image_catalog(root)


def test_catalog_rejects_a_duplicate_reference(tmp_path: Path) -> None:
    root = _copy_promises(tmp_path)
    manifest = root / "database" / "images.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "kratix-guide/database-resource-pipeline:v0.1.0", "kratix-workshop/security-scanner:v0.1.0"
        )
    )

    with pytest.raises(ManifestError, match=r"security-scanner:v0\.1\.0 is already declared by promise"):
        load_image_catalog(root)


def test_catalog_rejects_a_missing_context(tmp_path: Path) -> None:
    root = _copy_promises(tmp_path)
    manifest = root / "database" / "images.yaml"
    manifest.write_text(manifest.read_text().replace("context: workflows/promise", "context: nowhere/promise"))

    with pytest.raises(ManifestError, match=r"images\[0\]\.context 'nowhere/promise.*' is not a directory"):
        load_image_catalog(root)


def test_catalog_rejects_an_undeclared_use(tmp_path: Path) -> None:
    root = _copy_promises(tmp_path)
    manifest = root / "promise-clean" / "images.yaml"
    manifest.write_text(manifest.read_text().replace("postgresql-dependencies:v2.0.1", "postgresql-deps:v9"))

    with pytest.raises(ManifestError, match="uses image kratix-workshop/postgresql-deps:v9, which no promise"):
        load_image_catalog(root)


def test_the_feature_shows_exactly_the_extra_containers() -> None:
    """The Part 3 feature's docstring and extra-containers.yaml say the same thing, as data."""
    feature = (PROMISES.parent / "features" / "customising-a-promise.feature").read_text()
    step = feature.split('pipeline gains the containers:')[1]
    block = step.split('"""')[1].removeprefix("yaml\n")
    shown = yaml.safe_load(textwrap.dedent(block))
    assert shown == yaml.safe_load((PROMISES / "promise-clean" / "extra-containers.yaml").read_text())
    assert [c["name"] for c in containers(extended_promise_clean(), "instance-configure")] == [
        "postgresql-configure-pipeline", "security-scanner", "external-notifier"]
