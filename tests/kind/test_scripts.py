"""scripts/quick-start and scripts/teardown, end to end: stand-in kind/docker/kubectl, emulated API servers."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from harness import waits
from harness.targets.kind import read_created_clusters

from .conftest import KRATIX_CRDS, REPO, Standins, need_upstream
from .simapi import KRATIX, SimClusters, sim_clusters


def script(name: str) -> ModuleType:
    path = REPO / "scripts" / name
    loader = importlib.machinery.SourceFileLoader(f"script_{name.replace('-', '_')}", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def sim(tmp_path: Path, standins: Standins, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimClusters]:
    """The kind stand-in's clusters answer from two emulated API servers seeded as after the install."""
    need_upstream()
    before = waits.get_scale()
    waits.set_scale(0.05)
    releases = tmp_path / "releases-mirror"
    releases.mkdir()
    (releases / "cert-manager.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cert-manager\n")
    # Like the real kratix.yaml, it declares the namespace minio-install.yaml declares too (with labels).
    (releases / "kratix.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kratix-platform-"
                                          "system\n  labels:\n    control-plane: controller-manager\n")
    monkeypatch.setenv("KRATIX_E2E_RELEASES_MIRROR", str(releases))
    with sim_clusters(tmp_path, KRATIX_CRDS) as clusters:
        standins.update(kind={"servers": {"platform": clusters.platform_api.url, "worker": clusters.worker_api.url}})
        yield clusters
    waits.set_scale(before)


def test_quick_start_creates_bootstraps_and_prints_the_exports(
    tmp_path: Path, standins: Standins, sim: SimClusters, capsys: pytest.CaptureFixture[str]
) -> None:
    artifacts = tmp_path / "artifacts"
    code = script("quick-start").main(["--artifacts-dir", str(artifacts)])
    out, err = capsys.readouterr()
    assert code == 0, err
    kubeconfig = artifacts / "work" / "kubeconfig"
    assert out.splitlines() == [f"export KUBECONFIG={kubeconfig}", "export PLATFORM=kind-platform",
                                "export WORKER=kind-worker"]
    assert "quick-start: kind node image: kindest/node:v1.33.1" in err
    assert "quick-start: changed destination worker-1: Destination/worker-1 created" in err
    assert "quick-start: ok      worker ready: namespace kratix-worker-system" in err

    applies = [a[a.index("--filename") + 1] for a in standins.argvs("kubectl") if "apply" in a]
    releases = artifacts / "work" / "releases"
    assert applies[0] == str(releases / "cert-manager.yaml")
    assert applies[2] == str(releases / "kratix.yaml")
    assert applies[1].endswith("minio-install.yaml")
    assert applies[3].endswith("gitops-tk-install.yaml")
    platform_ip = standins.state()["docker"]["containers"]["platform-control-plane"]["ip"]
    bucket = sim.clusters.worker.get("source.toolkit.fluxcd.io/v1beta2", "Bucket", "kratix", "flux-system")
    assert bucket is not None
    assert bucket["spec"]["endpoint"] == f"{platform_ip}:31337"
    assert sim.clusters.platform.get(KRATIX, "Destination", "worker-1") is not None
    assert set(read_created_clusters(artifacts / "work" / "kind-clusters.json")) == {"platform", "worker"}
    assert not [a for a in standins.argvs("kind") if a[1] == "delete"], "quick-start never deletes"

    # Run it again: both clusters reused, every bootstrap step already done.
    capsys.readouterr()
    assert script("quick-start").main(["--artifacts-dir", str(artifacts)]) == 0
    _, err = capsys.readouterr()
    assert len([a for a in standins.argvs("kind") if a[1] == "create"]) == 2
    steps = [line.rsplit(" (", 1)[0] for line in err.splitlines() if line.startswith("quick-start: changed")]
    # Upstream's minio-install.yaml and kratix.yaml both declare Namespace kratix-platform-system (differently;
    # kratix.yaml's comes from kubebuilder's manager config), so client-side apply flips that one object on
    # every re-run. Nothing else changes.
    assert steps == ["quick-start: changed minio: 1 configured, 7 unchanged",
                     "quick-start: changed kratix: 1 configured"]

    # And take it down: only what the suite created.
    assert script("teardown").main(["--artifacts-dir", str(artifacts)]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == ["teardown: deleted: platform", "teardown: deleted: worker"]
    assert read_created_clusters(artifacts / "work" / "kind-clusters.json") == {}


def test_quick_start_fails_in_one_line_before_any_change(
    tmp_path: Path, standins: Standins, capsys: pytest.CaptureFixture[str]
) -> None:
    need_upstream()
    standins.update(docker={"running": False})
    code = script("quick-start").main(["--artifacts-dir", str(tmp_path / "artifacts")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.splitlines()[-1].startswith("quick-start: docker: Docker daemon not reachable: Cannot connect")
    assert not [a for a in standins.argvs("kind") if a[1] in ("create", "delete")]


def test_quick_start_plan_runs_nothing(tmp_path: Path, standins: Standins, capsys: pytest.CaptureFixture[str]) -> None:
    code = script("quick-start").main(["--artifacts-dir", str(tmp_path / "artifacts"), "--plan", "--single-cluster"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "kind create cluster --name platform" in out
    assert "--name worker" not in out
    assert standins.calls() == []


def test_teardown_leaves_a_users_own_cluster_alone(tmp_path: Path, standins: Standins,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    standins.add_cluster("worker", ports=[31338])
    assert script("teardown").main(["--artifacts-dir", str(tmp_path / "artifacts")]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == ["teardown: left alone: kind cluster 'worker' was not created by this suite "
                                "(delete it yourself: kind delete cluster --name worker)"]
    assert not [a for a in standins.argvs("kind") if a[1] == "delete"]
