"""Container tier: build every pipeline image and run it with the Kratix directories mounted.

Each case runs the same container twice, in process and in Docker, on the same input, and asserts the same
exit code, the same output manifests and the same status. BASE_IMAGE comes from $KRATIX_E2E_BASE_IMAGE
(CI builds a local Debian base: no registry is reachable to pull python:3.12-slim or alpine).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.images import build_image, default_base_image, load_image_catalog
from harness.pipeline_local import LocalRun, run_container_in_docker
from harness.tools import ToolNotFound, run
from tests.promises.conftest import (
    CONTAINER_REPORT,
    ContainerReport,
    PipelineDirs,
    example_request,
    extended_promise_clean,
    promise_doc,
)
from tests.promises.test_pipelines import _Webhook

pytestmark = [pytest.mark.container, pytest.mark.slow]


@pytest.fixture(scope="session")
def docker() -> None:
    try:
        info = run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30, check=False)
    except ToolNotFound:
        pytest.skip("docker is not installed (CI: .ci/container-setup installs it)")
    if info.exit_code != 0:
        pytest.skip(f"no Docker daemon reachable: {info.stderr.strip().splitlines()[-1:] or info.exit_code}")


@pytest.fixture(scope="module", autouse=True)
def _container_tier_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = request.config.stash.get(CONTAINER_REPORT, None)
    if report is not None:
        report.finished = time.monotonic()


@pytest.fixture(scope="session")
def images(docker: None, upstream: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """Build every declared image once per session (skipped when unchanged); ref -> image id.

    Build times and image sizes go to the terminal summary (tests/promises/conftest.py).
    """
    report = request.config.stash.setdefault(CONTAINER_REPORT, ContainerReport(started=time.monotonic()))
    base = os.environ.get("KRATIX_E2E_BASE_IMAGE") or None
    if base is None:
        _require_default_bases()
    network = os.environ.get("KRATIX_E2E_BUILD_NETWORK") or None
    built = {}
    for ref, spec in load_image_catalog().items():
        outcome = build_image(spec, base_image=base, network=network)
        inspect = run(["docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", ref], timeout=60)
        image_id, size = inspect.stdout.split()
        built[ref] = image_id
        state = f"built in {outcome.duration:.1f}s" if outcome.built else "up to date"
        report.images.append(f"{ref}: {int(size) / 1e6:.0f} MB, {state}")
    report.base_image = base or "(Dockerfile defaults)"
    return built


def _require_default_bases() -> None:
    """Without KRATIX_E2E_BASE_IMAGE the Dockerfiles' own bases must be present or pullable."""
    catalog = load_image_catalog().values()
    for base in sorted({b for b in map(default_base_image, catalog) if b}):
        if run(["docker", "image", "inspect", base], timeout=60, check=False).exit_code == 0:
            continue
        pulled = run(["docker", "pull", base], timeout=300, check=False)
        if pulled.exit_code != 0:
            reason = (pulled.stderr.strip().splitlines() or ["?"])[-1]
            pytest.skip(
                f"base image {base} is not available ({reason}) and KRATIX_E2E_BASE_IMAGE is unset; "
                "run `source .ci/container-setup` to build a local base image"
            )


@dataclass
class Case:
    image: str
    input: Callable[[], dict[str, Any]]
    env: dict[str, str] = field(default_factory=dict)
    prepare: Callable[[PipelineDirs], None] | None = None
    exit_code: int = 0


def _with_spec(promise: str, **spec: Any) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        request = example_request(promise)
        request["spec"] = spec
        return request

    return build


def _full_output(dirs: PipelineDirs) -> None:
    from harness.pipeline_local import run_container_locally

    run_container_locally(
        "kratix-workshop/postgresql-configure-pipeline:v0.1.0",
        input_dir=dirs.input,
        output_dir=dirs.output,
        metadata_dir=dirs.metadata,
    )


