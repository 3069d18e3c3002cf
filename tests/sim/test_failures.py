"""Break the simulated platform on purpose and check what a user is told.

Each test runs a Part 3 scenario in a separate pytest process, exactly as `tox -e workshop-part3 --
--target sim` would, with a fault injected through $KRATIX_E2E_SIM_FAULTS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FEATURE_TESTS = "steps/test_customising_a_promise.py"
V2_PIPELINE = "kratix-workshop/postgresql-configure-pipeline:v0.2.0"

pytestmark = pytest.mark.slow


def run_part3(tmp_path: Path, select: str, faults: dict, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    artifacts = tmp_path / "artifacts"
    env = {**os.environ, "KRATIX_E2E_SIM_FAULTS": json.dumps(faults)}
    env.pop("KRATIX_E2E_TIMEOUT_SCALE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", FEATURE_TESTS, "--target", "sim", "-k", select,
         "--artifacts-dir", str(artifacts), "-p", "no:cacheprovider", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    return proc, artifacts


def test_a_failing_pipeline_stops_the_wait_and_leaves_evidence(tmp_path):
    proc, artifacts = run_part3(
        tmp_path, "switch",
        {"fail_container": [{"image": V2_PIPELINE, "exit_code": 3, "message": "cannot render the cluster"}]},
    )
    out = proc.stdout
    assert proc.returncode == 1, out
    assert 'failed   Then the request "example" is reconciled' in out
    # The failure names the object and why, and came well before the pipeline tier's timeout.
    assert "postgresql/example -n default" in out
    assert "exited 3" in out or "ConfigureWorkflowFailed" in out
    assert "timed out" not in out.split("failed   Then the request")[1].splitlines()[1]
    diagnostics = next((artifacts / "diagnostics").iterdir())
    summary = (diagnostics / "SUMMARY.txt").read_text()
    assert "clusters: platform, worker" in summary
    logs = list((diagnostics / "platform" / "logs" / "default").rglob("postgresql-configure-pipeline.log"))
    assert logs, f"no pipeline container log saved under {diagnostics}"
    assert "cannot render the cluster" in logs[0].read_text()
    assert (diagnostics / "platform" / "events.txt").read_text()
    assert (diagnostics / "sim" / "bucket.txt").exists()
    assert "diagnostics" in (artifacts / "junit.xml").read_text()


def test_a_pod_that_never_becomes_ready_times_out_with_its_last_state(tmp_path):
    proc, artifacts = run_part3(
        tmp_path, "switch",
        {"never_ready": [{"cluster": "worker", "pod": "^acid-example-postgresql-0$"}]},
        "--timeout-scale", "0.02",
    )
    out = proc.stdout
    assert proc.returncode == 1, out
    failure = out.split('failed   And the Zalando cluster "acid-example-postgresql" is Running on the worker')[1]
    message = failure.splitlines()[1]
    assert "timed out after 6s waiting for postgresql/acid-example-postgresql -n default on worker" in message
    assert "to be Running" in message
    assert "last observed:" in message
    assert "acid-example-postgresql-0 Running 0/1" in message
    diagnostics = next((artifacts / "diagnostics").iterdir())
    pods = (diagnostics / "worker" / "objects" / "Pod.v1.yaml").read_text()
    assert "acid-example-postgresql-0" in pods
    assert "skipped  And the pod \"acid-example-postgresql-0\" is running and ready" in out


def test_bad_fault_description_is_one_clear_line_before_anything_runs(tmp_path):
    artifacts = tmp_path / "artifacts"
    env = {**os.environ, "KRATIX_E2E_SIM_FAULTS": "{not json"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", FEATURE_TESTS, "--target", "sim", "--artifacts-dir", str(artifacts),
         "-p", "no:cacheprovider"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4
    assert "target sim: $KRATIX_E2E_SIM_FAULTS is not a valid fault description" in proc.stderr
    assert not (artifacts / "work" / "sim").exists()
