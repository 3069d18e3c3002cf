"""Objects rendered from upstream install data, as quick-start/install-gitops/register-destination do, validated
against the real Kratix and Flux CRDs."""

from __future__ import annotations

from typing import Any

import pytest

from harness.bootstrap import Registration, registration_objects
from harness.kratix_install import (
    InstallDataError,
    InstallFiles,
    bucket_endpoint,
    default_mirror,
    ensure_kratix_crds,
    flux_prefix_for_context,
    minio_node_port,
    render_bucket_state_store,
    render_destination,
    render_gitops_resources,
)
from harness.manifests import load_yaml_document, load_yaml_documents
from harness.schema import CrdValidator

from .conftest import KRATIX_CRDS, need_upstream


def kratix_validator(plural: str) -> CrdValidator:
    need_upstream()
    return CrdValidator.for_crd(load_yaml_document(KRATIX_CRDS / f"platform.kratix.io_{plural}.yaml"))


def flux_validators(files: InstallFiles) -> dict[str, CrdValidator]:
    """The Flux CRDs shipped in gitops-tk-install.yaml, by kind (Bucket, Kustomization)."""
    validators = {}
    for doc in load_yaml_documents(files.gitops_install):
        if doc.get("kind") == "CustomResourceDefinition":
            kind = doc["spec"]["names"]["kind"]
            versions = [v["name"] for v in doc["spec"]["versions"]]
            wanted = {"Bucket": "v1beta2", "Kustomization": "v1"}.get(kind)
            if wanted in versions:
                validators[kind] = CrdValidator.for_crd(doc, wanted)
    return validators


