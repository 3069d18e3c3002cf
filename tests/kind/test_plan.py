"""``--plan`` for both tutorial features: complete, in order, and built from the same argv the run uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.kratix_install import InstallFiles
from harness.plan import PlannedAction, build_plan
from harness.targets.base import TargetOptions
from harness.targets.kind import KindTarget
from harness.tools import COMMAND_LOG, format_argv

from .conftest import REPO, Standins

PART3 = REPO / "features" / "customising-a-promise.feature"
WRITING = REPO / "features" / "writing-a-promise.feature"


def features() -> list[Path]:
    missing = [p for p in (PART3, WRITING) if not p.exists()]
    if missing:
        pytest.skip(f"feature files not present: {', '.join(map(str, missing))}")
    return [PART3, WRITING]


def details(actions: list[PlannedAction]) -> list[str]:
    return [a.detail for a in actions]


def index(actions: list[PlannedAction], text: str, start: int = 0) -> int:
    for i, action in enumerate(actions[start:], start):
        if text in action.detail:
            return i
    raise AssertionError(f"{text!r} not planned after position {start}:\n" + "\n".join(details(actions)))


def test_plan_runs_nothing_and_models_every_step(tmp_path: Path, install_files: InstallFiles) -> None:
    before = len(COMMAND_LOG.entries)
    plan = build_plan(features(), "kind", TargetOptions(artifacts_dir=tmp_path), install_files=install_files)
    assert len(COMMAND_LOG.entries) == before, "--plan must not run a command"
    assert not (tmp_path / "work").exists(), "--plan must not write the work dir"
    assert plan.unmodelled == [], "a Given/When step the plan does not know; add a rule in harness/plan.py"
    text = plan.render()
    assert text.startswith("Plan for --target kind (nothing has been run)\n  kind node image: kindest/node:")
    assert text.rstrip().splitlines()[-1].endswith("object writes")


def test_kind_plan_is_in_the_order_the_run_goes(tmp_path: Path, install_files: InstallFiles) -> None:
    actions = build_plan(features(), "kind", TargetOptions(artifacts_dir=tmp_path), install_files=install_files).actions
    order = [
        "docker info --format", "kind version", "kind get clusters",
        "kind create cluster --name platform", "kind create cluster --name worker",
        "kind export kubeconfig --name platform",
        "docker inspect --format '{{.NetworkSettings.Networks.kind.IPAddress}}' platform-control-plane",
        "--context kind-platform apply --filename " + str(tmp_path / "work" / "releases" / "cert-manager.yaml"),
        "wait Deployments cert-manager, cert-manager-cainjector, cert-manager-webhook",
        f"--context kind-platform apply --filename {install_files.minio_install}",
        "apply Job.batch/minio-create-bucket -n default",
        "--context kind-platform apply --filename " + str(tmp_path / "work" / "releases" / "kratix.yaml"),
        f"--context kind-worker apply --filename {install_files.gitops_install}",
        "apply CustomResourceDefinition.apiextensions.k8s.io/buckets.source.toolkit.fluxcd.io",
        "wait Deployment/kratix-platform-controller-manager",
        "apply BucketStateStore.platform.kratix.io/default",
        "apply Bucket.source.toolkit.fluxcd.io/kratix -n flux-system",
        "apply Destination.platform.kratix.io/worker-1",
        # Part 3: images before the promise that needs them
        "docker build --tag kratix-workshop/postgresql-configure-pipeline:v0.1.0",
        "kind load docker-image kratix-workshop/postgresql-configure-pipeline:v0.1.0 --name platform",
        "kind load docker-image kratix-workshop/postgresql-dependencies:v2.0.1 --name platform",
        "apply Promise/postgresql",
        "apply postgresql.workshop.kratix.io/example -n default",
        "delete Promise/postgresql",
        "kind load docker-image kratix-workshop/postgresql-configure-pipeline:v0.2.0 --name platform",
        "apply Promise/postgresql",
        "apply postgresql.workshop.kratix.io/sizes -n default",
        "apply (expected to be refused) postgresql.workshop.kratix.io/refused -n default",
        "kind load docker-image kratix-workshop/security-scanner:v0.1.0 --name platform",
        "kind load docker-image kratix-workshop/external-notifier:v0.1.0 --name platform",
        "delete Promise/postgresql",
        "apply Promise/postgresql",
        "delete Promise/postgresql",
        # Writing a Promise
        "kratix init promise database --group demo.kratix.io --kind Database",
        "kratix update api --property size:string",
        "https://raw.githubusercontent.com/zalando/postgres-operator/v2.0.1/manifests/postgres-operator.yaml",
        "kratix update dependencies ./deps/ --image kratix-guide/database-promise-pipeline:v0.1.0",
        "kratix add container resource/configure/database-configure",
        "kind load docker-image kratix-guide/database-resource-pipeline:v0.1.0 --name platform",
        "kind load docker-image kratix-guide/database-promise-pipeline:v0.1.0 --name platform",
        "apply Promise/database",
        "apply Database.demo.kratix.io/example-database -n default",
        "delete request example-database of Promise/database",
        "delete Promise/database",
        "kind delete cluster --name platform",
        "kind delete cluster --name worker",
    ]
    position = 0
    for text in order:
        position = index(actions, text, position) + 1


def test_images_are_planned_once_and_never_for_a_promise_already_installed(
    tmp_path: Path, install_files: InstallFiles
) -> None:
    actions = build_plan(features(), "kind", TargetOptions(artifacts_dir=tmp_path), install_files=install_files).actions
    loads = [d for d in details(actions) if d.startswith("kind load")]
    assert len(loads) == len(set(loads))
    assert sorted(d.split()[3] for d in loads) == sorted([
        "kratix-workshop/postgresql-configure-pipeline:v0.1.0", "kratix-workshop/postgresql-dependencies:v2.0.1",
        "kratix-workshop/postgresql-configure-pipeline:v0.2.0", "kratix-workshop/security-scanner:v0.1.0",
        "kratix-workshop/external-notifier:v0.1.0", "kratix-guide/database-resource-pipeline:v0.1.0",
        "kratix-guide/database-promise-pipeline:v0.1.0"])
    # "installed and Available" Givens after an install add nothing: 3 Part 3 installs + 1 database install.
    assert sum(1 for d in details(actions) if d.startswith("apply Promise/")) == 4


def test_plan_commands_are_the_commands_the_kind_target_runs(
    tmp_path: Path, standins: Standins, install_files: InstallFiles, api_endpoint: str
) -> None:
    options = TargetOptions(artifacts_dir=tmp_path / "artifacts")
    planned = {d for d in details(build_plan(features(), "kind", options, install_files=install_files).actions)}
    standins.update(kind={"servers": {"platform": api_endpoint, "worker": api_endpoint}})
    target = KindTarget(options, install_files=install_files, bootstrap=lambda clusters: [])
    target.preflight()
    target.setup()
    target.teardown(failed=False)
    ran = [format_argv(a) for a in standins.argvs() if a[0] in ("kind", "docker")]
    assert ran, "the stand-ins recorded nothing"
    assert [r for r in ran if r not in planned] == []


def test_keep_clusters_and_single_cluster_change_the_plan(tmp_path: Path, install_files: InstallFiles) -> None:
    options = TargetOptions(artifacts_dir=tmp_path, keep_clusters=True, single_cluster=True)
    plan = build_plan(features(), "kind", options, install_files=install_files)
    actions = plan.actions
    assert not [d for d in details(actions) if "--name worker" in d]
    assert [a.note for a in actions if a.detail.startswith("kind delete cluster")] == ["not run: --keep-clusters"]
    assert "apply Destination.platform.kratix.io/platform-cluster" in details(actions)
    flux = next(a for a in actions if "gitops-tk-install.yaml" in a.detail and a.kind == "command")
    assert "--context kind-platform" in flux.detail
    bucket = next(a for a in actions if a.detail.startswith("apply Bucket.source.toolkit.fluxcd.io/kratix"))
    assert bucket.note == "endpoint minio.kratix-platform-system.svc.cluster.local"


def test_use_default_kubeconfig_plan_restores_the_context(tmp_path: Path, install_files: InstallFiles) -> None:
    options = TargetOptions(artifacts_dir=tmp_path, use_default_kubeconfig=True)
    actions = details(build_plan(features(), "kind", options, install_files=install_files).actions)
    assert "kind export kubeconfig --name platform" in actions
    assert actions.index("kubectl config current-context") < actions.index("kubectl config use-context "
                                                                            "<your current context>")
    ours = "--kubeconfig " + str(tmp_path / "work" / "kubeconfig")
    assert not [d for d in actions if f"{ours} " in d or d.endswith(ours)], "the harness' own kubeconfig is unused"


def test_sim_and_existing_plans_run_no_cluster_commands(tmp_path: Path, install_files: InstallFiles) -> None:
    for target, options in (("sim", TargetOptions(artifacts_dir=tmp_path)),
                            ("existing", TargetOptions(artifacts_dir=tmp_path, platform_context="gke_prod",
                                                       worker_context="gke_dev"))):
        actions = build_plan(features(), target, options, install_files=install_files).actions
        commands = [a.detail for a in actions if a.kind == "command"]
        assert all(c.startswith("kratix ") for c in commands), commands
        assert "apply Promise/postgresql" in details(actions)
        if target == "sim":
            assert "apply Destination.platform.kratix.io/worker-1" in details(actions)
        else:
            assert "apply Destination.platform.kratix.io/worker-1" not in details(actions)
            assert "image kratix-workshop/postgresql-configure-pipeline:v0.1.0" not in details(actions)


def test_an_unknown_step_is_listed_not_dropped(tmp_path: Path, install_files: InstallFiles) -> None:
    feature = tmp_path / "odd.feature"
    feature.write_text(
        "Feature: Odd\n"
        "  Scenario: Something new\n"
        '    Given the promise "postgres-full" is installed and Available\n'
        "    When the platform engineer restarts the Kratix controller\n"
        "    Then nothing breaks\n")
    plan = build_plan([feature], "sim", TargetOptions(artifacts_dir=tmp_path), install_files=install_files)
    assert plan.unmodelled == ["odd.feature: When the platform engineer restarts the Kratix controller"]
    assert "steps the plan does not model" in plan.render()
