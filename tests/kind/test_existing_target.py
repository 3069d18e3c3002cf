"""``--target existing``: the user's contexts, checked before anything runs, never changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness import waits
from harness.bootstrap import register_platform
from harness.kratix_install import InstallFiles
from harness.targets.base import TargetError, TargetOptions
from harness.targets.existing import ExistingTarget

from .conftest import KRATIX_CRDS, need_upstream
from .simapi import SimClusters, sim_clusters


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimClusters]:
    need_upstream()
    before = waits.get_scale()
    waits.set_scale(0.05)
    with sim_clusters(tmp_path, KRATIX_CRDS) as clusters:
        yield clusters
    waits.set_scale(before)


def writes(sim: SimClusters) -> list[tuple[str, str]]:
    return [(m, p) for api in (sim.platform_api, sim.worker_api) for m, p in api.request_log()
            if m in ("POST", "PUT", "PATCH", "DELETE")]


def test_contexts_default_to_platform_and_worker_variables(tmp_path: Path) -> None:
    target = ExistingTarget(TargetOptions(artifacts_dir=tmp_path), env={"PLATFORM": "kind-platform",
                                                                       "WORKER": "kind-worker"})
    assert (target.platform_context, target.worker_context) == ("kind-platform", "kind-worker")
    flags = ExistingTarget(TargetOptions(artifacts_dir=tmp_path, platform_context="a", worker_context="b"),
                           env={"PLATFORM": "kind-platform", "WORKER": "kind-worker"})
    assert (flags.platform_context, flags.worker_context) == ("a", "b")


def test_missing_contexts_are_one_clear_line(tmp_path: Path) -> None:
    target = ExistingTarget(TargetOptions(artifacts_dir=tmp_path), env={"PLATFORM": "kind-platform"})
    with pytest.raises(TargetError) as err:
        target.preflight()
    assert str(err.value) == (
        "--target existing needs --worker-context (or $WORKER): the kubeconfig contexts of your platform and "
        "worker clusters (e.g. export PLATFORM=kind-platform WORKER=kind-worker)")


def test_a_context_that_does_not_exist_is_named(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "mine",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "mine", "context": {"cluster": "c", "user": "u"}}]}))
    target = ExistingTarget(TargetOptions(artifacts_dir=tmp_path, platform_context="mine", worker_context="wrkr"),
                            env={"KUBECONFIG": str(kubeconfig)})
    with pytest.raises(TargetError) as err:
        target.preflight()
    lines = str(err.value).splitlines()
    assert lines[0].startswith("cannot reach the platform cluster (context 'mine', server http://127.0.0.1:9)")
    assert lines[1].startswith("context 'wrkr' (worker) not found in kubeconfig")
    assert lines[1].endswith("available: mine")


def test_healthy_platform_is_used_without_a_single_write(sim: SimClusters, tmp_path: Path,
                                                         install_files: InstallFiles) -> None:
    register_platform(sim.clusters, platform_address="172.18.0.9", files=install_files)
    before = len(writes(sim))
    target = ExistingTarget(TargetOptions(artifacts_dir=tmp_path), env={
        "PLATFORM": "kind-platform", "WORKER": "kind-worker", "KUBECONFIG": str(sim.clusters.kubeconfig)})
    target.preflight()
    clusters = target.setup()
    target.teardown(failed=True)
    assert (clusters.platform.context, clusters.worker.context) == ("kind-platform", "kind-worker")
    assert [o.step for o in target.bootstrap_outcomes] == [
        "kratix controller available", "destination ready", "worker ready"]
    assert len(writes(sim)) == before


def test_a_platform_without_kratix_is_reported_with_the_fix(sim: SimClusters, tmp_path: Path) -> None:
    sim.clusters.platform.delete("apps/v1", "Deployment", "kratix-platform-controller-manager",
                                 "kratix-platform-system")
    options = TargetOptions(artifacts_dir=tmp_path, platform_context="kind-platform", worker_context="kind-worker")
    target = ExistingTarget(options, env={"KUBECONFIG": str(sim.clusters.kubeconfig)})
    target.preflight()
    with pytest.raises(TargetError) as err:
        target.setup()
    assert str(err.value) == (
        "bootstrap step 'kratix controller available' failed: no Deployment kratix-platform-controller-manager in "
        "kratix-platform-system on context 'kind-platform'; install Kratix first (scripts/quick-start, or "
        "Kratix's own quick-start.sh)")


def test_images_on_a_non_kind_platform_are_left_to_the_registry(tmp_path: Path) -> None:
    target = ExistingTarget(TargetOptions(artifacts_dir=tmp_path, platform_context="gke_prod",
                                          worker_context="gke_dev"), env={})
    assert target.image_loader() is None
    target.prepare_images({"spec": {"workflows": {"resource": {"configure": [
        {"spec": {"containers": [{"name": "a", "image": "kratix-workshop/security-scanner:v0.1.0"}]}}]}}}})
    assert target.notes == ["context 'gke_prod' is not a kind cluster: images "
                            "(kratix-workshop/security-scanner:v0.1.0) must be pullable by it"]
    kind = ExistingTarget(TargetOptions(artifacts_dir=tmp_path, platform_context="kind-platform",
                                        worker_context="kind-worker"), env={})
    loader = kind.image_loader()
    assert loader is not None
    assert loader.cluster == "platform"
