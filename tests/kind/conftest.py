"""Fixtures for the real-cluster path: recording stand-ins first on PATH, a fake API endpoint, install data."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.kratix_install import InstallFiles, ensure_install_files
from harness.versions import load_versions

REPO = Path(__file__).resolve().parents[2]
UPSTREAM = REPO.parent / "shared" / "upstream"
KRATIX_INSTALL = UPSTREAM / "kratix-install"
KRATIX_CRDS = UPSTREAM / "kratix-crds"
STANDIN = Path(__file__).parent / "standins" / "fake_tools.py"

USER_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example.invalid:6443"}}],
    "users": [{"name": "me", "user": {"token": "users-own-token"}}],
    "contexts": [{"name": "my-prod", "context": {"cluster": "prod", "user": "me"}}],
    "current-context": "my-prod",
}


def need_upstream() -> None:
    if not KRATIX_INSTALL.is_dir():
        pytest.skip(f"upstream Kratix install data not available ({KRATIX_INSTALL} absent)")


@dataclass
class Call:
    tool: str
    argv: list[str]
    start: float
    end: float
    exit: int


class Standins:
    """The stand-ins' shared world: set it up before, read the recorded calls after."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "standin-state"
        self.bin = root / "bin"
        self.home = root / "home"
        self.user_kubeconfig = self.home / ".kube" / "config"

    def state(self) -> dict[str, Any]:
        path = self.dir / "state.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def update(self, **sections: dict[str, Any]) -> None:
        state = self.state()
        for key, value in sections.items():
            state.setdefault(key, {}).update(value)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "state.json").write_text(json.dumps(state, indent=1))

    def add_cluster(self, name: str, *, ports: list[int], running: bool = True, image: str = "kindest/node:v1.33.1",
                    server: str | None = None) -> None:
        state = self.state()
        state.setdefault("kind", {}).setdefault("clusters", {})[name] = {"image": image}
        state.setdefault("docker", {}).setdefault("containers", {})[f"{name}-control-plane"] = {
            "running": running, "image": image, "ports": ports,
            "labels": {"io.x-k8s.kind.cluster": name},
        }
        if server:
            state["kind"].setdefault("servers", {})[name] = server
        (self.dir / "state.json").write_text(json.dumps(state, indent=1))

    def calls(self, tool: str | None = None) -> list[Call]:
        path = self.dir / "calls.jsonl"
        if not path.exists():
            return []
        calls = [Call(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
        return [c for c in calls if tool is None or c.tool == tool]

    def argvs(self, tool: str | None = None) -> list[list[str]]:
        return [c.argv for c in self.calls(tool)]

    def remove(self, tool: str) -> None:
        (self.bin / tool).unlink()


@pytest.fixture
def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Standins:
    """kind, docker and kubectl stand-ins first on PATH; HOME and KUBECONFIG point at a user's own config."""
    s = Standins(tmp_path)
    s.bin.mkdir()
    for tool in ("kind", "docker", "kubectl"):
        wrapper = s.bin / tool
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" {tool} "$@"\n')
        wrapper.chmod(0o755)
    s.user_kubeconfig.parent.mkdir(parents=True)
    s.user_kubeconfig.write_text(yaml.safe_dump(USER_KUBECONFIG, sort_keys=False))
    s.update(docker={"running": True, "root_dir": str(tmp_path)}, kind={"create_delay": 0.5})
    monkeypatch.setenv("PATH", f"{s.bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_DIR", str(s.dir))
    monkeypatch.setenv("HOME", str(s.home))
    monkeypatch.setenv("KUBECONFIG", str(s.user_kubeconfig))
    # Preflight: inotify is checked by its own tests; disk space is not what these tests are about.
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("KRATIX_E2E_MIN_FREE_GIB", "0")
    return s


class _VersionHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/version"):
            body = json.dumps({
                "major": "1", "minor": "33", "gitVersion": "v1.33.1",
                "gitCommit": "8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828",
                "gitTreeState": "clean", "buildDate": "2025-05-15T08:27:33Z", "goVersion": "go1.24.2",
                "compiler": "gc", "platform": "linux/amd64"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def api_endpoint() -> Iterator[str]:
    """An HTTP endpoint answering ``/version`` like a kube-apiserver (enough for ``Kube.ping``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _VersionHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def dead_endpoint() -> str:
    """A loopback URL nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def install_files(tmp_path_factory: pytest.TempPathFactory) -> InstallFiles:
    """Kratix's install files at the pinned commit, fetched from the ../shared mirror (digests checked)."""
    need_upstream()
    return ensure_install_files(load_versions(), cache_dir=tmp_path_factory.mktemp("kratix-install"),
                                mirror=KRATIX_INSTALL)
