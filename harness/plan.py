"""``--plan``: every external command, every URL and every cluster object a run would create, in order.

Nothing runs and nothing is downloaded. The plan is built from the same argv builders and renderers the run
uses (``KindCommands``, ``Kubectl``, ``ImageLoader.planned_argvs``, ``registration_objects``), so it cannot
drift from what happens. Feature files are read with pytest-bdd's own parser; each Given/When step is
matched against ``STEP_RULES`` (the step vocabulary of ``steps/``), Then steps only read and plan nothing,
and a Given/When step no rule knows is listed at the end as not modelled, never silently dropped.

The plan follows the run's idempotence: a promise already installed earlier in the plan is not installed
again by an "is installed and Available" step, and an image is built and loaded once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pytest_bdd.parser import FeatureParser, ScenarioTemplate

from harness import preflight
from harness.bootstrap import (
    CERT_MANAGER_DEPLOYMENTS,
    CERT_MANAGER_NAMESPACE,
    KRATIX_CONTROLLER,
    KRATIX_NAMESPACE,
    Kubectl,
    Registration,
    registration_objects,
)
from harness.images import ImageSpec, load_image_catalog
from harness.kind_images import ImageLoader, split_by_catalog
from harness.kratix_install import (
    InstallFiles,
    bucket_endpoint,
    default_mirror,
    install_cache_dir,
    planned_install_urls,
)
from harness.kube import Ref
from harness.manifests import load_yaml_documents
from harness.platform_ops import PROMISES_DIR
from harness.promise_edit import add_containers, load_promise
from harness.promise_edit import images as promise_images
from harness.targets.base import TargetOptions
from harness.targets.existing import ExistingTarget
from harness.targets.kind import (
    PLATFORM,
    WORKER,
    KindCluster,
    KindCommands,
    create_kubeconfig,
    harness_kubeconfig,
    managed_clusters,
)
from harness.tools import format_argv
from harness.versions import Versions, load_versions

ActionKind = Literal["command", "url", "object"]


@dataclass(frozen=True)
class PlannedAction:
    """One thing the run does to the machine or a cluster.

    Attributes:
        kind: ``command`` (an external program), ``url`` (a download) or ``object`` (an API write).
        detail: the command line, the URL, or ``create|apply|delete <Kind>/<name> [-n ns]``.
        cluster: ``platform``/``worker`` for objects and kubectl; None for the local machine.
        note: when or why (``only if the cluster does not exist``), shown after the detail.
    """

    kind: ActionKind
    detail: str
    cluster: str | None = None
    note: str = ""

    def line(self) -> str:
        where = f"[{self.cluster}] " if self.cluster else ""
        note = f"  # {self.note}" if self.note else ""
        return f"{self.kind:<7} {where}{self.detail}{note}"


@dataclass
class Plan:
    """The ordered actions, grouped in sections, plus steps no rule models."""

    target: str
    header: list[str] = field(default_factory=list)
    sections: list[tuple[str, list[PlannedAction]]] = field(default_factory=list)
    unmodelled: list[str] = field(default_factory=list)

    @property
    def actions(self) -> list[PlannedAction]:
        return [a for _, actions in self.sections for a in actions]

    def section(self, title: str) -> list[PlannedAction]:
        actions: list[PlannedAction] = []
        self.sections.append((title, actions))
        return actions

    def render(self) -> str:
        lines = [f"Plan for --target {self.target} (nothing has been run)", *(f"  {h}" for h in self.header)]
        for title, actions in self.sections:
            if not actions:
                continue
            lines += ["", f"== {title}", *(f"  {a.line()}" for a in actions)]
        if self.unmodelled:
            lines += ["", "== steps the plan does not model (they may do more than listed above)",
                      *(f"  {s}" for s in self.unmodelled)]
        counts = {k: sum(1 for a in self.actions if a.kind == k) for k in ("command", "url", "object")}
        lines += ["", f"{counts['command']} commands, {counts['url']} downloads, {counts['object']} object writes"]
        return "\n".join(lines) + "\n"


# -- the per-step model ---------------------------------------------------------------------------------


@dataclass
class PlanState:
    """What the planned run has done so far (to mirror its idempotence)."""

    target: str
    loader: ImageLoader | None
    catalog: Mapping[str, ImageSpec]
    promises_dir: Path
    installed: dict[str, dict[str, Any]] = field(default_factory=dict)  # promise name -> manifest
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # promise dir -> manifest
    current: dict[str, Any] | None = None  # the promise the scenario works on (target_fixture promise_source)
    images_done: set[str] = field(default_factory=set)

    def promise(self, directory: str) -> dict[str, Any]:
        if directory not in self.sources:
            self.sources[directory] = load_promise(self.promises_dir / directory / "promise.yaml")
        return self.sources[directory]


@dataclass(frozen=True)
class StepText:
    keyword: str  # given | when | then
    text: str
    docstring: str | None
    datatable: list[list[str]] | None


Rule = Callable[[PlanState, "re.Match[str]", StepText], list[PlannedAction]]


def _images(state: PlanState, promise: Mapping[str, Any]) -> list[PlannedAction]:
    specs, foreign = split_by_catalog(promise_images(promise), state.catalog)
    actions: list[PlannedAction] = []
    for spec in specs:
        if spec.ref in state.images_done:
            continue
        state.images_done.add(spec.ref)
        if state.loader is not None:
            build, load = state.loader.planned_argvs(spec)
            actions += [PlannedAction("command", format_argv(build), note="skipped when the sources are unchanged"),
                        PlannedAction("command", format_argv(load),
                                      note="skipped when the node already has this image ID")]
    for ref in foreign:
        if ref not in state.images_done:
            state.images_done.add(ref)
            actions.append(PlannedAction("url", f"image {ref}", PLATFORM, note="pulled by the cluster's nodes"))
    return actions


def _install(state: PlanState, promise: dict[str, Any], *, origin: str,
             before_apply: Sequence[PlannedAction] = ()) -> list[PlannedAction]:
    """Images first (built and loaded before the Promise that needs them), then the Promise itself."""
    name = promise["metadata"]["name"]
    state.installed[name] = promise
    state.current = promise
    return [*_images(state, promise), *before_apply,
            PlannedAction("object", f"apply Promise/{name}", PLATFORM, note=origin)]


def _rule_install(state: PlanState, match: re.Match[str], step: StepText) -> list[PlannedAction]:
    directory = match["dir"]
    promise = state.promise(directory)
    if match["available"] and promise["metadata"]["name"] in state.installed:
        state.current = state.installed[promise["metadata"]["name"]]
        return []
    return _install(state, promise, origin=f"promises/{directory}/promise.yaml")


def _rule_delete_promise(state: PlanState, match: re.Match[str], step: StepText) -> list[PlannedAction]:
    state.installed.pop(match["name"], None)
    return [PlannedAction("object", f"delete Promise/{match['name']}", PLATFORM)]


def _rule_delete_all(state: PlanState, match: re.Match[str], step: StepText) -> list[PlannedAction]:
    names = sorted(state.installed) or ["(every Promise this harness installed)"]
    state.installed.clear()
    return [PlannedAction("object", f"delete Promise/{n}", PLATFORM) for n in names]


def _rule_gain_containers(state: PlanState, match: re.Match[str], step: StepText) -> list[PlannedAction]:
    if state.current is None:
        return []
    if step.datatable:
        header, *rows = step.datatable
        new: list[dict[str, Any]] = [dict(zip(header, row, strict=True)) for row in rows]
    else:  # the containers as a YAML list in a docstring
        loaded = yaml.safe_load(step.docstring or "") or []
        new = [dict(c) for c in loaded if isinstance(c, dict)] if isinstance(loaded, list) else []
    state.current = add_containers(state.current, new, pipeline=match["pipeline"])
    return []  # an edit in memory; the reinstall step writes it


def _rule_reinstall(state: PlanState, match: re.Match[str], step: StepText) -> list[PlannedAction]:
    if state.current is None:
        return []
    name = state.current["metadata"]["name"]
    delete = PlannedAction("object", f"delete Promise/{name}", PLATFORM, note="if installed")
    return _install(state, state.current, origin="the promise edited by the previous step", before_apply=[delete])


def _rule_request(state: PlanState, match: re.Match[str], step: StepText) -> list[PlannedAction]:
    actions = []
    for doc in yaml.safe_load_all(step.docstring or ""):
        if isinstance(doc, dict) and doc.get("kind"):
            ref = Ref.of(doc)
            verb = "apply" if match["verb"] != "submits" else "apply (expected to be refused)"
            if match["verb"] == "requests a fresh":
                actions.append(PlannedAction("object", f"delete {_qualified(doc)}", PLATFORM, note="if it exists"))
            actions.append(PlannedAction("object", f"{verb} {_qualified(doc)}", PLATFORM,
                                         note=f"{ref.kind} request"))
            if match["verb"] == "requests a fresh":
                actions.append(PlannedAction("object", f"delete {_qualified(doc)}", PLATFORM,
                                             note="after the scenario"))
    return actions


def _rule_delete_request(state: PlanState, match: re.Match[str], step: StepText) -> list[PlannedAction]:
    return [PlannedAction("object", f"delete request {match['name']} of Promise/{match['promise']}", PLATFORM)]


def _rule_cli(state: PlanState, match: re.Match[str], step: StepText) -> list[PlannedAction]:
    return [PlannedAction("command", match["command"], note="in a temporary directory")]


def _rule_zalando_files(state: PlanState, match: re.Match[str], step: StepText) -> list[PlannedAction]:
    files = load_versions().zalando_files
    return [PlannedAction("url", files.url_for(path), note="unless cached or mirrored; then copied locally")
            for path in files.files]


def _read_only(state: PlanState, match: re.Match[str], step: StepText) -> list[PlannedAction]:
    return []


#: Step text -> what the step does (keep in step with steps/*.py; a step no rule matches is reported).
STEP_RULES: list[tuple[re.Pattern[str], Rule]] = [
    (re.compile(r'the promise "(?P<dir>[^"]+)" is installed(?P<available> and Available)?'), _rule_install),
    (re.compile(r'the promise "(?P<name>[^"]+)" is deleted'), _rule_delete_promise),
    (re.compile(r"every promise is deleted from the platform"), _rule_delete_all),
    (re.compile(r'its "(?P<pipeline>[^"]+)" pipeline gains the containers:'), _rule_gain_containers),
    (re.compile(r"the edited promise is reinstalled"), _rule_reinstall),
    (re.compile(r"the platform user (?P<verb>requests a fresh|requests|submits):"), _rule_request),
    (re.compile(r'the platform user deletes the request "(?P<name>[^"]+)" of the promise "(?P<promise>[^"]+)"'),
     _rule_delete_request),
    (re.compile(r'the platform engineer runs "(?P<command>[^"]+)"'), _rule_cli),
    # Givens that only check or read (the platform bootstrap itself is planned in its own section).
    (re.compile(r"a Kratix platform cluster with a worker cluster registered as a destination"), _read_only),
    (re.compile(r"the Kratix CLI at the pinned version"), _read_only),
    (re.compile(r'an empty directory "[^"]+" to write the Promise in'), _read_only),
    (re.compile(r'the Zalando operator manifests are copied into "[^"]+"'), _rule_zalando_files),
    (re.compile(r'the status changes of the promise "[^"]+" are recorded from now on'), _read_only),
]


def _qualified(doc: Mapping[str, Any]) -> str:
    group = str(doc.get("apiVersion", "")).split("/")[0] if "/" in str(doc.get("apiVersion", "")) else ""
    meta = doc.get("metadata") or {}
    ns = f" -n {meta['namespace']}" if meta.get("namespace") else ""
    return f"{doc.get('kind')}{'.' + group if group else ''}/{meta.get('name')}{ns}"


def plan_step(state: PlanState, step: StepText) -> list[PlannedAction] | None:
    """The actions of one step; None when no rule models it (Then steps plan nothing)."""
    if step.keyword == "then":
        return []
    for pattern, rule in STEP_RULES:
        match = pattern.fullmatch(step.text)
        if match:
            return rule(state, match, step)
    return None


def _scenarios(feature_path: Path, only: Collection[str] | None = None) -> Iterable[tuple[str, list[StepText]]]:
    feature = FeatureParser(str(feature_path.parent), feature_path.name).parse()
    for template in feature.scenarios.values():
        if only is not None and template.name not in only:
            continue
        for title, scenario in _rendered(template):
            steps = [StepText(s.type, s.name, s.docstring, _raw(s.datatable)) for s in scenario.steps]
            yield f"{feature.name}: {title}", steps


def _rendered(template: ScenarioTemplate) -> Iterable[tuple[str, Any]]:
    rows = [(ex.example_params, row) for ex in template.examples for row in ex.examples]
    if not rows:
        yield template.name, template.render({})
        return
    for params, row in rows:
        context = dict(zip(params, row, strict=True))
        yield f"{template.name} [{', '.join(row)}]", template.render(context)


def _raw(datatable: Any) -> list[list[str]] | None:
    if datatable is None:
        return None
    raw = datatable.raw() if hasattr(datatable, "raw") else datatable
    return [list(map(str, row)) for row in raw]


# -- the target's part ----------------------------------------------------------------------------------


def _manifest_objects(path: Path, cluster: str, origin: str) -> list[PlannedAction]:
    """One action per object in a local manifest file; one summary line when the file is not here yet."""
    if not path.is_file():
        return [PlannedAction("object", f"every object in {origin}", cluster, note="listed once it is fetched")]
    return [PlannedAction("object", f"apply {_qualified(doc)}", cluster, note=origin)
            for doc in load_yaml_documents(path)]


def _kind_section(plan: Plan, options: TargetOptions, versions: Versions, files: InstallFiles) -> None:
    commands = KindCommands(harness_kubeconfig(options), versions.kind.node_image)
    clusters = managed_clusters(files, single_cluster=options.single_cluster)

    fetch = plan.section("downloads (sha256-checked against versions.yaml; nothing else on disk changes)")
    mirror = default_mirror()
    if mirror is None:
        fetch += [PlannedAction("url", url, note="unless cached") for url in planned_install_urls(versions)]
    else:
        fetch.append(PlannedAction("url", f"{mirror}/<file>", note="Kratix install files from the local mirror"))

    checks = plan.section("preflight (read-only)")
    checks += [PlannedAction("command", format_argv(argv)) for argv in (
        preflight.DOCKER_INFO_ARGV, preflight.KIND_VERSION_ARGV, preflight.KUBECTL_CLIENT_ARGV,
        commands.get_clusters())]
    checks += [PlannedAction("command", format_argv(commands.inspect(c)), note="if the cluster exists")
               for c in clusters]
    checks += [PlannedAction("command", format_argv(argv))
               for argv in (preflight.DOCKER_PORTS_ARGV, preflight.DOCKER_ROOT_ARGV)]

    create = plan.section("clusters")
    if options.use_default_kubeconfig:
        create.append(PlannedAction("command", "kubectl config current-context", note="remembered, restored below"))
    if options.recreate:
        create += [PlannedAction("command", format_argv(commands.delete(c)), note="--recreate, if it exists")
                   for c in clusters]
    create += [PlannedAction("command", format_argv(commands.create(c, create_kubeconfig(options.work_dir, c))),
                             note="in parallel; only if it does not exist")
               for c in clusters]
    create += [PlannedAction("command", format_argv(commands.export_kubeconfig(c))) for c in clusters]
    if options.use_default_kubeconfig:
        create.append(PlannedAction("command", "kubectl config use-context <your current context>"))


def _bootstrap_section(plan: Plan, options: TargetOptions, versions: Versions, files: InstallFiles) -> None:
    kubectl = Kubectl(harness_kubeconfig(options))
    platform_ctx = "kind-platform"
    worker_ctx = platform_ctx if options.single_cluster else "kind-worker"
    destination = PLATFORM if options.single_cluster else WORKER
    releases = options.work_dir / "releases"

    install = plan.section("platform bootstrap (quick-start)")
    if not options.single_cluster:
        node_address = KindCommands(kubectl.kubeconfig, versions.kind.node_image).node_address(
            KindCluster(PLATFORM, Path()))
        install.append(PlannedAction("command", format_argv(node_address),
                                     note="the platform address the worker's Flux reaches MinIO on"))
    install += [PlannedAction("url", versions.cert_manager.manifest, note="unless already in the work dir"),
                PlannedAction("url", versions.kratix.release_manifest,
                              note="pinned by digest" if versions.kratix.release_manifest_sha256 else
                              "a moving release: the installed digest is printed")]
    steps: list[tuple[str, Path, str]] = [
        (platform_ctx, releases / "cert-manager.yaml", versions.cert_manager.manifest),
        (platform_ctx, files.minio_install, "minio-install.yaml"),
        (platform_ctx, releases / "kratix.yaml", versions.kratix.release_manifest),
        (worker_ctx, files.gitops_install, "gitops-tk-install.yaml"),
    ]
    for context, path, origin in steps:
        cluster = PLATFORM if context == platform_ctx else destination
        install.append(PlannedAction("command", format_argv(kubectl.apply_argv(context, path)), cluster))
        install += _manifest_objects(path, cluster, origin)
        if path.name == "cert-manager.yaml":
            install.append(PlannedAction("object", f"wait Deployments {', '.join(CERT_MANAGER_DEPLOYMENTS)} -n "
                                         f"{CERT_MANAGER_NAMESPACE} Available", PLATFORM, note="read-only"))
    install.append(PlannedAction("object", f"wait Deployment/{KRATIX_CONTROLLER} -n {KRATIX_NAMESPACE} Available "
                                 "(its webhook serves before any Kratix object)", PLATFORM, note="read-only"))

    _registration(install, options, files, worker_ctx, destination)


def _registration(actions: list[PlannedAction], options: TargetOptions, files: InstallFiles, worker_ctx: str,
                  destination: str) -> None:
    if options.single_cluster:
        registration = Registration.single_cluster_platform()
    else:
        registration = Registration.worker(bucket_endpoint=bucket_endpoint("<platform node InternalIP>", files),
                                           worker_context=worker_ctx)
    for where, obj in registration_objects(files, registration):
        cluster = PLATFORM if where == "platform" else destination
        actions.append(PlannedAction("object", f"apply {_qualified(obj)}", cluster, note=_object_note(obj)))
    actions.append(PlannedAction("object", "annotate Bucket/kratix -n flux-system reconcile.fluxcd.io/requestedAt "
                                 "until Namespace/kratix-worker-system appears", destination,
                                 note="Flux nudge while waiting"))


def _object_note(obj: Mapping[str, Any]) -> str:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Bucket":
        return f"endpoint {spec.get('endpoint')}"
    if obj.get("kind") == "Destination":
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return "labels " + (",".join(f"{k}={v}" for k, v in labels.items()) or "none")
    if obj.get("kind") == "Kustomization":
        return f"path {spec.get('path')}"
    return ""


def _teardown_section(plan: Plan, options: TargetOptions, versions: Versions, files: InstallFiles) -> None:
    commands = KindCommands(harness_kubeconfig(options), versions.kind.node_image)
    clusters = managed_clusters(files, single_cluster=options.single_cluster)
    if options.keep_clusters:
        note = "not run: --keep-clusters"
    elif options.keep_on_failure:
        note = "only clusters this run created; not after a failed scenario (--keep-on-failure)"
    else:
        note = "only clusters this run created"
    end = plan.section("teardown")
    end += [PlannedAction("command", format_argv(commands.delete(c)), note=note) for c in clusters]
    end += [PlannedAction("command", f"kind export logs <diagnostics dir under {options.artifacts_dir}>/kind-logs/"
                          f"{c.name} --name {c.name}", note="only after a failure") for c in clusters]


def build_plan(
    features: Sequence[Path],
    target_name: str,
    options: TargetOptions,
    *,
    versions: Versions | None = None,
    install_files: InstallFiles | None = None,
    catalog: Mapping[str, ImageSpec] | None = None,
    promises_dir: Path = PROMISES_DIR,
    scenarios: Collection[str] | None = None,
) -> Plan:
    """The plan for running ``features`` on ``target_name`` (``kind``, ``existing`` or ``sim``); runs nothing.

    ``scenarios``: only these scenario names (``-k`` selections); None plans every scenario of ``features``.
    ``install_files``: where the Kratix install files are (default: the fetch cache; files not there yet are
    summarised instead of listed object by object).
    """
    versions = versions or load_versions()
    files = install_files or InstallFiles.in_directory(install_cache_dir(versions))
    plan = Plan(target=target_name, header=versions.header_lines())
    if target_name == "kind":
        where = str(harness_kubeconfig(options) or "your default kubeconfig")
        plan.header.append(f"kubeconfig: {where} (your current context is never changed)")
        _kind_section(plan, options, versions, files)
        _bootstrap_section(plan, options, versions, files)
        loader: ImageLoader | None = ImageLoader(PLATFORM)
    elif target_name == "existing":
        existing = ExistingTarget(options)  # resolves the contexts as the run does; touches nothing
        plan.header.append(f"existing contexts (platform {existing.platform_context or '$PLATFORM'}): checked "
                           "read-only, never created, changed outside the steps below, or deleted")
        # Pipeline images are built and kind-loaded only when the platform is a kind cluster.
        loader = existing.image_loader()
    else:
        plan.header.append("simulated platform: two emulated API servers on 127.0.0.1; nothing outside "
                           f"{options.work_dir} changes")
        registration = plan.section("platform bootstrap (API calls to the simulated clusters)")
        _registration(registration, options, files, "sim-worker", PLATFORM if options.single_cluster else WORKER)
        loader = None

    state = PlanState(target=target_name, loader=loader, catalog=catalog if catalog is not None else
                      load_image_catalog(), promises_dir=promises_dir)
    for feature in features:
        for title, steps in _scenarios(feature, scenarios):
            actions = plan.section(f"{feature.name} / {title}")
            for step in steps:
                planned = plan_step(state, step)
                if planned is None:
                    plan.unmodelled.append(f"{feature.name}: {step.keyword.capitalize()} {step.text}")
                else:
                    actions += planned
    if target_name == "kind":
        _teardown_section(plan, options, versions, files)
    return plan

