"""The kind target against recording stand-ins: exact commands, order, concurrency, deletion policy, kubeconfig."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from harness.kratix_install import InstallFiles, kind_host_ports
from harness.targets.base import Clusters, TargetError, TargetOptions
from harness.targets.kind import KindTarget, read_created_clusters
from harness.versions import load_versions

from .conftest import Standins

NODE_IMAGE = load_versions().kind.node_image
PLATFORM_PORTS = [31337, 31340, 31333]
WORKER_PORTS = [31338, 31339, 30269]


def make_target(tmp_path: Path, install_files: InstallFiles, **opts: object) -> tuple[KindTarget, list[Clusters]]:
    bootstrapped: list[Clusters] = []

    def bootstrap(clusters: Clusters) -> list:
        bootstrapped.append(clusters)
        return []

    options = TargetOptions(artifacts_dir=tmp_path / "artifacts", **opts)  # type: ignore[arg-type]
    return KindTarget(options, install_files=install_files, bootstrap=bootstrap), bootstrapped


def servers(standins: Standins, url: str) -> None:
    standins.update(kind={"servers": {"platform": url, "worker": url}})


def lifecycle_argvs(standins: Standins) -> list[list[str]]:
    """kind commands and cluster-changing kubectl commands, in order (preflight probes left out)."""
    return [a for a in standins.argvs() if (a[0] == "kind" and a[1] in ("create", "delete", "export"))
            or (a[:2] == ["kubectl", "config"] and a[2] in ("use-context", "unset"))]


def test_upstream_kind_configs_carry_the_port_mappings(install_files: InstallFiles) -> None:
    assert kind_host_ports(install_files.kind_platform_config) == PLATFORM_PORTS
    assert kind_host_ports(install_files.kind_worker_config) == WORKER_PORTS


def test_fresh_run_creates_both_clusters_in_parallel_then_deletes_them(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, api_endpoint: str
) -> None:
    servers(standins, api_endpoint)
    user_config_before = standins.user_kubeconfig.read_bytes()
    target, bootstrapped = make_target(tmp_path, install_files)
    kubeconfig = tmp_path / "artifacts" / "work" / "kubeconfig"

    target.preflight()
    assert [a[:2] for a in standins.argvs()][:4] == [
        ["docker", "info"], ["kind", "version"], ["kubectl", "version"], ["kind", "get"]]
    assert ["docker", "ps", "--format", "{{.Names}}|{{.Ports}}"] in standins.argvs("docker")
    assert not [a for a in standins.argvs("kind") if a[1] == "create"], "preflight must not create anything"

    clusters = target.setup()
    work = tmp_path / "artifacts" / "work"
    assert lifecycle_argvs(standins) == [
        *sorted(
            (["kind", "create", "cluster", "--name", name, "--image", NODE_IMAGE, "--config", str(config),
              "--kubeconfig", str(work / f"kubeconfig.{name}"), "--wait", "120s"]
             for name, config in (("platform", install_files.kind_platform_config),
                                  ("worker", install_files.kind_worker_config))),
            key=lambda argv: [c.argv for c in standins.calls()].index(argv)),
        ["kind", "export", "kubeconfig", "--name", "platform", "--kubeconfig", str(kubeconfig)],
        ["kind", "export", "kubeconfig", "--name", "worker", "--kubeconfig", str(kubeconfig)],
    ]
    creates = [c for c in standins.calls("kind") if c.argv[1] == "create"]
    assert {c.argv[4] for c in creates} == {"platform", "worker"}
    first, second = sorted(creates, key=lambda c: c.start)
    assert second.start < first.end, "the two clusters must be created concurrently"

    assert bootstrapped == [clusters]
    assert (clusters.platform.context, clusters.worker.context) == ("kind-platform", "kind-worker")
    assert clusters.kubeconfig == kubeconfig
    ours = yaml.safe_load(kubeconfig.read_text())
    assert {c["name"] for c in ours["contexts"]} == {"kind-platform", "kind-worker"}
    assert standins.user_kubeconfig.read_bytes() == user_config_before, "the user's kubeconfig must be untouched"
    assert target.created == ["platform", "worker"]
    assert set(read_created_clusters(target.state_path)) == {"platform", "worker"}
    assert not list(work.glob("kubeconfig.*")), "per-create kubeconfigs are temporary"

    target.teardown(failed=False)
    deletes = [a for a in standins.argvs("kind") if a[1] == "delete"]
    assert deletes == [["kind", "delete", "cluster", "--name", n, "--kubeconfig", str(kubeconfig)]
                       for n in ("platform", "worker")]
    assert read_created_clusters(target.state_path) == {}
    assert standins.user_kubeconfig.read_bytes() == user_config_before


def test_existing_healthy_clusters_are_reused_and_never_deleted(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, api_endpoint: str
) -> None:
    standins.add_cluster("platform", ports=PLATFORM_PORTS, server=api_endpoint)
    standins.add_cluster("worker", ports=WORKER_PORTS, server=api_endpoint)
    target, bootstrapped = make_target(tmp_path, install_files)
    target.preflight()
    target.setup()
    assert not [a for a in standins.argvs("kind") if a[1] == "create"]
    assert target.reused == ["platform", "worker"]
    assert target.created == []
    assert len(bootstrapped) == 1, "the bootstrap still runs (idempotent) on reused clusters"
    assert not [a for a in standins.argvs("docker") if a[1] == "ps"], "ports of reused clusters are theirs"
    target.teardown(failed=False)
    assert not [a for a in standins.argvs("kind") if a[1] == "delete"]


def test_only_the_missing_cluster_is_created_and_only_it_is_deleted(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, api_endpoint: str
) -> None:
    standins.add_cluster("platform", ports=PLATFORM_PORTS, server=api_endpoint)
    servers(standins, api_endpoint)
    target, _ = make_target(tmp_path, install_files)
    target.preflight()
    target.setup()
    assert [a[4] for a in standins.argvs("kind") if a[1] == "create"] == ["worker"]
    target.teardown(failed=False)
    assert [a[4] for a in standins.argvs("kind") if a[1] == "delete"] == ["worker"]


@pytest.mark.parametrize(
    ("opts", "failed", "deleted"),
    [
        ({}, False, ["platform", "worker"]),
        ({"keep_clusters": True}, False, []),
        ({"keep_on_failure": True}, True, []),
        ({"keep_on_failure": False}, True, ["platform", "worker"]),
        ({"keep_on_failure": True}, False, ["platform", "worker"]),
    ],
)
def test_deletion_policy(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, api_endpoint: str,
    opts: dict[str, bool], failed: bool, deleted: list[str],
) -> None:
    servers(standins, api_endpoint)
    target, _ = make_target(tmp_path, install_files, **opts)
    target.preflight()
    target.setup()
    target.teardown(failed=failed)
    assert [a[4] for a in standins.argvs("kind") if a[1] == "delete"] == deleted
    assert set(read_created_clusters(target.state_path)) == {"platform", "worker"} - set(deleted)


def test_stopped_cluster_is_reported_not_recreated(
    tmp_path: Path, standins: Standins, install_files: InstallFiles
) -> None:
    standins.add_cluster("platform", ports=PLATFORM_PORTS, running=False)
    target, _ = make_target(tmp_path, install_files)
    with pytest.raises(TargetError) as err:
        target.preflight()
    assert str(err.value) == (
        "cluster platform: kind cluster 'platform' exists but its node platform-control-plane is not running; "
        "fix: `docker start platform-control-plane`, or pass --recreate to replace the cluster")
    with pytest.raises(TargetError):
        target.setup()
    assert not [a for a in standins.argvs("kind") if a[1] in ("create", "delete")]


def test_unreachable_reused_cluster_stops_setup_before_any_creation(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, dead_endpoint: str, api_endpoint: str
) -> None:
    standins.add_cluster("platform", ports=PLATFORM_PORTS, server=dead_endpoint)
    standins.update(kind={"servers": {"platform": dead_endpoint, "worker": api_endpoint}})
    target, bootstrapped = make_target(tmp_path, install_files)
    target.preflight()
    with pytest.raises(TargetError, match=r"cannot reach the platform cluster .*pass --recreate"):
        target.setup()
    assert not [a for a in standins.argvs("kind") if a[1] in ("create", "delete")]
    assert bootstrapped == []


def test_name_clash_with_a_users_own_cluster(tmp_path: Path, standins: Standins, install_files: InstallFiles) -> None:
    standins.add_cluster("worker", ports=[8080])
    target, _ = make_target(tmp_path, install_files)
    with pytest.raises(TargetError) as err:
        target.preflight()
    message = str(err.value)
    assert message.startswith("cluster worker: kind cluster 'worker' exists but was not made from Kratix's "
                              "kind-worker-config.yaml (host ports 30269, 31338, 31339 not mapped)")
    assert "--recreate" in message
    assert "--target existing" in message
    assert len(message.splitlines()) == 1


def test_recreate_deletes_then_creates_and_the_run_owns_the_result(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, api_endpoint: str
) -> None:
    standins.add_cluster("platform", ports=PLATFORM_PORTS, running=False)
    standins.add_cluster("worker", ports=[8080])
    servers(standins, api_endpoint)
    target, _ = make_target(tmp_path, install_files, recreate=True)
    target.preflight()
    target.setup()
    changes = [[*a[:2], a[4]] for a in standins.argvs("kind") if a[1] in ("create", "delete")]
    assert changes[:2] == [["kind", "delete", "platform"], ["kind", "delete", "worker"]]
    assert sorted(changes[2:]) == [["kind", "create", "platform"], ["kind", "create", "worker"]]
    assert target.created == ["platform", "worker"]


def test_a_failed_creation_is_reported_and_only_the_created_cluster_is_deleted(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, api_endpoint: str
) -> None:
    servers(standins, api_endpoint)
    standins.update(kind={"fail_create": {"worker": "command \"docker run ... kindest/node\" failed: no space left"}})
    target, bootstrapped = make_target(tmp_path, install_files, keep_on_failure=False)
    target.preflight()
    with pytest.raises(TargetError, match=r"creating kind cluster 'worker' failed: .*no space left"):
        target.setup()
    assert target.created == ["platform"]
    assert bootstrapped == []
    target.teardown(failed=True)
    assert [a[4] for a in standins.argvs("kind") if a[1] == "delete"] == ["platform"]


def test_single_cluster_creates_only_the_platform(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, api_endpoint: str
) -> None:
    servers(standins, api_endpoint)
    target, _ = make_target(tmp_path, install_files, single_cluster=True)
    target.preflight()
    clusters = target.setup()
    assert [a[4] for a in standins.argvs("kind") if a[1] == "create"] == ["platform"]
    assert clusters.platform is clusters.worker


def test_use_default_kubeconfig_keeps_the_users_current_context(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, api_endpoint: str
) -> None:
    servers(standins, api_endpoint)
    target, _ = make_target(tmp_path, install_files, use_default_kubeconfig=True)
    target.preflight()
    clusters = target.setup()
    config = yaml.safe_load(standins.user_kubeconfig.read_text())
    assert config["current-context"] == "my-prod"
    assert {c["name"] for c in config["contexts"]} == {"my-prod", "kind-platform", "kind-worker"}
    assert clusters.kubeconfig is None
    exports = [a for a in standins.argvs("kind") if a[1] == "export"]
    assert exports == [["kind", "export", "kubeconfig", "--name", n] for n in ("platform", "worker")]
    assert lifecycle_argvs(standins)[-1] == ["kubectl", "config", "use-context", "my-prod"]
    target.teardown(failed=False)
    config = yaml.safe_load(standins.user_kubeconfig.read_text())
    assert config["current-context"] == "my-prod"
    assert {c["name"] for c in config["contexts"]} == {"my-prod"}


def test_use_default_kubeconfig_refuses_to_overwrite_a_users_kind_context(
    tmp_path: Path, standins: Standins, install_files: InstallFiles
) -> None:
    config = yaml.safe_load(standins.user_kubeconfig.read_text())
    config["contexts"].append({"name": "kind-platform", "context": {"cluster": "prod", "user": "me"}})
    standins.user_kubeconfig.write_text(yaml.safe_dump(config))
    target, _ = make_target(tmp_path, install_files, use_default_kubeconfig=True)
    with pytest.raises(TargetError, match=r"^kubeconfig: your kubeconfig has context\(s\) kind-platform but no such"):
        target.preflight()


def test_docker_not_running_fails_before_any_change(
    tmp_path: Path, standins: Standins, install_files: InstallFiles
) -> None:
    standins.update(docker={"running": False})
    target, _ = make_target(tmp_path, install_files)
    with pytest.raises(TargetError) as err:
        target.preflight()
    assert str(err.value) == (
        "docker: Docker daemon not reachable: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?; fix: start Docker (Docker Desktop, or `sudo systemctl start docker`) and "
        "make sure `docker info` works for this user")
    assert not [a for a in standins.argvs("kind") if a[1] != "version"]


def test_kind_missing_fails_before_any_change(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    standins.remove("kind")
    # Only the stand-ins' directory and the interpreter's: a real kind elsewhere on PATH must not be found.
    monkeypatch.setenv("PATH", f"{standins.bin}:/usr/bin:/bin")
    target, _ = make_target(tmp_path, install_files)
    with pytest.raises(TargetError) as err:
        target.preflight()
    assert str(err.value).splitlines() == [
        "kind: kind is not installed (not on PATH); fix: install kind v0.29.0: "
        "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"]


def test_old_kind_is_refused(tmp_path: Path, standins: Standins, install_files: InstallFiles) -> None:
    standins.update(kind={"version": "v0.20.0"})
    target, _ = make_target(tmp_path, install_files)
    with pytest.raises(TargetError, match=r"^kind: kind v0\.20\.0 go1\.24\.2 linux/amd64 is older than v0\.29\.0"):
        target.preflight()


def test_port_in_use_is_named_with_its_config(tmp_path: Path, standins: Standins, install_files: InstallFiles) -> None:
    with socket.socket() as holder:
        try:
            holder.bind(("0.0.0.0", 31339))
        except OSError:
            pytest.skip("port 31339 is already taken on this machine")
        holder.listen()
        target, _ = make_target(tmp_path, install_files)
        with pytest.raises(TargetError) as err:
            target.preflight()
    assert str(err.value) == (
        "ports: host port 31339 (kind-worker-config.yaml) is in use by another process; fix: stop what holds it "
        "(`docker ps`, `ss -ltnp`), or delete the old cluster")


def test_port_published_by_another_container_is_named(
    tmp_path: Path, standins: Standins, install_files: InstallFiles
) -> None:
    standins.update(docker={"containers": {"my-minio": {"running": True, "ports": [31337]}}})
    target, _ = make_target(tmp_path, install_files)
    with pytest.raises(TargetError, match=r"^ports: host port 31337 \(kind-platform-config\.yaml\) is published by "
                                          r"container my-minio"):
        target.preflight()


def test_every_preflight_problem_is_one_line(tmp_path: Path, standins: Standins, install_files: InstallFiles) -> None:
    standins.update(docker={"containers": {"web": {"running": True, "ports": [31338]}}})
    standins.add_cluster("platform", ports=[1234])
    target, _ = make_target(tmp_path, install_files)
    with pytest.raises(TargetError) as err:
        target.preflight()
    lines = str(err.value).splitlines()
    assert [line.split(":")[0] for line in lines] == ["cluster platform", "ports"]
    assert all("; fix: " in line for line in lines)
