"""Many client threads at once against one emulated kube-apiserver: correctness under load and its speed.

The Part 3 run makes a few thousand requests from several in-process controllers; this test makes
2,400 mixed requests from 8 threads while a watch follows along, and bounds the wall time.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import kubernetes
import pytest

from harness.sim.apiserver import SimApiServer, write_kubeconfig

pytestmark = pytest.mark.sim

THREADS, ROUNDS = 8, 60  # 5 requests per round: 2,400 requests in all


def test_concurrent_clients_and_a_watch(tmp_path):
    with SimApiServer("load") as srv:
        path = tmp_path / "config"
        write_kubeconfig(path, {"sim-platform": srv.url})

        def client() -> kubernetes.client.CoreV1Api:
            # One ApiClient per thread, like separate controllers.
            return kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(config_file=str(path)))

        watched: list[tuple[str, str]] = []
        watching = threading.Event()

        def watch() -> None:
            core = client()
            listed = core.list_namespaced_config_map("default")
            watching.set()
            for event in kubernetes.watch.Watch().stream(
                    core.list_namespaced_config_map, "default", resource_version=listed.metadata.resource_version,
                    timeout_seconds=20):
                watched.append((event["type"], event["object"].metadata.name))
                if len(watched) == THREADS * ROUNDS * 3:  # ADDED, MODIFIED, DELETED per round
                    return

        def worker(index: int) -> list[int]:
            core = client()
            versions = []
            for round_ in range(ROUNDS):
                name = f"w{index}-{round_}"
                made = core.create_namespaced_config_map("default", {"metadata": {"name": name}, "data": {"n": "0"}})
                patched = core.patch_namespaced_config_map(name, "default", {"data": {"n": "1"}})
                assert core.read_namespaced_config_map(name, "default").data == {"n": "1"}
                core.list_namespaced_config_map("default", label_selector="nothing=here")
                core.delete_namespaced_config_map(name, "default")
                versions += [int(made.metadata.resource_version), int(patched.metadata.resource_version)]
            return versions

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert watching.wait(5)
        began = time.monotonic()
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(worker, range(THREADS)))
        elapsed = time.monotonic() - began
        watcher.join(10)

        versions = [v for result in results for v in result]
        assert len(set(versions)) == len(versions)  # every write got its own resourceVersion
        for result in results:
            assert result == sorted(result)  # and they only grow
        assert len(watched) == THREADS * ROUNDS * 3
        for index in range(THREADS):
            name = f"w{index}-0"
            assert [t for t, n in watched if n == name] == ["ADDED", "MODIFIED", "DELETED"]
        requests = THREADS * ROUNDS * 5
        print(f"{requests} requests from {THREADS} threads in {elapsed:.2f}s ({requests / elapsed:.0f}/s)")
        # The brief: a few thousand requests well under 30 s on 2 cores.
        assert elapsed < 15