def by_kind_name(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_bucket_state_store_is_upstreams_sample_and_valid(install_files: InstallFiles) -> None:
    store = render_bucket_state_store(install_files)
    assert store["metadata"]["name"] == "default"
    assert store["spec"]["endpoint"] == "minio.kratix-platform-system.svc.cluster.local"
    kratix_validator("bucketstatestores").validate(store)


@pytest.mark.parametrize(
    ("name", "labels", "path"),
    [("worker-1", {"environment": "dev"}, None), ("worker-cluster", {"environment": "dev"}, "worker-cluster"),
     ("platform-cluster", {}, None)],
)
def test_destination_as_register_destination_writes_it(
    install_files: InstallFiles, name: str, labels: dict[str, str], path: str | None
) -> None:
    dest = render_destination(install_files, name=name, labels=labels, path=path)
    assert dest["metadata"]["name"] == name
    assert dest["metadata"].get("labels", {}) == labels
    assert dest["spec"]["path"] == (path or name)
    assert dest["spec"]["stateStoreRef"] == {"name": "default", "kind": "BucketStateStore"}
    kratix_validator("destinations").validate(dest)


def test_a_destination_the_crd_rejects_is_caught_by_the_validator(install_files: InstallFiles) -> None:
    dest = render_destination(install_files, name="w", labels={}, state_store_kind="S3StateStore")
    problems = kratix_validator("destinations").violations(dest)
    assert [p.path for p in problems] == ["spec.stateStoreRef.kind"]


def test_gitops_resources_carry_the_platform_address_and_renames(install_files: InstallFiles) -> None:
    endpoint = bucket_endpoint("172.18.0.3", install_files)
    docs = render_gitops_resources(install_files, path="worker-1", flux_prefix="worker", endpoint=endpoint)
    objs = by_kind_name(docs)
    assert set(objs) == {("Bucket", "kratix"), ("Secret", "minio-credentials"),
                         ("Kustomization", "kratix-worker-resources"), ("Kustomization", "kratix-worker-dependencies")}
    assert objs["Bucket", "kratix"]["spec"]["endpoint"] == "172.18.0.3:31337"
    assert objs["Bucket", "kratix"]["spec"]["bucketName"] == "kratix"
    resources = objs["Kustomization", "kratix-worker-resources"]["spec"]
    assert resources["path"] == "./worker-1/resources"
    assert resources["dependsOn"] == [{"name": "kratix-worker-dependencies"}]
    assert objs["Kustomization", "kratix-worker-dependencies"]["spec"]["path"] == "./worker-1/dependencies"
    assert all(d["metadata"]["namespace"] == "flux-system" for d in docs)
    validators = flux_validators(install_files)
    assert set(validators) == {"Bucket", "Kustomization"}
    for doc in docs:
        if doc["kind"] in validators:
            validators[doc["kind"]].validate(doc)


def test_gitops_resources_for_another_path_and_context(install_files: InstallFiles) -> None:
    docs = render_gitops_resources(install_files, path="worker-cluster",
                                   flux_prefix=flux_prefix_for_context("kind-worker"), endpoint="10.0.0.7:31337")
    paths = sorted(d["spec"]["path"] for d in docs if d["kind"] == "Kustomization")
    assert paths == ["./worker-cluster/dependencies", "./worker-cluster/resources"]


def test_single_cluster_resources_keep_the_in_cluster_endpoint(install_files: InstallFiles) -> None:
    registration = Registration.single_cluster_platform()
    objects = registration_objects(install_files, registration)
    where, first = objects[0]
    assert (where, first["kind"]) == ("platform", "BucketStateStore")
    assert objects[-1][1]["metadata"]["name"] == "platform-cluster"
    bucket = next(o for _, o in objects if o["kind"] == "Bucket")
    assert bucket["spec"]["endpoint"] == "minio.kratix-platform-system.svc.cluster.local"
    names = sorted(o["metadata"]["name"] for _, o in objects if o["kind"] == "Kustomization")
    assert names == ["kratix-platform-dependencies", "kratix-platform-resources"]


def test_registration_order_is_state_store_gitops_destination(install_files: InstallFiles) -> None:
    objects = registration_objects(install_files, Registration.worker(bucket_endpoint="1.2.3.4:31337"))
    assert [(where, o["kind"]) for where, o in objects] == [
        ("platform", "BucketStateStore"), ("worker", "Bucket"), ("worker", "Secret"),
        ("worker", "Kustomization"), ("worker", "Kustomization"), ("platform", "Destination")]


def test_rendering_does_not_modify_the_upstream_files(install_files: InstallFiles) -> None:
    before = install_files.gitops_resources.read_bytes()
    render_gitops_resources(install_files, path="p", flux_prefix="x", endpoint="e:1")
    assert install_files.gitops_resources.read_bytes() == before


def test_minio_node_port_comes_from_upstreams_service(install_files: InstallFiles) -> None:
    assert minio_node_port(install_files) == 31337


def test_flux_prefix_follows_install_gitops() -> None:
    assert flux_prefix_for_context("kind-worker") == "worker"
    assert flux_prefix_for_context("kind-platform") == "platform"
    assert flux_prefix_for_context("sim-worker-2") == "worker"
    assert flux_prefix_for_context("prod") == "prod"


def test_changed_upstream_shape_fails_loudly(tmp_path: Any, install_files: InstallFiles) -> None:
    broken_dir = tmp_path / "broken"
    broken_dir.mkdir()
    for field in InstallFiles.__dataclass_fields__:
        if field != "directory":
            source = getattr(install_files, field)
            (broken_dir / source.name).write_bytes(source.read_bytes())
    (broken_dir / "gitops-tk-resources.yaml").write_text(
        install_files.gitops_resources.read_text().replace("./worker-1/resources", "./elsewhere/resources"))
    with pytest.raises(InstallDataError,
                       match=r"gitops-tk-resources\.yaml: Kustomization path './elsewhere/resources'"):
        render_gitops_resources(InstallFiles.in_directory(broken_dir), path="w", flux_prefix="w", endpoint=None)


def test_mirror_defaults_to_env_then_shared_upstream(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    need_upstream()
    monkeypatch.delenv("KRATIX_E2E_KRATIX_MIRROR", raising=False)
    assert default_mirror() == KRATIX_CRDS.parent / "kratix-install"
    monkeypatch.setenv("KRATIX_E2E_KRATIX_MIRROR", str(tmp_path))
    assert default_mirror() == tmp_path


def test_kratix_crds_fetched_from_the_mirror_are_the_eleven(tmp_path: Any) -> None:
    need_upstream()
    directory = ensure_kratix_crds(cache_dir=tmp_path / "crds", mirror=KRATIX_CRDS)
    names = sorted(p.name for p in directory.glob("*.yaml"))
    assert names == sorted(p.name for p in KRATIX_CRDS.glob("*.yaml"))
    assert len(names) == 11
