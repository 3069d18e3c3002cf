"""Drift (commands as argv, manifests as data) and observed-vs-shown (tables, results, logs)."""

from __future__ import annotations

import pytest

from harness.docs.binding import Binding, BlockRef
from harness.docs.drift import compare_commands, compare_manifests, diff_data, evaluate
from harness.docs.page import parse_page
from harness.docs.recorder import DocsRecorder, NullRecorder, StepKey, StepRecord
from harness.docs.shell import split_commands
from harness.docs.tables import Table
from harness.docs.yamldocs import load_documents

PAGE = """# Cache tutorial

## Install

```bash
kubectl --context $PLATFORM apply --filename https://raw.acme.io/cache/promise.yaml
kubectl --context $WORKER get deployments --watch
```

```shell-session
NAME             READY   UP-TO-DATE   AVAILABLE   AGE
cache-operator   0/1     0            0           0s
cache-operator   1/1     1            1           11s
```

## Request

```yaml
apiVersion: demo.acme.io/v1
kind: Cache
metadata:
  name: example
spec:
  size: small # a comment
  replicas: 1
```

```bash
kubectl apply -f request.yaml
```

```shell-session
cache.demo.acme.io/example created
```

```bash
kubectl get pods
```

```shell-session
NAME                   READY   STATUS    RESTARTS   AGE
cache-dev-example      1/1     Running   0          1m
```

## Extend

```yaml
  workflows:
    resource:
      configure:
        - kind: Pipeline
          spec:
            containers:
              - name: main
                image: acme/cache:v1
              - name: scanner
                image: acme/scanner:v1
```

```bash
kubectl logs pods/example-configure-<ID> -c scanner

Scanning images
0 vulnerabilities found
```

## Unbound

```bash
kubectl delete promise cache
```
"""


@pytest.fixture(scope="module")
def page():
    return parse_page(PAGE, "cache.md")


def _record(step: str, *events_of) -> StepRecord:
    recorder = DocsRecorder()
    recorder.begin_step(StepKey("cache", "scenario", step))
    for call in events_of:
        call(recorder)
    recorder.end_step("passed")
    return recorder.records[0]


def _cmds(text: str):
    lines = text.splitlines()
    return split_commands(lines, list(range(1, len(lines) + 1)))


def test_commands_compare_as_argv_with_variables_aliases_and_file_names():
    page = _cmds("kubectl --context $PLATFORM apply -f promise.yaml\nkubectl get pods --watch")
    ran = [
        ["kubectl", "--context", "kind-platform", "get", "pods"],
        ["kubectl", "--context=kind-platform", "apply", "--filename", "/tmp/run/promise.yaml"],
    ]
    drifts = compare_commands(page, ran)
    assert [(d.differences, d.presentation_only) for d in drifts] == [((), False), (("--watch: page only",), True)]


def test_command_drift_names_the_difference():
    page = _cmds("kubectl apply --filename https://raw.acme.io/cache/promise.yaml\nkubectl delete promise cache")
    drifts = compare_commands(page, [["kubectl", "apply", "-f", "promises/cache/promise.yaml"]])
    assert drifts[0].differences == (
        "files: page https://raw.acme.io/cache/promise.yaml, run promises/cache/promise.yaml",
    )
    assert drifts[1].ran is None
    assert drifts[1].differences == ("the step ran no `kubectl delete`",)


def test_manifests_compare_as_data():
    docs, _ = load_documents(
        "apiVersion: demo.acme.io/v1\nkind: Cache\nmetadata: {name: example}\nspec:\n  size: small\n  replicas: 1\n",
        [4, 5, 6, 7, 8, 9],
    )
    applied = [
        {
            "apiVersion": "demo.acme.io/v1",
            "kind": "Cache",
            "metadata": {"name": "example", "labels": {"by": "harness"}},
            "spec": {"replicas": 1, "size": "large", "tier": "gold"},
        }
    ]
    (drift,) = compare_manifests(docs, applied)
    got = [(d.dotted(), d.kind, d.shown, d.observed, docs[0].line_of(d.shown_path)) for d in drift.differences]
    assert got == [
        ("spec.size", "changed", "small", "large", 8),
        ("spec.tier", "extra", None, "gold", 7),
    ]


