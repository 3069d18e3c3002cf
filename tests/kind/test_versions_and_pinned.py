"""versions.yaml loader and the pinned-file fetcher (mirror, HTTP, digest checks, all-or-nothing)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.pinned import PinnedFetchError, PinnedFile, fetch_pinned, files_of
from harness.versions import VERSIONS_FILE, VersionsError, load_versions, read_versions

from .conftest import KRATIX_INSTALL, need_upstream


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_repository_pins_load_and_name_every_version() -> None:
    versions = load_versions()
    assert versions.kind.node_image.startswith("kindest/node:v")
    assert versions.kratix.files.url_for("config/samples/minio-install.yaml") == (
        f"https://raw.githubusercontent.com/syntasso/kratix/{versions.kratix.commit}/config/samples/minio-install.yaml")
    header = "\n".join(versions.header_lines())
    for pin in (versions.kind.node_image, versions.cert_manager.version, versions.flux_version,
                versions.minio_image, versions.zalando_version, versions.kratix.release_manifest):
        assert pin in header


def test_pinned_kratix_digests_match_the_upstream_files() -> None:
    need_upstream()
    for path, digest in load_versions().kratix.files.files.items():
        name = path.rsplit("/", 1)[-1]
        assert sha((KRATIX_INSTALL / name).read_bytes()) == digest, name


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["kind"].pop("node_image"), r"versions\.yaml: kind\.node_image: missing$"),
        (lambda d: d["kratix"]["files"].update({"x.yaml": "abc"}),
         r"kratix\.files\.x\.yaml: expected a 64-character hex sha256, got 'abc'$"),
        (lambda d: d.update({"cert_manager": "v1"}), r"cert_manager\.version: missing$"),
        (lambda d: d["minio"].update({"image": ""}), r"minio\.image: expected a non-empty string, got ''$"),
    ],
)
def test_a_bad_versions_file_names_the_key(tmp_path: Path, mutate: Any, message: str) -> None:
    data = yaml.safe_load(VERSIONS_FILE.read_text())
    mutate(data)
    path = tmp_path / "versions.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(VersionsError, match=message):
        read_versions(path)


def test_unparsable_versions_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "versions.yaml"
    path.write_text("kind:\n  node_image: [unclosed\n")
    with pytest.raises(VersionsError, match=r"versions\.yaml line \d+: not valid YAML"):
        read_versions(path)


class _Files(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web() -> Iterator[tuple[str, dict[str, bytes]]]:
    files: dict[str, bytes] = {}
    handler = type("Handler", (_Files,), {"files": files})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()


def test_fetch_by_url_verifies_and_then_reuses_the_cache(tmp_path: Path, web: tuple[str, dict[str, bytes]]) -> None:
    base, served = web
    served["/a/one.yaml"] = b"kind: One\n"
    served["/two.yaml"] = b"kind: Two\n"
    files = [PinnedFile("a/one.yaml", f"{base}/a/one.yaml", sha(b"kind: One\n")),
             PinnedFile("two.yaml", f"{base}/two.yaml", sha(b"kind: Two\n"))]
    first = fetch_pinned(files, tmp_path)
    assert [(f.source, f.dest.read_bytes()) for f in first] == [("url", b"kind: One\n"), ("url", b"kind: Two\n")]
    served.clear()  # a second fetch must not need the network
    assert [f.source for f in fetch_pinned(files, tmp_path)] == ["cache", "cache"]


def test_an_error_page_never_lands_as_a_file(tmp_path: Path, web: tuple[str, dict[str, bytes]]) -> None:
    base, served = web
    served["/good.yaml"] = b"kind: Good\n"
    served["/moved.yaml"] = b"<!DOCTYPE html><html>Moved</html>"
    files = [PinnedFile("good.yaml", f"{base}/good.yaml", sha(b"kind: Good\n")),
             PinnedFile("moved.yaml", f"{base}/moved.yaml", sha(b"kind: Moved\n"))]
    with pytest.raises(PinnedFetchError) as err:
        fetch_pinned(files, tmp_path)
    message = str(err.value)
    expected = sha(b"kind: Moved\n")
    assert f"sha256 mismatch for {base}/moved.yaml: expected {expected}, " in message
    assert f"got {sha(b'<!DOCTYPE html><html>Moved</html>')}" in message
    assert "'<!DOCTYPE html><html>Moved</html>'" in message
    assert list(tmp_path.iterdir()) == [], "all-or-nothing: not even the good file is written"


def test_http_errors_name_the_url(tmp_path: Path, web: tuple[str, dict[str, bytes]]) -> None:
    base, _ = web
    with pytest.raises(PinnedFetchError, match=rf"^download failed: {base}/gone\.yaml: HTTP 404 Not Found$"):
        fetch_pinned([PinnedFile("gone.yaml", f"{base}/gone.yaml", "0" * 64)], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupted_cache_file_is_fetched_again(tmp_path: Path, web: tuple[str, dict[str, bytes]]) -> None:
    base, served = web
    served["/f.yaml"] = b"good\n"
    (tmp_path / "f.yaml").write_bytes(b"truncated")
    [fetched] = fetch_pinned([PinnedFile("f.yaml", f"{base}/f.yaml", sha(b"good\n"))], tmp_path)
    assert fetched.source == "url"
    assert (tmp_path / "f.yaml").read_bytes() == b"good\n"


def test_unpinned_files_are_fetched_and_their_digest_reported(
    tmp_path: Path, web: tuple[str, dict[str, bytes]]
) -> None:
    base, served = web
    served["/kratix.yaml"] = b"latest release\n"
    [fetched] = fetch_pinned([PinnedFile("kratix.yaml", f"{base}/kratix.yaml", None)], tmp_path)
    assert fetched.sha256 == sha(b"latest release\n")


def test_mirror_is_used_without_network_and_checked(tmp_path: Path) -> None:
    need_upstream()
    versions = load_versions()
    fetched = fetch_pinned(files_of(versions.kratix.files), tmp_path / "cache", mirror=KRATIX_INSTALL)
    assert {f.source for f in fetched} == {"mirror"}
    assert len(fetched) == len(versions.kratix.files.files)

    bad_mirror = tmp_path / "bad"
    bad_mirror.mkdir()
    (bad_mirror / "kind-worker-config.yaml").write_text("kind: Cluster\n")
    with pytest.raises(PinnedFetchError, match=r"sha256 mismatch for .*/bad/kind-worker-config\.yaml: expected 1422"):
        fetch_pinned(files_of(versions.kratix.files, ["kind-worker-config.yaml"]), tmp_path / "other",
                     mirror=bad_mirror)
    assert not (tmp_path / "other").exists()


def test_asking_for_an_unpinned_name_is_refused() -> None:
    with pytest.raises(PinnedFetchError, match=r"kratix\.files in versions\.yaml has no nope\.yaml"):
        files_of(load_versions().kratix.files, ["nope.yaml"])