CASES = {
    "postgres-full-configure": Case(
        "kratix-workshop/postgresql-configure-pipeline:v0.1.0", lambda: example_request("postgres-full")
    ),
    "promise-clean-configure-medium": Case(
        "kratix-workshop/postgresql-configure-pipeline:v0.2.0",
        _with_spec("promise-clean", size="medium", dbName="shop", requester="ana"),
    ),
    "promise-clean-configure-bad-size": Case(
        "kratix-workshop/postgresql-configure-pipeline:v0.2.0",
        _with_spec("promise-clean", size="tiny", requester="ana"),
        exit_code=1,
    ),
    "security-scanner": Case(
        "kratix-workshop/security-scanner:v0.1.0", lambda: example_request("postgres-full"), prepare=_full_output
    ),
    "external-notifier-skip": Case(
        "kratix-workshop/external-notifier:v0.1.0", lambda: example_request("promise-clean")
    ),
    "database-configure": Case("kratix-guide/database-resource-pipeline:v0.1.0", lambda: example_request("database")),
    "database-configure-no-size": Case(
        "kratix-guide/database-resource-pipeline:v0.1.0", _with_spec("database"), exit_code=1
    ),
    "postgresql-dependencies": Case(
        "kratix-workshop/postgresql-dependencies:v2.0.1", lambda: promise_doc("postgres-full")
    ),
    "database-dependencies": Case("kratix-guide/database-promise-pipeline:v0.1.0", lambda: promise_doc("database")),
}


def _fresh(tmp_path: Path, name: str) -> PipelineDirs:
    dirs = PipelineDirs(tmp_path / name / "input", tmp_path / name / "output", tmp_path / name / "metadata")
    dirs.input.mkdir(parents=True)
    return dirs


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_container_matches_in_process(case: str, images: dict[str, str], tmp_path: Path) -> None:
    spec = CASES[case]
    local, docker = _fresh(tmp_path, "local"), _fresh(tmp_path, "docker")
    for dirs in (local, docker):
        dirs.write_input(spec.input())
        if spec.prepare:
            spec.prepare(dirs)

    in_process = local.run(spec.image, env=spec.env)
    in_docker = run_container_in_docker(
        spec.image, input_dir=docker.input, output_dir=docker.output, metadata_dir=docker.metadata, env=spec.env
    )

    assert in_process.exit_code == spec.exit_code, in_process.log
    assert in_docker.exit_code == spec.exit_code, in_docker.log
    assert docker.outputs() == local.outputs()
    assert docker.status() == local.status()
    assert _first_line(in_docker) == _first_line(in_process)


def _first_line(run: LocalRun) -> str:
    lines = [line for line in run.log.splitlines() if line.strip()]
    return lines[0] if lines else ""


def test_container_notifier_reaches_a_webhook(images: dict[str, str], tmp_path: Path) -> None:
    handler = type("Hook", (_Webhook,), {"received": [], "answer": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dirs = _fresh(tmp_path, "docker")
        dirs.write_input(example_request("promise-clean"))
        url = f"http://127.0.0.1:{server.server_port}/hooks/s3cr3t-token"

        result = run_container_in_docker(
            "kratix-workshop/external-notifier:v0.1.0",
            input_dir=dirs.input,
            output_dir=dirs.output,
            metadata_dir=dirs.metadata,
            env={"NOTIFIER_WEBHOOK_URL": url},
            network="host",  # the webhook listens on the host's loopback
        )
    finally:
        server.shutdown()

    assert result.exit_code == 0, result.log
    [(path, payload)] = handler.received
    assert path == "/hooks/s3cr3t-token"
    assert "requester-name" in payload["text"]
    assert "s3cr3t-token" not in result.log
    assert dirs.status() == {"notification": "sent to requester-name"}


def test_container_pipeline_chain_of_promise_clean(images: dict[str, str], tmp_path: Path) -> None:
    """promise-clean's whole instance-configure pipeline, container after container, as Kratix runs it."""
    [pipeline] = extended_promise_clean()["spec"]["workflows"]["resource"]["configure"]
    dirs = _fresh(tmp_path, "docker")
    dirs.write_input(example_request("promise-clean"))

    results = [
        run_container_in_docker(c["image"], input_dir=dirs.input, output_dir=dirs.output, metadata_dir=dirs.metadata)
        for c in pipeline["spec"]["containers"]
    ]

    assert [r.exit_code for r in results] == [0, 0, 0], "\n".join(r.log for r in results)
    [[manifest]] = dirs.outputs().values()
    assert manifest["metadata"]["name"] == "acid-example-postgresql"
    status = dirs.status()
    assert status["instanceName"] == "acid-example-postgresql"
    assert status["vulnerabilities"].startswith("not scanned")
    assert status["notification"] == "skipped: no webhook configured for requester-name"
