"""Pipeline contract tests, in process: each container's own code against temporary Kratix directories."""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.images import ImageSpec, find_image
from harness.manifests import load_yaml_documents
from harness.pipeline_local import ImageNotFound, run_container_locally
from tests.promises.conftest import (
    ZALANDO,
    PipelineDirs,
    example_request,
    extended_promise_clean,
    promise_doc,
)

FULL_CONFIGURE = "kratix-workshop/postgresql-configure-pipeline:v0.1.0"
CLEAN_CONFIGURE = "kratix-workshop/postgresql-configure-pipeline:v0.2.0"
SCANNER = "kratix-workshop/security-scanner:v0.1.0"
NOTIFIER = "kratix-workshop/external-notifier:v0.1.0"
DATABASE_CONFIGURE = "kratix-guide/database-resource-pipeline:v0.1.0"
POSTGRES_DEPS = "kratix-workshop/postgresql-dependencies:v2.0.1"
DATABASE_DEPS = "kratix-guide/database-promise-pipeline:v0.1.0"
CLUSTER_SCOPED = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


def clean_request(**spec: Any) -> dict[str, Any]:
    request = example_request("promise-clean")
    request["spec"] = spec
    return request


# --- postgres-full -------------------------------------------------------------------------------------


def test_postgres_full_copies_the_spec_verbatim(dirs: PipelineDirs, zalando_postgresql) -> None:
    request = example_request("postgres-full")
    dirs.write_input(request)

    run = dirs.run(FULL_CONFIGURE)

    assert run.ok, run.log
    [(name, [manifest])] = dirs.outputs().items()
    assert name == "postgresql.yaml"
    assert manifest["apiVersion"] == "acid.zalan.do/v1"
    assert manifest["kind"] == "postgresql"
    assert manifest["metadata"] == {"name": "example", "namespace": "default"}
    assert manifest["spec"] == request["spec"]
    zalando_postgresql.validate(manifest)
    assert dirs.status() == {}  # no status file: Kratix reports "Resource requested"


def test_postgres_full_keeps_the_request_namespace(dirs: PipelineDirs) -> None:
    request = example_request("postgres-full")
    request["metadata"]["namespace"] = "team-a"
    dirs.write_input(request)

    assert dirs.run(FULL_CONFIGURE).ok
    [[manifest]] = dirs.outputs().values()
    assert manifest["metadata"]["namespace"] == "team-a"


@pytest.mark.parametrize(
    ("remove", "field"),
    [
        (("volume",), "spec.volume.size"),
        (("postgresql", "version"), "spec.postgresql.version"),
        (("teamId",), "spec.teamId"),
    ],
)
def test_postgres_full_fails_naming_a_missing_field(dirs: PipelineDirs, remove: tuple[str, ...], field: str) -> None:
    request = example_request("postgres-full")
    parent = request["spec"]
    for key in remove[:-1]:
        parent = parent[key]
    del parent[remove[-1]]
    dirs.write_input(request)

    run = dirs.run(FULL_CONFIGURE)

    assert run.exit_code == 1
    assert field in run.log
    assert dirs.outputs() == {}


# --- promise-clean: configure -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "volume", "instances"), [("small", "1Gi", 1), ("medium", "5Gi", 3), ("large", "10Gi", 5)]
)
def test_promise_clean_sizes(dirs: PipelineDirs, zalando_postgresql, size: str, volume: str, instances: int) -> None:
    dirs.write_input(clean_request(size=size, dbName="bestdb", requester="requester-name"))

    run = dirs.run(CLEAN_CONFIGURE)

    assert run.ok, run.log
    [[manifest]] = dirs.outputs().values()
    assert manifest["metadata"] == {"name": "acid-example-postgresql", "namespace": "default"}
    spec = manifest["spec"]
    assert spec["teamId"] == "acid"
    assert spec["volume"] == {"size": volume}
    assert spec["numberOfInstances"] == instances
    assert spec["users"] == {"acid": ["superuser", "createdb"]}
    assert spec["databases"] == {"bestdb": "acid"}
    assert spec["enableLogicalBackup"] is False
    zalando_postgresql.validate(manifest)
    assert dirs.status() == {
        "instanceName": "acid-example-postgresql",
        "size": size,
        "storage": volume,
        "instances": instances,
    }


