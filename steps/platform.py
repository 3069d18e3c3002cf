"""Steps about the platform as a whole: the Kratix platform and its registered destination."""

from __future__ import annotations

from pytest_bdd import given

from harness.bootstrap import verify_platform
from harness.targets import Clusters

# Given


@given("a Kratix platform cluster with a worker cluster registered as a destination")
def _(clusters: Clusters) -> None:
    # The target's setup waited for all of this; each scenario re-checks it cheaply, so a platform
    # broken between scenarios (or by hand, while rehearsing) is named before anything else runs.
    verify_platform(clusters)
