"""kubectl tables: parse what a page shows, render what a cluster has, compare them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from harness.docs.tables import (
    compare_tables,
    generated_suffix,
    human_duration,
    normalise_cell,
    normalise_name,
    parse_table,
    render_objects,
)
from tests.docs.conftest import SHARED

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def test_misaligned_rows_map_cell_by_cell():
    table = parse_table(
        [
            "NAME               READY   UP-TO-DATE   AVAILABLE   AGE",
            "postgres-operator   0/1     0            0           0s",
            "postgres-operator   1/1     1            1           11s",
        ],
        [50, 51, 52],
    )
    assert table is not None
    assert table.columns == ("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE")
    assert [(r.name, r["READY"], r.line) for r in table.rows] == [
        ("postgres-operator", "0/1", 51),
        ("postgres-operator", "1/1", 52),
    ]
    assert [r["READY"] for r in table.final_rows()] == ["1/1"]


def test_empty_cells_and_multiword_headers_map_by_position():
    text = [
        "NAME       CAPACITY   ACCESS MODES   RECLAIM POLICY   STATUS   CLAIM                      "
        "STORAGECLASS   REASON   AGE",
        "pvc-1a2b   1Gi        RWO            Delete           Bound    default/pgdata-example-0   "
        "standard                2m",
    ]
    table = parse_table(text)
    assert table is not None
    row = table.rows[0]
    assert (row["ACCESS MODES"], row["CLAIM"], row["REASON"], row["AGE"]) == (
        "RWO",
        "default/pgdata-example-0",
        "",
        "2m",
    )


def test_no_header_no_table():
    assert parse_table(["postgresql.workshop.kratix.io/example created"]) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("postgres-operator-7f58798d5c-sr825", ("postgres-operator", "replicaset")),
        ("configure-pipeline-postgres-d22dr", ("configure-pipeline-postgres", "generated")),
        ("kratix-db-example-configure-b2d4f-x9z8q", ("kratix-db-example-configure", "generated")),
        ("example-0", ("example", "ordinal")),
        ("postgres-dev-example", None),
        ("postgres-operator", None),
    ],
)
def test_generated_suffixes_use_the_kubernetes_alphabet(name, expected):
    assert generated_suffix(name) == expected


def test_normalisation():
    assert normalise_name("postgres-operator-7f58798d5c-sr825") == "postgres-operator-<hash>-<id>"
    assert normalise_name("pvc-0d6f5b8e-1c2a-4b3d-9e8f-7a6b5c4d3e2f") == "pvc-<uuid>"
    assert normalise_cell("AGE", "3d4h") == normalise_cell("AGE", "1s") == "<age>"
    assert normalise_cell("RESTARTS", "2 (5m ago)") == "<restarts>"
    assert normalise_cell("IP", "10.244.0.7") == "<ip>"
    assert normalise_cell("PORT(S)", "80:31338/TCP,443:30269/TCP") == "80:<port>/TCP,443:<port>/TCP"
    assert normalise_cell("STATUS", "Running") == "Running"


def test_compare_reports_renamed_rows_cells_and_columns():
    shown = parse_table(
        [
            "NAME                                 READY   STATUS    RESTARTS   AGE",
            "postgres-dev-example                 0/1     Running   0          1m",
            "postgres-operator-7f58798d5c-sr825   1/1     Running   0          1h",
        ],
        [280, 281, 282],
    )
    observed = parse_table(
        [
            "NAME                                 READY   STATUS    RESTARTS   AGE   IP",
            "postgres-operator-6c9d8b7f4d-k2x9z   0/1     Running   3          5s    10.0.0.1",
            "example-0                            1/1     Running   0          2m    10.0.0.2",
        ]
    )
    assert shown is not None
    assert observed is not None
    diffs = {(d.kind, d.column, d.shown, d.observed, d.line) for d in compare_tables(shown, observed)}
    assert diffs == {
        ("column-extra", "IP", "", "IP", 280),
        ("cell", "READY", "1/1", "0/1", 282),
        ("row-renamed", "NAME", "postgres-dev-example", "example-0", 281),
    }


def test_observed_names_are_normalised_leniently_page_names_strictly():
    # A simulator drew "1" and "0", outside Kubernetes' alphabet: still a generated suffix in what ran ...
    assert normalise_name("postgres-operator-jdw2fhq8fd-zcl1m", lenient=True) == "postgres-operator-<hash>-<id>"
    # ... but on a page a real five-letter word stays a word.
    assert normalise_name("web-nginx") == "web-nginx"
    shown = parse_table(["NAME   READY", "web-nginx   1/1", "postgres-operator-7f58798d5c-sr825   1/1"])
    observed = parse_table(["NAME   READY", "web-redis   1/1", "postgres-operator-jdw2fhq8fd-zcl1m   1/1"])
    assert shown is not None
    assert observed is not None
    assert [(d.kind, d.shown, d.observed) for d in compare_tables(shown, observed)] == [
        ("row-renamed", "web-nginx", "web-redis")
    ]


def test_identical_tables_after_normalisation_have_no_differences():
    shown = parse_table(["NAME                                 READY   AGE", "web-7f58798d5c-sr825   1/1   1h"])
    observed = parse_table(["NAME   READY   AGE", "web-6c9d8b7f4d-k2x9z   1/1   3s"])
    assert shown is not None
    assert observed is not None
    assert compare_tables(shown, observed) == []


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 120, "3h2m"),
        (9 * 3600, "9h"),
        (50 * 3600, "2d2h"),
        (10 * 86400, "10d"),
        (800 * 86400, "2y70d"),
        (-5, "<invalid>"),
    ],
)
def test_human_duration_matches_kubectl(seconds, text):
    assert human_duration(seconds) == text


def _pod(name: str, **status: object) -> dict[str, object]:
    return {
        "metadata": {"name": name, "creationTimestamp": _ago(minutes=3)},
        "spec": {"containers": [{"name": "c"}], "initContainers": [{"name": "i1"}, {"name": "i2"}]},
        "status": status,
    }


def test_render_pods_like_kubectl():
    running = _pod(
        "example-0",
        phase="Running",
        initContainerStatuses=[{"restartCount": 0, "state": {"terminated": {"exitCode": 0}}}] * 2,
        containerStatuses=[{"ready": True, "restartCount": 2, "state": {"running": {}}}],
    )
    completed = _pod(
        "kratix-db-x-configure-b2d4f-x9z8q",
        phase="Succeeded",
        initContainerStatuses=[{"restartCount": 0, "state": {"terminated": {"exitCode": 0}}}] * 2,
        containerStatuses=[
            {"ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ],
    )
    initialising = _pod(
        "kratix-db-y-configure-b2d4f-x9z8z",
        phase="Pending",
        initContainerStatuses=[
            {"restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
            {"restartCount": 0, "state": {"running": {}}},
        ],
    )
    failed_init = _pod(
        "kratix-db-z-configure-b2d4f-x9z8v",
        phase="Pending",
        initContainerStatuses=[{"restartCount": 1, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}],
    )
    table = render_objects("po", [running, completed, initialising, failed_init], now=NOW)
    assert table.columns == ("NAME", "READY", "STATUS", "RESTARTS", "AGE")
    assert [(r["READY"], r["STATUS"], r["RESTARTS"], r["AGE"]) for r in table.rows] == [
        ("1/1", "Running", "2", "3m"),
        ("0/1", "Completed", "0", "3m"),
        ("0/1", "Init:1/2", "0", "3m"),
        ("0/1", "Init:Error", "1", "3m"),
    ]
    assert table.render().splitlines()[0].startswith("NAME                                READY   STATUS")


def test_render_deployments_pvc_pv():
    deployment = {
        "metadata": {"name": "postgres-operator", "creationTimestamp": _ago(seconds=11)},
        "spec": {"replicas": 1},
        "status": {"readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1},
    }
    assert render_objects("deployments", [deployment], now=NOW).rows[0].cells == {
        "NAME": "postgres-operator",
        "READY": "1/1",
        "UP-TO-DATE": "1",
        "AVAILABLE": "1",
        "AGE": "11s",
    }
    pvc = {
        "metadata": {"name": "pgdata-example-0"},
        "spec": {"volumeName": "pvc-1", "storageClassName": "standard"},
        "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]},
    }
    row = render_objects("pvc", [pvc], now=NOW).rows[0]
    assert (row["STATUS"], row["CAPACITY"], row["ACCESS MODES"], row["AGE"]) == ("Bound", "1Gi", "RWO", "<unknown>")
    pv = {
        "metadata": {"name": "pvc-1"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "claimRef": {"namespace": "default", "name": "pgdata-example-0"},
            "storageClassName": "standard",
        },
        "status": {"phase": "Bound"},
    }
    row = render_objects("persistentvolume", [pv], now=NOW).rows[0]
    assert (row["CLAIM"], row["RECLAIM POLICY"], row["REASON"]) == ("default/pgdata-example-0", "Delete", "")


def test_render_promises_and_custom_resources():
    promise = {
        "metadata": {"name": "postgresql"},
        "status": {
            "status": "Available",
            "kind": "postgresql",
            "apiVersion": "workshop.kratix.io/v1",
            "version": "v0.1.0",
        },
    }
    table = render_objects("promises", [promise], now=NOW)
    assert table.columns == ("NAME", "STATUS", "KIND", "API VERSION", "VERSION", "MESSAGE")
    assert table.rows[0]["API VERSION"] == "workshop.kratix.io/v1"
    assert table.rows[0]["MESSAGE"] == ""
    crd = {
        "spec": {
            "versions": [
                {
                    "name": "v1",
                    "storage": True,
                    "additionalPrinterColumns": [
                        {
                            "name": "Status",
                            "jsonPath": '.status.conditions[?(@.type=="Reconciled")].message',
                            "type": "string",
                        },
                        {"name": "Ready", "jsonPath": ".status.ready", "type": "boolean"},
                        {"name": "Detail", "jsonPath": ".status.detail", "type": "string", "priority": 1},
                        {"name": "Age", "jsonPath": ".metadata.creationTimestamp", "type": "date"},
                    ],
                }
            ]
        }
    }
    request = {
        "metadata": {"name": "example", "creationTimestamp": _ago(hours=2)},
        "status": {
            "ready": True,
            "conditions": [{"type": "Other", "message": "x"}, {"type": "Reconciled", "message": "Reconciled"}],
        },
    }
    table = render_objects("postgresqls.workshop.kratix.io", [request], crd=crd, now=NOW)
    assert table.columns == ("NAME", "STATUS", "READY", "AGE")
    assert table.rows[0].cells == {"NAME": "example", "STATUS": "Reconciled", "READY": "true", "AGE": "120m"}
    bare = render_objects("caches.demo.acme.io", [request], now=NOW)
    assert bare.columns == ("NAME", "AGE")


def test_render_with_the_upstream_promise_crd():
    crd_path = SHARED / "upstream" / "kratix-crds" / "platform.kratix.io_promises.yaml"
    if not crd_path.is_file():
        pytest.skip(f"{crd_path} is absent: upstream Kratix CRDs are not available in this checkout")
    crd = yaml.safe_load(crd_path.read_text())
    promise = {
        "metadata": {"name": "database"},
        "status": {
            "status": "Unavailable",
            "kind": "Database",
            "apiVersion": "demo.kratix.io/v1alpha1",
            "version": "v0.0.1",
            "message": "Pending",
        },
    }
    row = render_objects("promises", [promise], crd=crd, now=NOW).rows[0]
    assert row.cells == {
        "NAME": "database",
        "STATUS": "Unavailable",
        "KIND": "Database",
        "API VERSION": "demo.kratix.io/v1alpha1",
        "VERSION": "v0.0.1",
        "MESSAGE": "Pending",
    }


def test_render_accepts_kubernetes_models():
    from kubernetes.client import V1ObjectMeta, V1Pod, V1PodSpec, V1PodStatus

    pod = V1Pod(metadata=V1ObjectMeta(name="m"), spec=V1PodSpec(containers=[]), status=V1PodStatus(phase="Pending"))
    assert render_objects("pods", [pod], now=NOW).rows[0]["STATUS"] == "Pending"
    with pytest.raises(TypeError, match="cannot render int"):
        render_objects("pods", [3], now=NOW)
