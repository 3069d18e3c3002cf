"""Root conftest: wires plugins and step modules; no step logic here."""

from __future__ import annotations

pytest_plugins = [
    "harness.plugin",
    "harness.report",
    "harness.docs.plugin",
    "steps.platform",
    "steps.promise",
    "steps.request",
    "steps.worker",
    "steps.pipeline",
    "steps.status",
    "steps.cli",
]
