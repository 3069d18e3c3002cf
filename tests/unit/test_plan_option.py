"""--plan prints what a run would do and runs nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def plan(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "steps", "--plan", "--artifacts-dir", str(tmp_path), "-p",
         "no:cacheprovider", *args],
        cwd=ROOT, env={**os.environ, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120)


def test_plan_for_kind_lists_clusters_bootstrap_promises_and_teardown_in_order(tmp_path):
    proc = plan(tmp_path, "--target", "kind")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "Plan for --target kind (nothing has been run)" in out
    order = [
        "kind create cluster --name platform",
        "apply BucketStateStore.platform.kratix.io/default",
        "apply Destination.platform.kratix.io/worker-1",
        "apply Promise/postgresql  # promises/postgres-full/promise.yaml",
        "apply Promise/postgresql  # promises/promise-clean/promise.yaml",
        "kratix init promise database --group demo.kratix.io --kind Database",
        "kind delete cluster --name platform",
    ]
    positions = [out.index(line) for line in order]
    assert positions == sorted(positions)
    assert "SCENARIO" not in out
    assert not (tmp_path / "work" / "kubeconfig").exists()
    assert not (tmp_path / "work" / "sim").exists()


def test_plan_follows_the_selected_scenarios_and_target(tmp_path):
    proc = plan(tmp_path, "--target", "existing", "--platform-context", "kind-platform", "-k", "extend")
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "kind create cluster" not in out
    assert "Extend the pipeline with a security scanner" in out
    assert "Request a complex Postgres" not in out
    assert "kind load docker-image kratix-workshop/security-scanner:v0.1.0 --name platform" in out
