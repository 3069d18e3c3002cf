"""Steps about the Kratix CLI: scaffolding a Promise in a temporary directory, as the guide does.

Also the gate for ``@needs_cli`` scenarios (this module is a plugin, so its hooks run): without the real CLI
at the pinned version they are skipped at collection time, with the reason, and never imitated. A skip from
inside a step would be reported as passed by pytest-bdd, so the decision is taken before any step runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytest_bdd import given, parsers, then, when

from harness import deps
from harness import scaffold as sc
from harness.kratix_cli import CliStatus, KratixCli, cli_status, find_cli, split_command
from harness.tools import ToolResult
from harness.versions import REPO_ROOT, load_versions

NEEDS_CLI = "needs_cli"
_STATUS = pytest.StashKey[CliStatus]()


def _status(config: pytest.Config) -> CliStatus:
    if _STATUS not in config.stash:
        config.stash[_STATUS] = cli_status()
    return config.stash[_STATUS]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gated = [item for item in items if item.get_closest_marker(NEEDS_CLI) is not None]
    if not gated:
        return
    status = _status(config)
    if status.available:
        return
    skip = pytest.mark.skip(reason=status.reason)
    for item in gated:
        item.add_marker(skip)


# Given


@given("the Kratix CLI at the pinned version", target_fixture="kratix_cli")
def _() -> KratixCli:
    return find_cli(load_versions().kratix_cli_version)


@given(parsers.parse('an empty directory "{name}" to write the Promise in'), target_fixture="promise_dir")
def _(name: str, tmp_path: Path) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    return directory


# When


@when(parsers.parse('the platform engineer runs "{command}"'), target_fixture="cli_result")
def _(command: str, kratix_cli: KratixCli, promise_dir: Path) -> ToolResult:
    return kratix_cli.run(split_command(command), cwd=promise_dir)


@when(parsers.parse('the Zalando operator manifests are copied into "{dirname}"'), target_fixture="deps_dir")
def _(dirname: str, promise_dir: Path) -> Path:
    source = deps.ensure(deps.load_dep_set())
    target = promise_dir / dirname
    target.mkdir()
    for path in sorted(source.glob("*.yaml")):
        shutil.copyfile(path, target / path.name)
    return target


# Then


@then(parsers.parse('the CLI says "{text}"'))
def _(text: str, cli_result: ToolResult) -> None:
    said = cli_result.stdout + cli_result.stderr
    assert text in said, f"`{cli_result.display}` did not say {text!r}; it said:\n{said}"


@then(parsers.parse('the scaffold is the Promise "{name}" offering "{kind}" as "{api_version}"'),
      target_fixture="promise_api")
def _(name: str, kind: str, api_version: str, promise_dir: Path) -> sc.PromiseApi:
    group, _, version = api_version.partition("/")
    api = sc.PromiseApi(name=name, group=group, kind=kind, version=version)
    sc.require(f"`kratix init promise` output in {promise_dir}", sc.check_init(promise_dir, api))
    return api


@then(parsers.parse('the scaffolded API has the property "{name}" of type "{type_}"'))
def _(name: str, type_: str, promise_dir: Path, promise_api: sc.PromiseApi) -> None:
    sc.require(f"`kratix update api` output in {promise_dir}", sc.check_property(promise_dir, promise_api, name, type_))


@then(parsers.parse('the promise configure pipeline "{pipeline}" runs "{image}" in the container "{container}" '
                    'carrying the files of "{dirname}"'))
def _(pipeline: str, image: str, container: str, dirname: str, promise_dir: Path) -> None:
    differences = sc.check_dependencies_workflow(promise_dir, promise_dir / dirname, image,
                                                 pipeline=pipeline, container=container)
    sc.require(f"`kratix update dependencies` output in {promise_dir}", differences)


@then(parsers.parse('the "{workflow}" pipeline "{pipeline}" runs "{image}" in the {language} container "{container}"'))
def _(workflow: str, pipeline: str, image: str, language: str, container: str, promise_dir: Path) -> None:
    lifecycle, _, action = workflow.partition("/")
    differences = sc.check_container(promise_dir, lifecycle=lifecycle, action=action, pipeline=pipeline, image=image,
                                     language=language, name=container)
    sc.require(f"`kratix add container` output in {promise_dir}", differences)


@then(parsers.parse('the scaffold has the structure of "{reference}"'))
def _(reference: str, promise_dir: Path) -> None:
    sc.require(f"scaffold {promise_dir} against {reference}", sc.compare_structure(promise_dir, REPO_ROOT / reference))
