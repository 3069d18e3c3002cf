"""The pytest plugin that turns the library into a runner: options, early checks, the run-wide target.

Registered from the root conftest's ``pytest_plugins``. Bad input (an unknown target, a broken feature
docstring, a missing context) stops the run with one line before any scenario touches a cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import waits
from harness.bootstrap import BootstrapError
from harness.features import check_docstrings, scenario_of
from harness.kratix_cli import plan_lines
from harness.kube import ContextError, KubeError
from harness.pinned import PinnedFetchError
from harness.plan import build_plan
from harness.targets import TARGETS, Clusters, Target, TargetError, TargetOptions, make_target
from harness.tools import ToolError, ToolNotFound, ToolTimeout
from harness.versions import VersionsError, load_versions

_TARGET_KEY = pytest.StashKey[Target]()
_FAILED_KEY = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kratix-workshop", "Kratix workshop end-to-end")
    group.addoption("--target", choices=sorted(TARGETS), default=os.environ.get("KRATIX_E2E_TARGET", "kind"),
                    help="where the tutorials run: kind (harness-owned kind clusters, default), existing "
                         "(your contexts), sim (simulated platform, no real clusters)")
    group.addoption("--platform-context", default=None,
                    help="platform context for --target existing (default: $PLATFORM)")
    group.addoption("--worker-context", default=None,
                    help="worker context for --target existing (default: $WORKER)")
    group.addoption("--artifacts-dir", default="artifacts",
                    help="where reports, diagnostics and the harness' own kubeconfig go (default: artifacts/)")
    group.addoption("--timeout-scale", type=float, default=None,
                    help="multiply every wait's timeout (default 1; $KRATIX_E2E_TIMEOUT_SCALE)")
    group.addoption("--keep-clusters", action="store_true", help="never delete the clusters this run created")
    group.addoption("--keep-on-failure", dest="keep_on_failure", action="store_true", default=True,
                    help="keep created clusters when a scenario failed (default)")
    group.addoption("--no-keep-on-failure", dest="keep_on_failure", action="store_false",
                    help="delete created clusters even when a scenario failed (CI)")
    group.addoption("--recreate", action="store_true",
                    help="kind: delete and recreate the platform/worker clusters even if they exist")
    group.addoption("--use-default-kubeconfig", action="store_true",
                    help="kind: write contexts into your default kubeconfig instead of the artifacts dir")
    group.addoption("--single-cluster", action="store_true",
                    help="register the platform itself as the destination (one cluster)")
    group.addoption("--plan", action="store_true",
                    help="print every command, URL and object the selected features would create; run nothing")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Name the target and every pinned upstream version at the top of each run."""
    lines = [f"kratix-workshop target: {config.getoption('target')}"
             + (" (SIMULATED platform, not real clusters)" if config.getoption("target") == "sim" else "")]
    try:
        lines += [f"  {line}" for line in load_versions().header_lines()]
    except VersionsError as exc:
        lines.append(f"  versions.yaml unreadable: {exc}")
    return lines


def options_from(config: pytest.Config) -> TargetOptions:
    """The target options given on the command line."""
    return TargetOptions(
        artifacts_dir=Path(config.getoption("artifacts_dir")).resolve(),
        platform_context=config.getoption("platform_context"),
        worker_context=config.getoption("worker_context"),
        keep_clusters=config.getoption("keep_clusters"),
        keep_on_failure=config.getoption("keep_on_failure"),
        recreate=config.getoption("recreate"),
        use_default_kubeconfig=config.getoption("use_default_kubeconfig"),
        single_cluster=config.getoption("single_cluster"),
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    artifacts = Path(config.getoption("artifacts_dir"))
    artifacts.mkdir(parents=True, exist_ok=True)
    scale = config.getoption("timeout_scale")
    if scale is not None:
        waits.set_scale(scale)
    # Reports people and CI read, unless the caller chose other paths.
    if not getattr(config.option, "xmlpath", None) and not hasattr(config, "workerinput"):
        config.option.xmlpath = str(artifacts / "junit.xml")
    if hasattr(config.option, "cucumber_json_path") and not config.option.cucumber_json_path:
        config.option.cucumber_json_path = str(artifacts / "cucumber.json")


def _features_dir(config: pytest.Config) -> Path:
    """Where pytest-bdd looks for features (``bdd_features_base_dir``, relative to the rootdir)."""
    base = config.getini("bdd_features_base_dir") or "features/"
    return (config.rootpath / base).resolve()


def _bdd_items(items: list[pytest.Item]) -> list[pytest.Item]:
    # Every pytest-bdd scenario test takes this fixture (its example row); nothing else does.
    return [i for i in items if "_pytest_bdd_example" in getattr(i, "fixturenames", ())]


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: plan and preflight only what will run
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    scenarios = _bdd_items(items)
    if not scenarios:
        return
    problems = check_docstrings(sorted(_features_dir(config).rglob("*.feature")))
    if problems:
        raise pytest.UsageError("; ".join(problems))
    if config.getoption("plan"):
        _print_plan(config, scenarios)
        items[:] = []
        pytest.exit("--plan: nothing was run", returncode=0)
    if config.getoption("collectonly"):
        return
    try:
        target = make_target(config.getoption("target"), options_from(config))
        target.preflight()
    except (TargetError, ContextError) as exc:
        raise pytest.UsageError(f"target {config.getoption('target')}: {exc}") from None
    config.stash[_TARGET_KEY] = target


def _print_plan(config: pytest.Config, scenarios: list[pytest.Item]) -> None:
    """Print what the selected features would do on the chosen target, in order; run nothing."""
    found = [scenario_of(item) for item in scenarios]
    selected: set[str] | None = {s.name for s in found if s is not None}
    features = sorted({Path(s.feature.filename) for s in found if s is not None})
    if not features or None in found:  # pytest-bdd internals moved: plan every scenario of every feature
        features, selected = sorted(_features_dir(config).rglob("*.feature")), None
    plan = build_plan(features, config.getoption("target"), options_from(config), scenarios=selected)
    if any(item.get_closest_marker("needs_cli") for item in scenarios):
        plan.header.extend(plan_lines([]))
    tr = config.pluginmanager.get_plugin("terminalreporter")
    text = plan.render()
    if tr is not None:
        tr.write_line(text)
    else:
        print(text)


def current_target(config: pytest.Config) -> Target | None:
    """The target chosen for this run, once collection has validated it."""
    return config.stash.get(_TARGET_KEY, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if getattr(report, "failed", False):
        item.config.stash[_FAILED_KEY] = True
    return report


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The run-wide target (validated during collection); torn down after the last test."""
    found = current_target(request.config)
    if found is None:  # a test module outside the features asked for it
        found = make_target(request.config.getoption("target"), options_from(request.config))
        found.preflight()
    yield found
    found.teardown(failed=request.config.stash.get(_FAILED_KEY, False))


@pytest.fixture(scope="session")
def clusters(target: Target) -> Clusters:
    """Both clusters, set up once per run (created, reused or simulated by the target)."""
    try:
        return target.setup()
    except (TargetError, ContextError, BootstrapError, KubeError, PinnedFetchError, ToolError, ToolNotFound,
            ToolTimeout) as exc:
        # One clear line (every test of the run reports the same cached failure), not a traceback.
        pytest.fail(f"target {target.name} could not be set up: {exc}", pytrace=False)