def test_promise_clean_defaults_when_the_api_did_not(dirs: PipelineDirs) -> None:
    dirs.write_input(clean_request(requester="someone"))

    assert dirs.run(CLEAN_CONFIGURE).ok
    [[manifest]] = dirs.outputs().values()
    assert manifest["spec"]["volume"] == {"size": "1Gi"}
    assert manifest["spec"]["databases"] == {"postgres": "acid"}


def test_promise_clean_postgres_version_is_one_the_pinned_operator_accepts(dirs: PipelineDirs, upstream) -> None:
    crd = load_yaml_documents(ZALANDO / "postgresql.crd.yaml")[0]
    spec_props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    dirs.write_input(clean_request(requester="someone"))

    assert dirs.run(CLEAN_CONFIGURE).ok
    [[manifest]] = dirs.outputs().values()
    assert manifest["spec"]["postgresql"]["version"] in spec_props["postgresql"]["properties"]["version"]["enum"]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"size": "tiny", "requester": "x"}, "spec.size"),
        ({"size": "small"}, "spec.requester"),
        ({"requester": "x", "dbName": ""}, "spec.dbName"),
    ],
)
def test_promise_clean_bad_requests_fail_naming_the_field(dirs: PipelineDirs, spec: dict[str, Any], field: str) -> None:
    dirs.write_input(clean_request(**spec))

    run = dirs.run(CLEAN_CONFIGURE)

    assert run.exit_code == 1
    assert field in run.log
    assert dirs.outputs() == {}
    assert dirs.status() == {}


# --- promise-clean: security scanner -------------------------------------------------------------------


def write_output(dirs: PipelineDirs, name: str, *docs: dict[str, Any]) -> None:
    dirs.output.mkdir(parents=True, exist_ok=True)
    (dirs.output / name).write_text(yaml.safe_dump_all(docs))


DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "template": {
            "spec": {
                "initContainers": [{"name": "migrate", "image": "registry.example.com:5000/team/migrate:1.2"}],
                "containers": [
                    {"name": "app", "image": "nginx:1.27"},
                    {"name": "proxy", "image": "ghcr.io/org/proxy@sha256:" + "a" * 64},
                ],
            }
        }
    },
}
CRONJOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "backup", "namespace": "default"},
    "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "busybox"}]}}}}},
}


def test_scanner_lists_every_image_and_says_it_did_not_scan(dirs: PipelineDirs) -> None:
    request = example_request("postgres-full")
    request["spec"]["sidecars"] = [{"name": "exporter", "image": "quay.io/prometheus/postgres-exporter:v0.15.0"}]
    dirs.write_input(request)
    assert dirs.run(FULL_CONFIGURE).ok
    write_output(dirs, "workloads.yaml", DEPLOYMENT, CRONJOB)

    run = dirs.run(SCANNER, env={"PATH": "/usr/bin:/bin"})  # no trivy on this PATH

    assert run.ok, run.log
    expected = {
        "ghcr.io/zalando/spilo-15:3.0-p1",  # Zalando dockerImage
        "busybox",  # Zalando initContainers and the CronJob's pod
        "quay.io/prometheus/postgres-exporter:v0.15.0",  # Zalando sidecars
        "registry.example.com:5000/team/migrate:1.2",
        "nginx:1.27",
        "ghcr.io/org/proxy@sha256:" + "a" * 64,
    }
    for image in expected:
        assert f"- {image}  (" in run.log
    assert "NOT SCANNED" in run.log
    assert "0 vulnerabilities" not in run.log
    status = dirs.status()
    assert status["images"] == sorted(expected)
    assert status["vulnerabilities"].startswith("not scanned: no vulnerability scanner")