def test_fragments_are_found_inside_the_applied_object_and_named_lists_match_by_name():
    applied = {
        "spec": {
            "api": {},
            "workflows": {
                "configure": [
                    {"name": "b", "image": "y:2"},
                    {"name": "a", "image": "x:1"},
                    {"name": "c", "image": "z:1"},
                ]
            },
        }
    }
    docs, _ = load_documents("workflows:\n  configure:\n  - {name: a, image: 'x:1'}\n  - {name: b, image: 'y:1'}\n")
    (drift,) = compare_manifests(docs, [applied])
    assert drift.where == "fragment at spec"
    assert [(d.dotted(), d.kind) for d in drift.differences] == [
        ("workflows.configure[name=b].image", "changed"),
        ("workflows.configure[name=c]", "extra"),
        ("workflows.configure", "changed"),
    ]


def test_scalars_compare_by_type_too():
    assert diff_data({"v": "15"}, {"v": 15})[0].kind == "changed"
    assert diff_data({"v": 1}, {"v": 1.0}) == []


def test_evaluate_reports_drift_observed_vs_shown_and_coverage(page):
    def h(step: str, index: int, compare: tuple[str, ...], heading: str) -> Binding:
        return Binding(step, BlockRef(heading=heading, index=index), compare, source=f"b[{step}]")

    bindings = [
        h("install", 0, ("command", "output"), "Install"),
        h("request", 0, ("manifest",), "Request"),
        h("request", 1, ("command", "output"), "Request"),
        h("pods", 3, ("command", "output"), "Request"),
        h("extend", 0, ("manifest",), "Extend"),
        h("logs", 1, ("command", "output"), "Extend"),
        h("never ran", 0, ("command",), "Unbound"),
        h("vanished", 9, ("command",), "Install"),
    ]
    deployment = {
        "metadata": {"name": "cache-operator"},
        "spec": {"replicas": 1},
        "status": {"readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1},
    }
    pod = {
        "metadata": {"name": "example-0"},
        "spec": {"containers": [{}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"ready": True, "restartCount": 0, "state": {"running": {}}}],
        },
    }
    records = [
        _record(
            "install",
            lambda r: r.ran(["kubectl", "--context", "kind-platform", "apply", "-f", "promises/cache/promise.yaml"]),
            lambda r: r.ran(["kubectl", "--context", "kind-worker", "get", "deployments"]),
            lambda r: r.observed("deployments", [deployment]),
        ),
        _record(
            "request",
            lambda r: r.applied(
                {
                    "apiVersion": "demo.acme.io/v1",
                    "kind": "Cache",
                    "metadata": {"name": "example"},
                    "spec": {"size": "small", "replicas": 1},
                },
                "platform",
            ),
            lambda r: r.ran(["kubectl", "apply", "-f", "/tmp/x/request.yaml"]),
            lambda r: r.observed("output", "cache.demo.acme.io/example created\n"),
        ),
        _record("pods", lambda r: r.ran(["kubectl", "get", "pods"]), lambda r: r.observed("pods", [pod])),
        _record(
            "extend",
            lambda r: r.applied(
                {
                    "kind": "Promise",
                    "spec": {
                        "workflows": {
                            "resource": {
                                "configure": [
                                    {
                                        "kind": "Pipeline",
                                        "spec": {
                                            "containers": [
                                                {"name": "main", "image": "acme/cache:v1"},
                                                {"name": "scanner", "image": "acme/scanner:v2"},
                                            ]
                                        },
                                    }
                                ]
                            }
                        }
                    },
                },
                "p",
            ),
        ),
        _record(
            "logs",
            lambda r: r.ran(["kubectl", "logs", "pods/example-configure-b2d4f", "-c", "scanner"]),
            lambda r: r.observed("log", "\n  Scanning images\n...\n1 vulnerabilities found\n"),
        ),
    ]
    result = evaluate(page, bindings, records)
    got = {(f.rule, f.severity.name, f.line, f.message.split(":")[0]) for f in result.findings}
    line = {text: n for n, text in enumerate(PAGE.splitlines(), 1)}
    fence = line["kubectl delete promise cache"] - 1
    assert got == {
        ("BIND001", "ERROR", 1, "b[vanished]"),
        ("BIND002", "INFO", fence, f"step 'never ran' (bound to line {fence}) did not run"),
        (
            "DRIFT001",
            "WARNING",
            line["kubectl --context $PLATFORM apply --filename https://raw.acme.io/cache/promise.yaml"],
            "command differs from what step 'install' ran",
        ),
        (
            "DRIFT001",
            "INFO",
            line["kubectl --context $WORKER get deployments --watch"],
            "command differs from what step 'install' ran",
        ),
        (
            "OBS001",
            "WARNING",
            line["cache-dev-example      1/1     Running   0          1m"],
            "the page shows cache-dev-example; the cluster produced example-0",
        ),
        ("DRIFT002", "WARNING", line["                image: acme/scanner:v1"], "fragment at spec"),
        (
            "OBS001",
            "WARNING",
            line["0 vulnerabilities found"],
            "the run's output lacks 1 of the 2 lines the page shows (in order)",
        ),
    }
    drift = next(f for f in result.findings if f.rule == "DRIFT002")
    assert (drift.shown, drift.observed) == ("acme/scanner:v1", "acme/scanner:v2")
    renamed = next(f for f in result.findings if f.rule == "OBS001" and "produced" in f.message)
    assert (renamed.shown, renamed.observed) == ("cache-dev-example", "example-0")
    assert [c.passed for c in result.checks if c.name.startswith("output: install")] == [True]
    assert [b.line for b in result.coverage_gaps] == []


