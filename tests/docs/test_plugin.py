"""The pytest plugin end to end: a small pytest-bdd project run in a subprocess with --docs."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.tools import run
from tests.docs.conftest import REPO

PAGE = """---
title: A cache on demand
---

## Install the Promise

```bash
kubectl --context $PLATFORM apply --filename https://raw.acme.io/cache/promise.yaml
```

## Request a cache

```yaml
apiVersion: demo.acme.io/v1
kind: Cache
metadata:
  name: example
spec:
  size: small
```

Save it as `request.yaml` and apply it:

```bash
kubectl --context $PLATFORM apply --filename request.yaml
```

```shell-session
cache.demo.acme.io/example created
```

```bash
kubectl --context $WORKER get pods
```

```shell-session
NAME                 READY   STATUS    RESTARTS   AGE
cache-example-main   1/1     Running   0          1m
```

## Clean up

```bash
kubectl --context $PLATFORM delete promise cache
```
"""
FEATURE = """Feature: Cache on demand
  Scenario: Request a cache
    When the cache promise is installed
    And the user requests a cache
    Then the cache pod runs
"""
BINDINGS = """page: cache-tutorial.md
bindings:
  - step: the cache promise is installed
    block: {heading: Install the Promise, index: 0}
    compare: command
  - step: the user requests a cache
    block: {heading: Request a cache, index: 0}
    compare: manifest
  - step: the user requests a cache
    block: {heading: Request a cache, index: 1}
    compare: [command, output]
  - step: the cache pod runs
    block: {heading: Request a cache, index: 3}
    compare: [command, output]
"""
CONFTEST = """
from __future__ import annotations

from pytest_bdd import then, when

pytest_plugins = ["harness.docs.plugin"]

REQUEST = {"apiVersion": "demo.acme.io/v1", "kind": "Cache", "metadata": {"name": "example", "namespace": "default"},
           "spec": {"size": "large"}}
POD = {"metadata": {"name": "example-0"}, "spec": {"containers": [{"name": "c"}]},
       "status": {"phase": "Running",
                  "containerStatuses": [{"ready": True, "restartCount": 0, "state": {"running": {}}}]}}


@when("the cache promise is installed")
def _(docs_recorder):
    docs_recorder.ran(["kubectl", "--context", "kind-platform", "apply", "-f", "/srv/promises/cache/promise.yaml"])


@when("the user requests a cache")
def _(docs_recorder):
    docs_recorder.applied(REQUEST, "platform")
    docs_recorder.ran(["kubectl", "--context", "kind-platform", "apply", "-f", "/tmp/run/request.yaml"])
    docs_recorder.observed("output", "cache.demo.acme.io/example created")


@then("the cache pod runs")
def _(docs_recorder):
    docs_recorder.ran(["kubectl", "--context", "kind-worker", "get", "pods"])
    docs_recorder.observed("pods", [POD])
"""
TESTS = """from pytest_bdd import scenarios

scenarios("features")
"""


def _line(text: str) -> int:
    return next(n for n, line in enumerate(PAGE.splitlines(), 1) if text in line)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "features").mkdir()
    (tmp_path / "features" / "cache.feature").write_text(FEATURE)
    (tmp_path / "features" / "cache.docs.yaml").write_text(BINDINGS)
    (tmp_path / "cache-tutorial.md").write_text(PAGE)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_cache.py").write_text(TESTS)
    return tmp_path


def _pytest(project: Path, *args: str):
    return run(
        # kmock registers a pytest plugin that needs pytest-asyncio; the project disables it the same way.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:kmock", *args],
        timeout=180,
        cwd=project,
        env={"PYTHONPATH": str(REPO)},
        check=False,
    )


def test_run_with_docs_writes_markdown_and_junit_reports(project):
    result = _pytest(project, "--docs", "cache-tutorial.md")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "cache-tutorial.md: " in result.stdout  # terminal summary line
    report = (project / "artifacts" / "docs" / "cache-tutorial.md").read_text()
    # Drift: the page applies a URL, the step a local file; the page requests size small, the step large.
    assert f"## Install the Promise (line {_line('## Install')}, #install-the-promise)" in report
    assert (
        f"`DRIFT001` line {_line('apply --filename https')}: command differs from what step "
        "'the cache promise is installed' ran: files: page https://raw.acme.io/cache/promise.yaml, "
        "run /srv/promises/cache/promise.yaml"
    ) in report
    assert f"`DRIFT002` line {_line('size: small')}: Cache/example: spec.size differs" in report
    # Observed vs shown: the page shows a pod name the cluster did not produce.
    assert "the page shows cache-example-main; the cluster produced example-0" in report
    assert "<th>Page shows</th><th>Run observed</th>" in report
    # Coverage: the clean-up block is bound to no step.
    cleanup_fence = _line("delete promise cache") - 1
    assert f"- line {cleanup_fence} (Clean up, command): `kubectl --context $PLATFORM delete promise cache`" in report
    suites = ET.parse(project / "artifacts" / "docs" / "cache-tutorial.junit.xml").getroot()
    cases = suites.findall("./testsuite/testcase")
    assert {c.get("file") for c in cases} == {"cache-tutorial.md"}
    passing = [
        c for c in cases if c.find("failure") is None and "command: the user requests a cache" in c.get("name", "")
    ]
    assert [c.get("line") for c in passing] == [str(_line("apply --filename request.yaml") - 1)]
    recorded = json.loads((project / "artifacts" / "docs" / "recorded-steps.json").read_text())
    assert [r["step"] for r in recorded] == [
        "the cache promise is installed",
        "the user requests a cache",
        "the cache pod runs",
    ]


def test_without_docs_the_recorder_is_a_no_op(project):
    result = _pytest(project)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert not (project / "artifacts").exists()


def test_missing_page_is_a_usage_error(project):
    result = _pytest(project, "--docs", "absent.mdx")
    assert result.exit_code == 4
    assert "--docs: docs page absent.mdx: no such file" in result.stderr


def test_malformed_binding_file_is_a_usage_error(project):
    (project / "features" / "cache.docs.yaml").write_text("page: x\nbindings:\n  - step: s\n")
    result = _pytest(project, "--docs", "cache-tutorial.md")
    assert result.exit_code == 4
    assert "docs bindings: cache.docs.yaml: bindings[0].block: missing" in result.stderr
