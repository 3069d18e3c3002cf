"""Is the platform ready for a tutorial? Kratix running, a Destination Ready, the worker reconciling."""

from __future__ import annotations

from harness import conditions as cond
from harness.targets.base import Clusters
from harness.waits import NotYet, wait_for

PLATFORM_API = "platform.kratix.io/v1alpha1"
# Kratix's canary: the namespace appears on a destination once Flux applied the state store's contents.
CANARY_NAMESPACE = "kratix-worker-system"


def assert_platform_ready(clusters: Clusters, tier: str = "short") -> None:
    """Wait until a Destination is Ready on the platform and the worker shows Kratix's canary namespace."""

    def destination_ready() -> str:
        destinations = clusters.platform.list(PLATFORM_API, "Destination")
        ready = [d["metadata"]["name"] for d in destinations if cond.condition_is(d, "Ready")]
        if not ready:
            raise NotYet("; ".join(f"{d['metadata']['name']}: {cond.conditions_summary(d)}" for d in destinations)
                         or "no Destination registered")
        return str(ready[0])

    name = wait_for(destination_ready, what=f"a Destination on {clusters.platform.name}",
                    condition="condition=Ready", tier=tier)

    def canary() -> None:
        if clusters.worker.get("v1", "Namespace", CANARY_NAMESPACE) is None:
            raise NotYet(f"namespace {CANARY_NAMESPACE} absent")

    wait_for(canary, what=f"namespace {CANARY_NAMESPACE} on {clusters.worker.name} (Destination {name})",
             condition="present", tier=tier)
