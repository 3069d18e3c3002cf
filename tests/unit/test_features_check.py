from __future__ import annotations

from pathlib import Path

from harness.features import check_docstrings

FEATURES = Path(__file__).resolve().parents[2] / "features"


def test_project_features_have_valid_yaml_docstrings():
    paths = sorted(FEATURES.glob("*.feature"))
    assert paths
    assert check_docstrings(paths) == []


def test_broken_docstring_is_reported_with_file_and_line(tmp_path):
    feature = tmp_path / "broken.feature"
    feature.write_text(
        'Feature: f\n  Scenario: s\n    When the platform user requests:\n      """yaml\n'
        "      apiVersion: v1\n      metadata: {name: [x\n      \"\"\"\n"
    )
    problems = check_docstrings([feature])
    assert len(problems) == 1
    assert problems[0].startswith(f"{feature}:6: docstring is not valid YAML")


def test_outline_parameters_are_substituted_per_example(tmp_path):
    feature = tmp_path / "outline.feature"
    feature.write_text(
        'Feature: f\n  Scenario Outline: s\n    When x:\n      """yaml\n      spec: <spec>\n      """\n\n'
        "    Examples:\n      | spec        |\n      | {a: 1}      |\n      | {a: [1, 2   |\n"
    )
    problems = check_docstrings([feature])
    assert len(problems) == 1
    assert "{'spec': '{a: [1, 2'}" in problems[0]


def test_non_yaml_docstrings_are_not_parsed(tmp_path):
    feature = tmp_path / "text.feature"
    feature.write_text('Feature: f\n  Scenario: s\n    When x:\n      """\n      not: [yaml\n      """\n')
    assert check_docstrings([feature]) == []