def test_scanner_notes_the_operator_default_image_and_keeps_earlier_status(dirs: PipelineDirs) -> None:
    dirs.write_input(clean_request(size="small", requester="someone"))
    assert dirs.run(CLEAN_CONFIGURE).ok

    run = dirs.run(SCANNER, env={"PATH": "/usr/bin:/bin"})

    assert run.ok, run.log
    assert "sets no spec.dockerImage" in run.log
    status = dirs.status()
    assert status["instanceName"] == "acid-example-postgresql"  # written by the configure container
    assert status["images"] == []
    assert status["vulnerabilities"] == (
        "not scanned: the output names no image; 1 Postgres cluster(s) will run the operator's default image, "
        "which is not named here"
    )


def test_scanner_fails_on_an_invalid_image_reference(dirs: PipelineDirs) -> None:
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["template"]["spec"]["containers"][0]["image"] = "https://ghcr.io/syntasso/workshop/x:v0.1.0"
    write_output(dirs, "bad.yaml", bad)

    run = dirs.run(SCANNER, env={"PATH": "/usr/bin:/bin"})

    assert run.exit_code == 1
    assert "INVALID image reference 'https://ghcr.io/syntasso/workshop/x:v0.1.0'" in run.log
    assert "spec.template.spec.containers[0].image" in run.log
    assert dirs.status()["vulnerabilities"] == "not scanned: 1 invalid image reference(s)"


def test_scanner_uses_trivy_when_present(dirs: PipelineDirs, tmp_path: Path) -> None:
    # A stand-in trivy with trivy's JSON report shape: proves the scanner calls it per image and sums it.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    report = {"Results": [{"Vulnerabilities": [{"Severity": "HIGH"}, {"Severity": "CRITICAL"}, {"Severity": "HIGH"}]}]}
    trivy = bin_dir / "trivy"
    trivy.write_text(f"#!/bin/sh\necho \"$*\" >> {tmp_path}/calls\ncat <<'EOF'\n{json.dumps(report)}\nEOF\n")
    trivy.chmod(0o755)
    write_output(dirs, "w.yaml", CRONJOB)

    run = dirs.run(SCANNER, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})

    assert run.ok, run.log
    assert (tmp_path / "calls").read_text().split() == [
        "image",
        "--quiet",
        "--scanners",
        "vuln",
        "--format",
        "json",
        "busybox",
    ]
    assert dirs.status()["vulnerabilities"] == (
        "scanned 1 of 1 image(s) with trivy: 1 critical, 2 high, 0 medium, 0 low, 0 unknown"
    )


def test_scanner_reports_a_failed_scan_plainly(dirs: PipelineDirs, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "trivy").write_text("#!/bin/sh\necho 'FATAL failed to download vulnerability DB' >&2\nexit 1\n")
    (bin_dir / "trivy").chmod(0o755)
    write_output(dirs, "w.yaml", CRONJOB)

    run = dirs.run(SCANNER, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})

    assert run.ok, run.log
    assert "scan FAILED for busybox: FATAL failed to download vulnerability DB" in run.log
    assert dirs.status()["vulnerabilities"].startswith("scanned 0 of 1 image(s)")


# --- promise-clean: external notifier ------------------------------------------------------------------


