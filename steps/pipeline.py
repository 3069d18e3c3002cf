"""Steps about Kratix pipeline pods: container order, logs."""

from __future__ import annotations

import re
from typing import Any

from pytest_bdd import parsers, then

from harness import platform_ops as ops
from harness import worker_ops as w
from harness.conditions import pod_terminal_reason
from harness.docs.recorder import DocsRecorder
from harness.targets import Clusters
from harness.waits import NotYet, TerminalFailure, wait_for

# Then


@then(parsers.parse('the pipeline pod of request "{name}" completed its containers in order:'),
      target_fixture="pipeline_pod")
def _(name: str, datatable: list[list[str]], resource_request: dict[str, Any], clusters: Clusters,
      docs_recorder: DocsRecorder) -> dict[str, Any]:
    expected = [row[0] for row in datatable[1:]]
    namespace = resource_request["metadata"].get("namespace", "default")
    promise = ops.promise_for_request(clusters.platform, resource_request)

    def probe() -> dict[str, Any]:
        pods = ops.pipeline_pods(clusters.platform, promise, name, namespace)
        if not pods:
            raise NotYet("no pipeline pod")
        pod = pods[0]
        reason = pod_terminal_reason(pod)
        if reason:
            raise TerminalFailure(reason)
        if (pod.get("status") or {}).get("phase") != "Succeeded":
            raise NotYet(f"{pod['metadata']['name']} {(pod.get('status') or {}).get('phase')}")
        return pod

    pod = wait_for(probe, what=f"the pipeline pod of {name}", condition="Completed", tier="pipeline")
    docs_recorder.ran(["kubectl", "--context", clusters.platform.context, "get", "pods"])
    docs_recorder.observed("pods", clusters.platform.list("v1", "Pod", namespace))
    init_names = [c["name"] for c in pod["spec"].get("initContainers") or []]
    assert init_names == expected, f"init containers ran in order {init_names}, expected {expected}"
    main = [c["name"] for c in pod["spec"].get("containers") or []]
    assert main == ["status-writer"], f"main containers {main}, expected ['status-writer']"
    for status in pod["status"].get("initContainerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated") or {}
        assert terminated.get("exitCode") == 0, f"container {status['name']} ended {terminated or status}"
    return pod


@then(parsers.parse('the "{container}" log lists every image in the pipeline output and a summary line'))
def _(container: str, pipeline_pod: dict[str, Any], resource_request: dict[str, Any], clusters: Clusters,
      docs_recorder: DocsRecorder) -> None:
    meta = pipeline_pod["metadata"]
    log = clusters.platform.logs(meta["name"], meta["namespace"], container=container)
    docs_recorder.ran(["kubectl", "--context", clusters.platform.context, "logs", "--container", container,
                       f"pods/{meta['name']}"])
    docs_recorder.observed("log", log)
    # What the pipeline produced, as delivered to the worker: the Zalando clusters of this request.
    delivered = clusters.worker.list(w.ZALANDO_API, w.ZALANDO_KIND, "default")
    images = w.images_in(delivered)
    missing = [image for image in images if image not in log]
    assert not missing, f"{container} log does not list {missing}:\n{log}"
    summary = [line for line in log.splitlines() if re.search(r"\b\d+ images?\b", line, re.IGNORECASE)]
    assert summary, f"{container} log has no summary line counting images:\n{log}"
    # A clean bill of health needs a scan: the log must say it did not scan, or name the scanner it ran.
    not_scanned = re.search(r"\bnot scanned\b", log, re.IGNORECASE)
    assert not_scanned or "trivy" in log.lower(), f"{container} names no scanner, nor says it did not scan:\n{log}"
    if re.search(r"\b(0|no) vulnerabilit", log, re.IGNORECASE):
        assert not not_scanned, f"{container} claims no vulnerabilities without a scan:\n{log}"


@then(parsers.parse('the "{container}" log says whether the requester was notified'))
def _(container: str, pipeline_pod: dict[str, Any], clusters: Clusters) -> None:
    meta = pipeline_pod["metadata"]
    log = clusters.platform.logs(meta["name"], meta["namespace"], container=container)
    assert re.search(r"notif|skip", log, re.IGNORECASE), f"{container} log says nothing about notifying:\n{log}"