def test_coverage_gaps_list_unbound_executable_blocks(page):
    result = evaluate(page, [Binding("x", BlockRef(heading="Unbound", index=0), ("command",))], [])
    assert [b.lines[0] for b in result.coverage_gaps] == [
        "kubectl --context $PLATFORM apply --filename https://raw.acme.io/cache/promise.yaml",
        "apiVersion: demo.acme.io/v1",
        "kubectl apply -f request.yaml",
        "kubectl get pods",
        "  workflows:",
        "kubectl logs pods/example-configure-<ID> -c scanner",
    ]


def test_recorder_attributes_events_to_the_current_step_and_null_recorder_is_inert():
    recorder = DocsRecorder()
    recorder.ran(["kubectl", "get", "pods"])
    assert recorder.unattributed == 1
    recorder.begin_step(StepKey("f", "s", "the pods are listed", "Then", 7))
    manifest = {"kind": "Cache", "metadata": {"name": "x"}}
    recorder.applied(manifest, "platform")
    manifest["kind"] = "changed later"
    recorder.observed("names", ["example-0"])
    recorder.end_step("passed")
    (record,) = recorder.records
    assert record.applied() == [{"kind": "Cache", "metadata": {"name": "x"}}]
    assert [e.observed_kind for e in record.observed()] == ["names"]
    assert recorder.matching(r"the (\w+) are listed") == [record]
    with pytest.raises(TypeError, match="argument list"):
        recorder.ran("kubectl get pods")  # type: ignore[arg-type]
    null = NullRecorder()
    null.begin_step(StepKey("f", "s", "t"))
    null.ran(["x"])
    null.observed("table", Table(("NAME",), ()))
    assert null.records == []
    assert not null.enabled


def test_recorder_masks_secret_values_in_the_commands_it_keeps():
    recorder = DocsRecorder()
    recorder.begin_step(StepKey("f", "s", "a secret is created"))
    recorder.ran(["kubectl", "create", "secret", "generic", "db", "--from-literal=password=hunter2"])
    recorder.ran(["kratix", "login", "--token", "abc123"])
    recorder.end_step("passed")
    (record,) = recorder.records
    assert record.ran() == [
        ("kubectl", "create", "secret", "generic", "db", "--from-literal=***"),
        ("kratix", "login", "--token", "***"),
    ]