class _Webhook(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []
    answer = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(type(self).answer)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Webhook]]]:
    handler = type("Hook", (_Webhook,), {"received": [], "answer": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/s3cr3t-token", handler
    server.shutdown()


def test_notifier_skips_without_a_webhook(dirs: PipelineDirs) -> None:
    dirs.write_input(clean_request(size="small", requester="requester-name"))

    run = dirs.run(NOTIFIER, env={"NOTIFIER_WEBHOOK_URL": ""})

    assert run.ok, run.log
    assert "no webhook configured" in run.log
    assert "skipping the notification to requester-name" in run.log
    assert dirs.status() == {"notification": "skipped: no webhook configured for requester-name"}


def test_notifier_posts_slack_style_json_and_never_prints_the_url(dirs: PipelineDirs, webhook) -> None:
    url, hook = webhook
    dirs.write_input(clean_request(size="small", requester="requester-name"))

    run = dirs.run(NOTIFIER, env={"NOTIFIER_WEBHOOK_URL": url})

    assert run.ok, run.log
    [(path, payload)] = hook.received
    assert path == "/services/T000/B000/s3cr3t-token"
    assert set(payload) == {"text"}
    assert "requester-name" in payload["text"]
    assert "default/example" in payload["text"]
    assert "s3cr3t-token" not in run.log
    assert "127.0.0.1" not in run.log
    assert dirs.status() == {"notification": "sent to requester-name"}


def test_notifier_fails_when_the_webhook_refuses_without_leaking_it(dirs: PipelineDirs, webhook) -> None:
    url, hook = webhook
    hook.answer = 500
    dirs.write_input(clean_request(size="small", requester="requester-name"))

    run = dirs.run(NOTIFIER, env={"NOTIFIER_WEBHOOK_URL": url})

    assert run.exit_code == 1
    assert "HTTP 500" in run.log
    assert "s3cr3t-token" not in run.log


def test_notifier_fails_on_an_unreachable_webhook_without_leaking_it(dirs: PipelineDirs) -> None:
    dirs.write_input(clean_request(size="small", requester="requester-name"))

    run = dirs.run(NOTIFIER, env={"NOTIFIER_WEBHOOK_URL": "http://127.0.0.1:9/hooks/s3cr3t-token"})

    assert run.exit_code == 1
    assert "cannot reach the webhook" in run.log
    assert "s3cr3t-token" not in run.log


def test_notifier_needs_a_requester(dirs: PipelineDirs) -> None:
    dirs.write_input(clean_request(size="small"))

    run = dirs.run(NOTIFIER)

    assert run.exit_code == 1
    assert "spec.requester" in run.log


def test_promise_clean_pipeline_runs_in_order_like_kratix(dirs: PipelineDirs, zalando_postgresql) -> None:
    """The whole instance-configure pipeline of promise.yaml, container after container."""
    [pipeline] = extended_promise_clean()["spec"]["workflows"]["resource"]["configure"]
    dirs.write_input(example_request("promise-clean"))

    runs = [dirs.run(c["image"], env={"PATH": "/usr/bin:/bin"}) for c in pipeline["spec"]["containers"]]

    assert [r.exit_code for r in runs] == [0, 0, 0], "\n".join(r.log for r in runs)
    [[manifest]] = dirs.outputs().values()
    zalando_postgresql.validate(manifest)
    status = dirs.status()
    assert status["instanceName"] == "acid-example-postgresql"
    assert status["size"] == "small"
    assert status["vulnerabilities"].startswith("not scanned")
    assert status["notification"] == "skipped: no webhook configured for requester-name"


# --- database ------------------------------------------------------------------------------------------


def test_database_pipeline_writes_the_guide_manifest_and_status(dirs: PipelineDirs, zalando_postgresql) -> None:
    dirs.write_input(example_request("database"))

    run = dirs.run(DATABASE_CONFIGURE)

    assert run.ok, run.log
    outputs = dirs.outputs()
    assert list(outputs) == ["database.yaml"]
    [manifest] = outputs["database.yaml"]
    assert manifest["metadata"] == {"name": "example-database", "namespace": "default"}
    assert manifest["spec"] == {
        "teamId": "kratix",
        "enableLogicalBackup": True,
        "volume": {"size": "1Gi"},
        "numberOfInstances": 2,
        "users": {"team-a": ["superuser", "createdb"]},
        "postgresql": {"version": "16"},
    }
    zalando_postgresql.validate(manifest)
    assert dirs.status() == {"teamId": "kratix"}


def test_database_pipeline_fails_naming_spec_size(dirs: PipelineDirs) -> None:
    request = example_request("database")
    request["spec"] = {}
    dirs.write_input(request)

    run = dirs.run(DATABASE_CONFIGURE)

    assert run.exit_code == 1
    assert "spec.size is required" in run.log
    assert dirs.outputs() == {}


# --- dependencies --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "promise"), [(POSTGRES_DEPS, "postgres-full"), (DATABASE_DEPS, "database")])
def test_dependencies_deliver_the_pinned_operator_with_explicit_namespaces(
    dirs: PipelineDirs, upstream, image: str, promise: str
) -> None:
    dirs.write_input(promise_doc(promise))

    run = dirs.run(image)

    assert run.ok, run.log
    outputs = dirs.outputs()
    expected_files = {
        "configmap.yaml",
        "operator-service-account-rbac.yaml",
        "postgres-operator.yaml",
        "api-service.yaml",
        "postgresql.crd.yaml",
        "postgresteam.crd.yaml",
        "operatorconfiguration.crd.yaml",
    }
    assert set(outputs) == expected_files
    kinds = set()
    for name, docs in outputs.items():
        upstream_docs = load_yaml_documents(ZALANDO / name)
        assert len(docs) == len(upstream_docs), name
        for doc, original in zip(docs, upstream_docs, strict=True):
            kinds.add((doc["kind"], doc["metadata"]["name"]))
            if doc["kind"] in CLUSTER_SCOPED:
                assert "namespace" not in doc["metadata"], name
            else:
                assert doc["metadata"]["namespace"] == "default", f"{name}: {doc['kind']}"
            # Nothing but the namespace changes.
            original["metadata"].setdefault("namespace", doc["metadata"].get("namespace"))
            if original["metadata"]["namespace"] is None:
                del original["metadata"]["namespace"]
            assert doc == original, name
    assert ("Deployment", "postgres-operator") in kinds
    assert ("CustomResourceDefinition", "postgresqls.acid.zalan.do") in kinds
    assert ("CustomResourceDefinition", "postgresteams.acid.zalan.do") in kinds
    assert ("CustomResourceDefinition", "operatorconfigurations.acid.zalan.do") in kinds


def test_dependencies_fail_loudly_without_their_resources(dirs: PipelineDirs, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    dirs.write_input(promise_doc("database"))
    # Without a dependency set the runner leaves the resources directory to the caller: an empty one.
    spec = dataclasses.replace(find_image(DATABASE_DEPS), resources=None)
    run = run_container_locally(
        spec,
        input_dir=dirs.input,
        output_dir=dirs.output,
        metadata_dir=dirs.metadata,
        env={"PIPELINE_RESOURCES_DIR": str(empty)},
    )

    assert run.exit_code == 1
    assert "no manifests in" in run.log


# --- runner --------------------------------------------------------------------------------------------


def test_unknown_image_is_image_not_found(dirs: PipelineDirs) -> None:
    with pytest.raises(ImageNotFound, match="kratix-workshop/nope:v0"):
        dirs.run("kratix-workshop/nope:v0")


def test_runner_sets_kratix_environment_from_the_input_object(dirs: PipelineDirs, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "scripts").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM scratch\n")
    (context / "scripts" / "env.py").write_text(
        "import os, kratix_sdk as ks\n"
        "print(ks.get_output_dir())\n"
        "for k in sorted(os.environ):\n"
        "    print(k + '=' + os.environ[k]) if k.startswith('KRATIX_') else None\n"
    )
    spec = ImageSpec("local/env:v1", "test", context, context / "Dockerfile", ("python", "scripts/env.py"))
    dirs.write_input(example_request("promise-clean"))

    run = run_container_locally(
        spec,
        input_dir=dirs.input,
        output_dir=dirs.output,
        metadata_dir=dirs.metadata,
        env={"KRATIX_PIPELINE_NAME": "instance-configure"},
    )

    assert run.ok, run.log
    lines = run.log.splitlines()
    assert lines[0] == str(dirs.output)
    for expected in (
        "KRATIX_WORKFLOW_TYPE=resource",
        "KRATIX_WORKFLOW_ACTION=configure",
        "KRATIX_OBJECT_KIND=postgresql",
        "KRATIX_OBJECT_GROUP=workshop.kratix.io",
        "KRATIX_OBJECT_VERSION=v1",
        "KRATIX_OBJECT_NAME=example",
        "KRATIX_OBJECT_NAMESPACE=default",
        "KRATIX_PIPELINE_NAME=instance-configure",
    ):
        assert expected in lines
