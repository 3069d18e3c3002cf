"""Read .feature files before anything runs, to reject bad input early.

A manifest docstring that is not valid YAML must stop the run with one clear line before any scenario
touches a cluster; pytest-bdd would otherwise only notice mid-scenario.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pytest_bdd.gherkin_parser import get_gherkin_document

_PARAM = re.compile(r"<([^<>\s]+)>")


class FeatureError(ValueError):
    """A feature file has a problem that would break a scenario (message: file:line: problem)."""


def _outline_values(scenario: object) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for examples in getattr(scenario, "examples", []) or []:
        header = [c.value for c in examples.table_header.cells] if examples.table_header else []
        for row in examples.table_body or []:
            rows.append(dict(zip(header, [c.value for c in row.cells], strict=False)))
    return rows or [{}]


def _render(text: str, values: dict[str, str]) -> str:
    # Unknown parameters get a neutral scalar so the YAML structure can still be checked.
    return _PARAM.sub(lambda m: values.get(m.group(1), "x"), text)


def _is_yaml(lines: list[str], line: int, delimiter: str) -> bool:
    # The parser drops the docstring's media type; read it from the opening delimiter line.
    opening = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return opening[len(delimiter):].strip().lower() in ("yaml", "yml")


def check_docstrings(paths: Iterable[Path]) -> list[str]:
    """Every YAML docstring in the features parses (outline parameters substituted per example row).

    Returns a list of problems as ``file:line: message``; empty when all is well.
    """
    problems: list[str] = []
    for path in paths:
        try:
            doc = get_gherkin_document(str(path.resolve()))
        except Exception as exc:  # the gherkin parser raises its own error types
            problems.append(f"{path}: cannot parse feature: {exc}")
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        feature = doc.feature
        if feature is None:
            continue
        scenarios: list[Any] = []
        for child in feature.children:
            if child.background is not None:
                scenarios.append(child.background)
            if child.scenario is not None:
                scenarios.append(child.scenario)
            if child.rule is not None:
                scenarios.extend(c.scenario for c in child.rule.children if c.scenario is not None)
        for scenario in scenarios:
            for values in _outline_values(scenario):
                for step in scenario.steps:
                    ds = step.docstring
                    if ds is None or not _is_yaml(lines, ds.location.line, ds.delimiter):
                        continue
                    text = _render(ds.content, values)
                    try:
                        list(yaml.safe_load_all(text))
                    except yaml.MarkedYAMLError as exc:
                        mark = exc.problem_mark
                        line = ds.location.line + 1 + (mark.line if mark else 0)
                        row = f" (example {values})" if values else ""
                        problems.append(f"{path}:{line}: docstring is not valid YAML{row}: {exc.problem}")
                        break
    return problems


def scenario_of(item: object) -> Any:
    """The pytest-bdd scenario a collected test item runs, or None.

    pytest-bdd 9 keeps it only in a registry keyed by the test function (older releases set
    ``__scenario__``); if a release moves it, callers get None and fall back to whole features.
    """
    try:
        from pytest_bdd.scenario import scenario_wrapper_template_registry as registry
    except ImportError:
        return None
    try:
        return registry.get(getattr(item, "obj", None))  # type: ignore[arg-type]
    except TypeError:  # not weak-referenceable: not a scenario
        return None
