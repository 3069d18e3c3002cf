"""Fixtures for the promise contract tests: Kratix pipeline directories and the shared upstream data."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.manifests import load_yaml_document, load_yaml_documents
from harness.pipeline_local import LocalRun, run_container_locally
from harness.schema import CrdValidator

REPO = Path(__file__).resolve().parents[2]
PROMISES = REPO / "promises"
UPSTREAM = REPO.parent / "shared" / "upstream"
ZALANDO = UPSTREAM / "zalando-postgres-operator-v2.0.1"
PROMISE_DIRS = ("postgres-full", "promise-clean", "database")
EXAMPLE_REQUESTS = {
    "postgres-full": "resource-request.yaml",
    "promise-clean": "resource-request.yaml",
    "database": "example-resource.yaml",
}


@dataclass
class ContainerReport:
    """Figures of the container tier, printed in the terminal summary."""

    started: float
    finished: float | None = None
    base_image: str = ""
    images: list[str] = field(default_factory=list)


CONTAINER_REPORT = pytest.StashKey[ContainerReport]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    report = config.stash.get(CONTAINER_REPORT, None)
    if report is None:
        return
    terminalreporter.write_sep("-", "container tier")
    finished = report.finished or time.monotonic()
    terminalreporter.write_line(
        f"wall time {finished - report.started:.1f}s (builds and container tests); base image {report.base_image}"
    )
    for line in report.images:
        terminalreporter.write_line(f"  {line}")


@dataclass
class PipelineDirs:
    """The three directories Kratix mounts into a pipeline container."""

    input: Path
    output: Path
    metadata: Path

    def write_input(self, obj: dict[str, Any]) -> None:
        self.input.mkdir(parents=True, exist_ok=True)
        (self.input / "object.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))

    def run(self, image: str, env: dict[str, str] | None = None) -> LocalRun:
        return run_container_locally(
            image, input_dir=self.input, output_dir=self.output, metadata_dir=self.metadata, env=env
        )

    def outputs(self) -> dict[str, list[dict[str, Any]]]:
        """Every output file (relative name) with its documents."""
        return {
            str(p.relative_to(self.output)): load_yaml_documents(p)
            for p in sorted(self.output.rglob("*"))
            if p.is_file()
        }

    def status(self) -> dict[str, Any]:
        path = self.metadata / "status.yaml"
        return load_yaml_document(path) if path.is_file() else {}


@pytest.fixture
def dirs(tmp_path: Path) -> PipelineDirs:
    d = PipelineDirs(tmp_path / "input", tmp_path / "output", tmp_path / "metadata")
    d.input.mkdir()
    return d


def example_request(promise: str) -> dict[str, Any]:
    return load_yaml_document(PROMISES / promise / EXAMPLE_REQUESTS[promise])


def promise_doc(promise: str) -> dict[str, Any]:
    return load_yaml_document(PROMISES / promise / "promise.yaml")


def api_validator(promise: str) -> CrdValidator:
    """Validator for requests of a promise, from the CRD embedded in its promise.yaml."""
    return CrdValidator.for_crd(promise_doc(promise)["spec"]["api"])


@pytest.fixture(scope="session")
def upstream() -> Path:
    if not UPSTREAM.is_dir():
        pytest.skip(f"upstream reference data not found at {UPSTREAM} (clone next to ../shared to run this)")
    return UPSTREAM


@pytest.fixture(scope="session")
def zalando_postgresql(upstream: Path) -> CrdValidator:
    """The real Zalando `postgresql` CRD schema (v2.0.1)."""
    return CrdValidator.for_crd(load_yaml_documents(ZALANDO / "postgresql.crd.yaml")[0])


@pytest.fixture(scope="session")
def kratix_promise_crd(upstream: Path) -> CrdValidator:
    return CrdValidator.for_crd(load_yaml_document(upstream / "kratix-crds" / "platform.kratix.io_promises.yaml"))


def extended_promise_clean() -> dict[str, Any]:
    """promise-clean as the workshop's last step leaves it: promise.yaml plus extra-containers.yaml, applied
    with the same edit the Part 3 feature makes (harness.promise_edit.add_containers)."""
    from harness.promise_edit import add_containers

    extra = yaml.safe_load((PROMISES / "promise-clean" / "extra-containers.yaml").read_text())
    return add_containers(promise_doc("promise-clean"), extra, pipeline="instance-configure")


def promise_docs_as_taught(promise: str) -> dict[str, Any]:
    """The Promise in its final tutorial state (promise-clean gains the extra containers)."""
    return extended_promise_clean() if promise == "promise-clean" else promise_doc(promise)
