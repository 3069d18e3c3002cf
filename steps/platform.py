"""Steps about the platform as a whole: the Kratix platform and its registered destination."""

from __future__ import annotations

from pytest_bdd import given

from harness.bootstrap_check import assert_platform_ready
from harness.targets import Clusters

# Given


@given("a Kratix platform cluster with a worker cluster registered as a destination")
def _(clusters: Clusters) -> None:
    assert_platform_ready(clusters)
