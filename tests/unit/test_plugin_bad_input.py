"""Bad input stops a run with one clear line before any scenario touches a cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pytest_run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                          capture_output=True, text=True, timeout=120)


def test_unknown_target_is_refused_with_the_choices(tmp_path):
    proc = pytest_run("steps/test_customising_a_promise.py", "--target", "minikube",
                      "--artifacts-dir", str(tmp_path))
    assert proc.returncode == 4
    assert "argument --target: invalid choice: 'minikube'" in proc.stderr
    assert "existing" in proc.stderr
    assert "sim" in proc.stderr


def test_a_broken_feature_docstring_stops_the_run_before_any_scenario(tmp_path):
    features = tmp_path / "features"
    features.mkdir()
    (features / "broken.feature").write_text(
        'Feature: broken\n  Scenario: one\n    Given a Kratix platform cluster with a worker cluster registered '
        'as a destination\n    When the platform user requests:\n      """yaml\n      apiVersion: v1\n'
        '      metadata: {name: [oops\n      """\n'
    )
    (tmp_path / "test_bind.py").write_text('from pytest_bdd import scenarios\n\nscenarios("broken.feature")\n')
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text())
    (tmp_path / "pytest.ini").write_text("[pytest]\nbdd_features_base_dir = features/\naddopts = -p no:kmock\n")
    proc = pytest_run(str(tmp_path / "test_bind.py"), "--target", "sim", "--artifacts-dir",
                      str(tmp_path / "artifacts"), cwd=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    [line] = [x for x in proc.stderr.splitlines() if "docstring is not valid YAML" in x]
    assert "broken.feature:7:" in line
    assert "SCENARIO" not in proc.stdout
    assert not (tmp_path / "artifacts" / "work").exists()  # no simulated platform was started


def test_existing_target_without_contexts_says_how_to_fix_it(tmp_path):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    env = {"KUBECONFIG": str(kubeconfig), "PLATFORM": "", "WORKER": ""}
    proc = pytest_run("steps/test_customising_a_promise.py", "--target", "existing",
                      "--artifacts-dir", str(tmp_path / "a"), env=env)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("ERROR:")]
    assert len(errors) == 1
    assert "target existing" in errors[0]
    assert "SCENARIO" not in proc.stdout
