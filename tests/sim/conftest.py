"""Fixtures shared by the emulated API server tests."""

from __future__ import annotations

import kubernetes
import pytest

from harness.sim.apiserver import SimApiServer, write_kubeconfig


@pytest.fixture(scope="module")
def server():
    """One emulated API server per test module."""
    with SimApiServer("platform") as srv:
        yield srv


@pytest.fixture(scope="module")
def api(server, tmp_path_factory):
    """A real kubernetes ApiClient reaching ``server`` through a written kubeconfig."""
    path = tmp_path_factory.mktemp("kube") / "config"
    write_kubeconfig(path, {"sim-platform": server.url})
    return kubernetes.config.new_client_from_config(config_file=str(path), context="sim-platform")


@pytest.fixture(scope="module")
def core(api):
    return kubernetes.client.CoreV1Api(api)


@pytest.fixture
def namespace(core):
    # One fresh namespace per test keeps the module-wide server's state from leaking between tests.
    return core.create_namespace({"metadata": {"generateName": "t-"}}).metadata.name
