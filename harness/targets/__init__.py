"""Targets: where the tutorials run (``--target kind|existing|sim``)."""

from __future__ import annotations

import importlib

from harness.targets.base import Clusters, Target, TargetError, TargetOptions

TARGETS: dict[str, tuple[str, str]] = {
    "kind": ("harness.targets.kind", "KindTarget"),
    "existing": ("harness.targets.existing", "ExistingTarget"),
    "sim": ("harness.targets.sim", "SimTarget"),
}


def make_target(name: str, options: TargetOptions) -> Target:
    """Instantiate a target by name; unknown names raise ``TargetError`` listing the known ones."""
    try:
        module_name, class_name = TARGETS[name]
    except KeyError:
        raise TargetError(f"unknown target {name!r}; choose one of: {', '.join(TARGETS)}") from None
    cls = getattr(importlib.import_module(module_name), class_name)
    target: Target = cls(options)
    return target


__all__ = ["TARGETS", "Clusters", "Target", "TargetError", "TargetOptions", "make_target"]
