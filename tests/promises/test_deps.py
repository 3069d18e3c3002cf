"""harness.deps: the pinned Zalando files are fetched verified, or not at all."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest
import yaml

from harness.deps import DepsError, cache_dir, ensure, fetch, load_dep_set, verify_dir
from harness.pinned import sha256_hex
from tests.promises.conftest import ZALANDO

DEP = load_dep_set()


def test_versions_yaml_pins_the_files_promised_to_the_worker() -> None:
    assert DEP.version == "v2.0.1"
    assert {f.name for f in DEP.files} == {
        "configmap.yaml",
        "operator-service-account-rbac.yaml",
        "postgres-operator.yaml",
        "api-service.yaml",
        "postgresql.crd.yaml",
        "postgresteam.crd.yaml",
        "operatorconfiguration.crd.yaml",
    }
    assert all(
        f.url.startswith("https://raw.githubusercontent.com/zalando/postgres-operator/v2.0.1/") for f in DEP.files
    )


def test_versions_yaml_digests_match_the_upstream_files(upstream) -> None:
    assert verify_dir(DEP, ZALANDO) == []


def test_fetch_from_a_mirror_writes_verified_files(upstream, tmp_path: Path) -> None:
    dest = fetch(DEP, tmp_path / "deps", mirror=ZALANDO)

    assert verify_dir(DEP, dest) == []
    assert sorted(p.name for p in dest.iterdir()) == sorted(f.name for f in DEP.files)


def test_a_wrong_mirror_file_fails_naming_both_digests_and_writes_nothing(upstream, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(ZALANDO, mirror)
    (mirror / "postgres-operator.yaml").write_text("kind: Deployment\n")
    pinned = next(f.sha256 for f in DEP.files if f.name == "postgres-operator.yaml")

    with pytest.raises(DepsError) as error:
        fetch(DEP, tmp_path / "deps", mirror=mirror)

    message = str(error.value)
    assert f"{mirror}/postgres-operator.yaml" in message
    assert pinned in message
    assert sha256_hex(b"kind: Deployment\n") in message
    assert not (tmp_path / "deps").exists()


def test_a_missing_mirror_file_fails_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DepsError, match=r"mirror file .*/configmap\.yaml unreadable"):
        fetch(DEP, tmp_path / "deps", mirror=tmp_path)
    assert not (tmp_path / "deps").exists()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A local HTTP server over a directory, and the raw_base URL of a versions file pointing at it."""
    root = tmp_path / "www"
    root.mkdir()
    server = HTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_port}/manifests"
    server.shutdown()


def _versions_file(tmp_path: Path, raw_base: str) -> Path:
    versions = yaml.safe_load(Path("versions.yaml").read_text())
    versions["zalando_postgres_operator"]["raw_base"] = raw_base
    path = tmp_path / "versions.yaml"
    path.write_text(yaml.safe_dump(versions))
    return path


def test_download_verifies_and_writes(upstream, served, tmp_path: Path) -> None:
    root, base = served
    shutil.copytree(ZALANDO, root / "manifests")
    dep = load_dep_set(versions_file=_versions_file(tmp_path, base))

    dest = fetch(dep, tmp_path / "deps")

    assert verify_dir(dep, dest) == []


def test_an_http_error_fails_loudly_and_writes_nothing(upstream, served, tmp_path: Path) -> None:
    root, base = served
    shutil.copytree(ZALANDO, root / "manifests")
    (root / "manifests" / "postgresteam.crd.yaml").unlink()  # -> 404
    dep = load_dep_set(versions_file=_versions_file(tmp_path, base))

    with pytest.raises(DepsError, match=rf"download failed: {base}/postgresteam\.crd\.yaml: HTTP 404"):
        fetch(dep, tmp_path / "deps")
    assert not (tmp_path / "deps").exists()


def test_an_error_page_served_with_200_never_lands_as_a_file(served, tmp_path: Path) -> None:
    root, base = served
    (root / "manifests").mkdir()
    for f in DEP.files:
        (root / "manifests" / f.name).write_text("<html><body>Rate limit exceeded</body></html>")
    dep = load_dep_set(versions_file=_versions_file(tmp_path, base))

    with pytest.raises(
        DepsError,
        match=r"sha256 mismatch for http://127\.0\.0\.1:\d+/manifests/[\w.-]+\.yaml: expected [0-9a-f]{64}, got ",
    ):
        fetch(dep, tmp_path / "deps")
    assert not (tmp_path / "deps").exists()


def test_ensure_fills_the_cache_from_a_mirror_once(upstream, tmp_path: Path) -> None:
    target = ensure(DEP, mirror=ZALANDO, cache_root=tmp_path)

    assert target == cache_dir(DEP, tmp_path)
    assert verify_dir(DEP, target) == []
    # A verified cache is used as it is: a broken mirror is not even read.
    assert ensure(DEP, mirror=tmp_path / "nowhere", cache_root=tmp_path) == target


def test_ensure_refetches_a_tampered_cache(upstream, tmp_path: Path) -> None:
    target = ensure(DEP, mirror=ZALANDO, cache_root=tmp_path)
    (target / "configmap.yaml").write_text("tampered")

    ensure(DEP, mirror=ZALANDO, cache_root=tmp_path)

    assert verify_dir(DEP, target) == []
