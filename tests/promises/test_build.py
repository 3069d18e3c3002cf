"""Image builds without a daemon: assembled contexts, source digests, the scripts' command lines."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

from harness.deps import load_dep_set, verify_dir
from harness.images import assemble_context, directory_digest, find_image, kind_load_argv, plan_build
from harness.tools import run

REPO = Path(__file__).resolve().parents[2]
DEPS_IMAGE = "kratix-workshop/postgresql-dependencies:v2.0.1"
SCANNER = "kratix-workshop/security-scanner:v0.1.0"


def test_dependency_context_carries_the_verified_upstream_files(upstream, tmp_path: Path) -> None:
    spec = find_image(DEPS_IMAGE)

    context = assemble_context(spec, build_root=tmp_path)

    assert (context / "Dockerfile").read_bytes() == spec.dockerfile.read_bytes()
    assert verify_dir(load_dep_set(), context / "resources") == []
    assert sorted(p.name for p in (context / "scripts").iterdir()) == ["pipeline.sh"]


def test_context_leaves_out_bytecode(tmp_path: Path) -> None:
    original = find_image(SCANNER)
    source = tmp_path / "source"
    shutil.copytree(original.context, source)
    (source / "scripts" / "__pycache__").mkdir(exist_ok=True)
    (source / "scripts" / "__pycache__" / "stale.pyc").write_bytes(b"\0")
    spec = dataclasses.replace(original, context=source, dockerfile=source / "Dockerfile")

    context = assemble_context(spec, build_root=tmp_path / "build")

    assert not list(context.rglob("__pycache__"))


def test_source_digest_tracks_content_base_image_and_executable_bit(tmp_path: Path) -> None:
    spec = find_image(SCANNER)
    first = plan_build(spec, base_image="base:a", build_root=tmp_path / "1")
    again = plan_build(spec, base_image="base:a", build_root=tmp_path / "2")
    other_base = plan_build(spec, base_image="base:b", build_root=tmp_path / "3")

    assert first.source_digest == again.source_digest  # independent of where the context is assembled
    assert other_base.source_digest != first.source_digest
    script = again.context / "scripts" / "pipeline.py"
    script.chmod(0o755)
    assert directory_digest(again.context, "base=base:a") != first.source_digest


def test_build_command_line(tmp_path: Path) -> None:
    plan = plan_build(find_image(SCANNER), base_image="kratix-e2e-base:bookworm", network="host", build_root=tmp_path)

    assert plan.argv[:4] == ["docker", "build", "--tag", SCANNER]
    assert f"io.kratix-workshop.source-sha256={plan.source_digest}" in plan.argv
    assert plan.argv[8:10] == ["--build-arg", "BASE_IMAGE=kratix-e2e-base:bookworm"]
    assert plan.argv[10:12] == ["--network", "host"]
    assert plan.argv[-1] == str(plan.context)
    assert kind_load_argv(SCANNER, "platform") == ["kind", "load", "docker-image", SCANNER, "--name", "platform"]


def test_build_images_dry_run_prints_every_command_of_a_promise() -> None:
    result = run(
        [sys.executable, "scripts/build-images", "--promise", "promise-clean", "--dry-run", "--load-into-kind", "p"],
        timeout=60,
        cwd=REPO,
        env={"KRATIX_E2E_BASE_IMAGE": "local/base:1"},
    )

    lines = result.stdout.splitlines()
    builds = [line for line in lines if line.startswith("docker build")]
    loads = [line for line in lines if line.startswith("kind load")]
    assert len(builds) == len(loads) == 4  # three own images + the shared dependencies image
    assert all("--build-arg BASE_IMAGE=local/base:1" in line for line in builds)
    assert any(DEPS_IMAGE in line for line in builds)


def test_build_images_names_an_unknown_promise() -> None:
    result = run(
        [sys.executable, "scripts/build-images", "--promise", "nope", "--dry-run"], timeout=60, cwd=REPO, check=False
    )

    assert result.exit_code == 1
    assert "promises/nope/images.yaml: no such file" in result.stderr


def test_fetch_deps_fails_loudly_on_a_bad_mirror(tmp_path: Path) -> None:
    result = run(
        [sys.executable, "scripts/fetch-deps", "--mirror", str(tmp_path), "--dest", str(tmp_path / "out")],
        timeout=60,
        cwd=REPO,
        check=False,
    )

    assert result.exit_code == 1
    assert f"mirror file {tmp_path}/configmap.yaml unreadable" in result.stderr
    assert not (tmp_path / "out").exists()


def test_fetch_deps_copies_from_the_shared_mirror(upstream, tmp_path: Path) -> None:
    mirror = upstream / "zalando-postgres-operator-v2.0.1"
    result = run(
        [sys.executable, "scripts/fetch-deps", "--mirror", str(mirror), "--dest", str(tmp_path)],
        timeout=60,
        cwd=REPO,
    )

    assert "7 files" in result.stdout
    assert verify_dir(load_dep_set(), tmp_path) == []
