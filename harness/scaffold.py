"""Checks of what the Kratix CLI generates, and of a scaffold against a finished Promise directory.

The expected layout is the one ``kratix-cli`` v0.17.0 documents (reference kratix.md section 8):

- ``kratix init promise NAME --group G --kind K``: ``promise.yaml`` (a Promise NAME, label
  ``kratix.io/promise-version: v0.0.1``, a namespaced CRD ``<plural>.<G>`` at ``v1alpha1``, spec
  ``type: object, default: {}``, no pipelines), ``example-resource.yaml`` (``G/v1alpha1`` ``K``
  ``example-NAME``, no namespace) and ``README.md``;
- ``kratix update api --property NAME:TYPE``: the property in the CRD's spec schema (dotted names nest);
- ``kratix update dependencies DIR --image IMG``: Promise configure pipeline ``dependencies``, container
  ``configure-deps``, ``workflows/promise/configure/dependencies/configure-deps/`` with ``Dockerfile``,
  ``scripts/pipeline.sh`` (copies ``/resources/*`` to ``/kratix/output``) and ``resources/`` = DIR's files;
  ``spec.dependencies`` left empty;
- ``kratix add container L/A/P --image IMG --language LANG``: the container (named after the image, see
  :func:`container_name_for`) appended to pipeline P of workflow L/A, and
  ``workflows/L/A/P/<container>/{Dockerfile,scripts/pipeline.<ext>,resources/}``.

Every check compares parsed YAML, never text layout (the CLI re-marshals promise.yaml on each command), and
returns the differences as lines naming the file and field; :func:`require` turns them into one assertion.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.manifests import ManifestError, load_yaml_document
from harness.promise_edit import ACTIONS, LIFECYCLES, load_promise, pipelines

PROMISE_FILE = "promise.yaml"
EXAMPLE_FILE = "example-resource.yaml"
README_FILE = "README.md"
# Written only with --split, which the guide does not use.
SPLIT_FILES = ("api.yaml", "dependencies.yaml")
PROMISE_VERSION_LABEL = "kratix.io/promise-version"
INITIAL_PROMISE_VERSION = "v0.0.1"
PIPELINE_API = "platform.kratix.io/v1alpha1"
DEPS_PIPELINE = "dependencies"
DEPS_CONTAINER = "configure-deps"
# What `kratix update dependencies --image` writes as the container's script.
DEPS_COPY_LINE = "cp /resources/* /kratix/output"
SCRIPT_EXTENSIONS = {"bash": "sh", "python": "py", "go": "go"}
PYTHON_BASE_IMAGE = "python:3.12-slim"
PYTHON_ENTRYPOINT = ["python", "-u", "/app/pipeline.py"]
# Files a finished Promise directory may add or drop relative to the CLI's output without changing its
# structure: the CLI's README, and the project's image declarations (promises/*/images.yaml).
IGNORED_TOP_LEVEL = frozenset({README_FILE, "images.yaml"})

Obj = dict[str, Any]


class ScaffoldError(ValueError):
    """A scaffold file exists but cannot be read or parsed; one line naming the file (and line)."""


class ScaffoldMismatch(AssertionError):
    """A scaffold differs from what was expected; ``differences`` holds one line per difference."""

    def __init__(self, what: str, differences: Sequence[str]) -> None:
        self.differences = list(differences)
        lines = "\n".join(f"- {d}" for d in self.differences)
        super().__init__(f"{what}: {len(self.differences)} difference(s):\n{lines}")


def require(what: str, differences: Sequence[str]) -> None:
    """Raise :class:`ScaffoldMismatch` when there is any difference."""
    if differences:
        raise ScaffoldMismatch(what, differences)


@dataclass(frozen=True)
class PromiseApi:
    """What ``kratix init promise NAME --group G --kind K [--version V] [--plural P]`` was asked for."""

    name: str
    group: str
    kind: str
    version: str = "v1alpha1"
    plural: str | None = None

    @property
    def plural_name(self) -> str:
        """The CLI's default plural: the kind in lower case plus ``s``."""
        return self.plural or f"{self.kind.lower()}s"

    @property
    def crd_name(self) -> str:
        return f"{self.plural_name}.{self.group}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def example_name(self) -> str:
        return f"example-{self.name}"


def container_name_for(image: str) -> str:
    """The container name ``kratix add container`` derives from an image: no tag or digest, ``/`` and ``.``
    turned into ``-`` (``kratix-guide/database-resource-pipeline:v0.1.0`` ->
    ``kratix-guide-database-resource-pipeline``)."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    last = last.split(":", 1)[0]
    name = f"{head}/{last}" if head else last
    return re.sub(r"[/.]", "-", name)


def container_dir(root: Path, lifecycle: str, action: str, pipeline: str, container: str) -> Path:
    """Where the CLI puts a container's files."""
    return root / "workflows" / lifecycle / action / pipeline / container


# -- reading -----------------------------------------------------------------------------------------------


def _promise(root: Path) -> Obj:
    try:
        return load_promise(root / PROMISE_FILE)
    except ManifestError as exc:
        raise ScaffoldError(str(exc)) from None


def _document(path: Path) -> Obj:
    try:
        return load_yaml_document(path)
    except ManifestError as exc:
        raise ScaffoldError(str(exc)) from None


def _at(obj: Any, path: str) -> Any:
    """The value at a dotted path (``None`` when any part is missing); ``[n]`` indexes lists."""
    current = obj
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            current = current[index] if isinstance(current, list) and index < len(current) else None
        else:
            current = current.get(part) if isinstance(current, Mapping) else None
        if current is None:
            return None
    return current


def _expect(found: list[str], source: str, obj: Any, path: str, expected: Any) -> None:
    actual = _at(obj, path)
    if actual != expected:
        shown = "missing" if actual is None else json.dumps(actual)
        found.append(f"{source}: {path} is {shown}, expected {json.dumps(expected)}")


def _crd_version(promise: Obj, version: str) -> Obj | None:
    for entry in _at(promise, "spec.api.spec.versions") or []:
        if isinstance(entry, Mapping) and entry.get("name") == version:
            return dict(entry)
    return None


def _schema_path(property_name: str) -> str:
    """``a.b`` -> the schema path of nested property ``b`` under ``a`` in the spec."""
    return ".".join(f"properties.{part}" for part in property_name.split("."))


def _pipeline_shape(promise: Obj) -> dict[str, list[tuple[str, list[tuple[str, str]]]]]:
    """``lifecycle/action`` -> [(pipeline name, [(container name, image)])] for every non-empty workflow."""
    shape = {}
    for lifecycle in LIFECYCLES:
        for action in ACTIONS:
            found = [
                (str(_at(p, "metadata.name")),
                 [(str(c.get("name")), str(c.get("image"))) for c in _at(p, "spec.containers") or []])
                for p in pipelines(promise, lifecycle, action)
            ]
            if found:
                shape[f"{lifecycle}/{action}"] = found
    return shape


def _describe(shape: list[tuple[str, list[tuple[str, str]]]]) -> str:
    """``pipeline[container=image, ...]; ...`` for messages."""
    if not shape:
        return "no pipelines"
    return "; ".join(f"{name}[{', '.join(f'{c}={i}' for c, i in containers)}]" for name, containers in shape)


def _schema_properties(schema: Any, prefix: str = "") -> dict[str, str]:
    """Dotted property name -> type, for every property under a spec schema."""
    result: dict[str, str] = {}
    for name, sub in ((schema or {}).get("properties") or {}).items():
        dotted = f"{prefix}{name}"
        result[dotted] = str((sub or {}).get("type"))
        result.update(_schema_properties(sub, f"{dotted}."))
    return result


def _missing_files(root: Path, relative: Iterable[str]) -> list[str]:
    return [f"{rel}: missing" for rel in relative if not (root / rel).is_file()]


# -- one check per CLI command -------------------------------------------------------------------------------


def check_init(root: Path, api: PromiseApi) -> list[str]:
    """Differences between ``root`` and what ``kratix init promise`` writes for ``api``."""
    found = _missing_files(root, (PROMISE_FILE, EXAMPLE_FILE, README_FILE))
    found += [f"{name}: present, but it is only written with --split" for name in SPLIT_FILES if (root / name).exists()]
    if not (root / PROMISE_FILE).is_file():
        return found
    promise = _promise(root)
    p = PROMISE_FILE
    _expect(found, p, promise, "apiVersion", PIPELINE_API)
    _expect(found, p, promise, "kind", "Promise")
    _expect(found, p, promise, "metadata.name", api.name)
    label = (_at(promise, "metadata.labels") or {}).get(PROMISE_VERSION_LABEL)
    if label != INITIAL_PROMISE_VERSION:
        found.append(f"{p}: metadata.labels.{PROMISE_VERSION_LABEL} is {label!r}, expected {INITIAL_PROMISE_VERSION!r}")
    found += check_crd(promise, api)
    version = _crd_version(promise, api.version) or {}
    _expect(found, p, version, "schema.openAPIV3Schema.properties.spec.default", {})
    properties = _schema_properties(_at(version, "schema.openAPIV3Schema.properties.spec"))
    if properties:
        found.append(f"{p}: the spec schema has properties {sorted(properties)}, expected none after init")
    shape = _pipeline_shape(promise)
    if shape:
        found.append(f"{p}: spec.workflows has pipelines {sorted(shape)}, expected none after init")
    if (root / EXAMPLE_FILE).is_file():
        found += check_example(root, api)
    return found


def check_crd(promise: Obj, api: PromiseApi) -> list[str]:
    """Differences between the Promise's ``spec.api`` and the CRD the CLI writes for ``api``."""
    found: list[str] = []
    p = PROMISE_FILE
    _expect(found, p, promise, "spec.api.apiVersion", "apiextensions.k8s.io/v1")
    _expect(found, p, promise, "spec.api.kind", "CustomResourceDefinition")
    _expect(found, p, promise, "spec.api.metadata.name", api.crd_name)
    _expect(found, p, promise, "spec.api.spec.group", api.group)
    _expect(found, p, promise, "spec.api.spec.names.kind", api.kind)
    _expect(found, p, promise, "spec.api.spec.names.plural", api.plural_name)
    _expect(found, p, promise, "spec.api.spec.names.singular", api.kind.lower())
    _expect(found, p, promise, "spec.api.spec.scope", "Namespaced")
    names = [v.get("name") for v in _at(promise, "spec.api.spec.versions") or [] if isinstance(v, Mapping)]
    if names != [api.version]:
        found.append(f"{p}: spec.api.spec.versions are {names}, expected [{api.version!r}]")
        return found
    version = _crd_version(promise, api.version) or {}
    where = f"spec.api.spec.versions[{api.version}]"
    for field in ("served", "storage"):
        if version.get(field) is not True:
            found.append(f"{p}: {where}.{field} is {version.get(field)!r}, expected true")
    for path in ("schema.openAPIV3Schema.type", "schema.openAPIV3Schema.properties.spec.type"):
        if _at(version, path) != "object":
            found.append(f"{p}: {where}.{path} is {_at(version, path)!r}, expected 'object'")
    return found


def check_example(root: Path, api: PromiseApi) -> list[str]:
    """Differences between ``example-resource.yaml`` and the example the CLI writes."""
    found: list[str] = []
    example = _document(root / EXAMPLE_FILE)
    _expect(found, EXAMPLE_FILE, example, "apiVersion", api.api_version)
    _expect(found, EXAMPLE_FILE, example, "kind", api.kind)
    _expect(found, EXAMPLE_FILE, example, "metadata.name", api.example_name)
    namespace = _at(example, "metadata.namespace")
    if namespace is not None:
        found.append(f"{EXAMPLE_FILE}: metadata.namespace is {namespace!r}, expected none")
    return found


def check_property(root: Path, api: PromiseApi, name: str, type_: str) -> list[str]:
    """Differences from ``kratix update api --property NAME:TYPE`` (the property in the CRD's spec schema)."""
    promise = _promise(root)
    found = check_crd(promise, api)
    version = _crd_version(promise, api.version) or {}
    spec_schema = _at(version, "schema.openAPIV3Schema.properties.spec")
    path = f"{_schema_path(name)}.type"
    actual = _at(spec_schema, path)
    if actual != type_:
        have = _schema_properties(spec_schema)
        shown = "missing" if actual is None else repr(actual)
        found.append(f"{PROMISE_FILE}: spec property {name!r} has type {shown}, expected {type_!r} "
                     f"(the spec schema has {have or 'no properties'})")
    return found


def _check_pipeline_entry(promise: Obj, lifecycle: str, action: str, pipeline: str, container: str,
                          image: str) -> list[str]:
    where = f"{PROMISE_FILE}: spec.workflows.{lifecycle}.{action}"
    found = [p for p in pipelines(promise, lifecycle, action) if _at(p, "metadata.name") == pipeline]
    if not found:
        names = [_at(p, "metadata.name") for p in pipelines(promise, lifecycle, action)]
        return [f"{where}: no pipeline {pipeline!r} (pipelines: {names or 'none'})"]
    differences = []
    entry = found[0]
    if entry.get("apiVersion") != PIPELINE_API or entry.get("kind") != "Pipeline":
        differences.append(f"{where}: pipeline {pipeline!r} is {entry.get('apiVersion')} {entry.get('kind')}, "
                           f"expected {PIPELINE_API} Pipeline")
    containers = [dict(c) for c in _at(entry, "spec.containers") or []]
    match = [c for c in containers if c.get("name") == container]
    if not match:
        names = [c.get("name") for c in containers]
        differences.append(f"{where}: pipeline {pipeline!r} has no container {container!r} "
                           f"(containers: {names or 'none'})")
    elif match[0].get("image") != image:
        differences.append(f"{where}: container {container!r} runs {match[0].get('image')!r}, expected {image!r}")
    return differences


def _dockerfile_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScaffoldError(f"{path}: cannot read: {exc.strerror or exc}") from None
    # Continuation lines joined, comments and blank lines dropped: instructions as Docker reads them.
    joined = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def check_dependencies_workflow(root: Path, deps_dir: Path, image: str, *, pipeline: str = DEPS_PIPELINE,
                                container: str = DEPS_CONTAINER) -> list[str]:
    """Differences from ``kratix update dependencies DEPS_DIR --image IMAGE`` (the CLI names the pipeline
    ``dependencies`` and the container ``configure-deps``)."""
    promise = _promise(root)
    found = _check_pipeline_entry(promise, "promise", "configure", pipeline, container, image)
    dependencies = _at(promise, "spec.dependencies")
    if dependencies:
        found.append(f"{PROMISE_FILE}: spec.dependencies has {len(dependencies)} objects, expected none "
                     f"(they move into the {container} image)")
    base = container_dir(root, "promise", "configure", pipeline, container)
    rel = base.relative_to(root).as_posix()
    found += _missing_files(root, (f"{rel}/Dockerfile", f"{rel}/scripts/pipeline.sh"))
    script = base / "scripts" / "pipeline.sh"
    if script.is_file() and DEPS_COPY_LINE not in script.read_text(encoding="utf-8", errors="replace"):
        found.append(f"{rel}/scripts/pipeline.sh: does not run {DEPS_COPY_LINE!r}")
    wanted = {p.relative_to(deps_dir).as_posix(): p for p in sorted(deps_dir.rglob("*")) if p.is_file()}
    resources = base / "resources"
    have = {p.relative_to(resources).as_posix(): p for p in sorted(resources.rglob("*")) if p.is_file()}
    for name in sorted(set(wanted) - set(have)):
        found.append(f"{rel}/resources/{name}: missing (it is in {deps_dir.name}/)")
    for name in sorted(set(have) - set(wanted)):
        found.append(f"{rel}/resources/{name}: not in {deps_dir.name}/")
    for name in sorted(set(have) & set(wanted)):
        if have[name].read_bytes() != wanted[name].read_bytes():
            found.append(f"{rel}/resources/{name}: differs from {deps_dir.name}/{name}")
    return found


def check_container(root: Path, *, lifecycle: str, action: str, pipeline: str, image: str, language: str,
                    name: str | None = None) -> list[str]:
    """Differences from ``kratix add container LIFECYCLE/ACTION/PIPELINE --image IMAGE --language LANGUAGE``."""
    if language not in SCRIPT_EXTENSIONS:
        raise ValueError(f"unknown language {language!r}; the CLI knows {', '.join(SCRIPT_EXTENSIONS)}")
    container = name or container_name_for(image)
    found = _check_pipeline_entry(_promise(root), lifecycle, action, pipeline, container, image)
    base = container_dir(root, lifecycle, action, pipeline, container)
    rel = base.relative_to(root).as_posix()
    script = f"scripts/pipeline.{SCRIPT_EXTENSIONS[language]}"
    found += _missing_files(root, (f"{rel}/Dockerfile", f"{rel}/{script}"))
    if not (base / "resources").is_dir():
        found.append(f"{rel}/resources/: missing")
    if language == "python" and (base / "Dockerfile").is_file():
        lines = _dockerfile_lines(base / "Dockerfile")
        found += [f"{rel}/Dockerfile: {d}" for d in python_dockerfile_differences(lines)]
    if language == "python" and (base / script).is_file():
        code = (base / script).read_text(encoding="utf-8", errors="replace")
        if "kratix_sdk" not in code or "KratixSDK(" not in code:
            found.append(f"{rel}/{script}: does not use the Kratix Python SDK (kratix_sdk.KratixSDK)")
    return found


def python_dockerfile_differences(lines: Sequence[str]) -> list[str]:
    """How a Dockerfile's instructions differ from the CLI's python template."""
    found: list[str] = []
    froms = [line.split()[1] for line in lines if line.upper().startswith("FROM ") and len(line.split()) > 1]
    if not froms or froms[0] != PYTHON_BASE_IMAGE:
        found.append(f"base image is {froms[0] if froms else 'missing'}, expected {PYTHON_BASE_IMAGE}")
    if not any(line.upper().startswith("RUN ") and "pip install" in line and "kratix" in line for line in lines):
        found.append("no RUN step installs the Kratix SDK with pip")
    if not any(line.upper().startswith(("COPY ", "ADD ")) and "scripts/pipeline.py" in line
               and "/app/pipeline.py" in line for line in lines):
        found.append("scripts/pipeline.py is not copied to /app/pipeline.py")
    entrypoints = [line[len("ENTRYPOINT"):].strip() for line in lines if line.upper().startswith("ENTRYPOINT")]
    try:
        entrypoint = json.loads(entrypoints[-1]) if entrypoints else None
    except json.JSONDecodeError:
        entrypoint = entrypoints[-1]
    if entrypoint != PYTHON_ENTRYPOINT:
        found.append(f"ENTRYPOINT is {entrypoint!r}, expected {PYTHON_ENTRYPOINT!r}")
    return found


# -- scaffold versus finished Promise ------------------------------------------------------------------------


def _container_dirs(root: Path) -> set[str]:
    """``lifecycle/action/pipeline/container`` for every container directory under ``workflows/``."""
    workflows = root / "workflows"
    if not workflows.is_dir():
        return set()
    return {p.relative_to(workflows).as_posix() for p in workflows.glob("*/*/*/*") if p.is_dir()}


def _container_files(path: Path) -> set[str]:
    """A container directory's own files (Dockerfile, scripts/...); resources/ content is data, not structure."""
    # Interpreter caches from running a pipeline locally are not part of the layout either.
    return {p.relative_to(path).as_posix() for p in path.rglob("*")
            if p.is_file() and p.relative_to(path).parts[0] != "resources"
            and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def compare_structure(scaffold: Path, reference: Path) -> list[str]:
    """How the scaffold differs in structure from a finished Promise directory (e.g. ``promises/database``).

    Structure: the Promise's name, version label, API (CRD name, group, kind, versions, spec properties and
    their types), its pipelines per workflow (names, container names and images, in order), the example's
    kind and name, the container directories and each one's own files. Not structure: formatting, comments,
    the README, the project's ``images.yaml``, what fills ``resources/`` and the example's spec values.
    """
    found: list[str] = []
    ours, theirs = _promise(scaffold), _promise(reference)
    ref_name = reference.name

    def same(path: str, a: Any, b: Any) -> None:
        if a != b:
            found.append(f"{PROMISE_FILE}: {path} is {json.dumps(a)} in the scaffold, {json.dumps(b)} in {ref_name}")

    for path in ("metadata.name", f"metadata.labels.{PROMISE_VERSION_LABEL}", "spec.api.metadata.name",
                 "spec.api.spec.group", "spec.api.spec.names", "spec.api.spec.scope", "spec.destinationSelectors"):
        same(path, _at(ours, path), _at(theirs, path))
    versions = [v.get("name") for v in _at(ours, "spec.api.spec.versions") or []]
    ref_versions = [v.get("name") for v in _at(theirs, "spec.api.spec.versions") or []]
    same("spec.api.spec.versions[].name", versions, ref_versions)
    for version in versions:
        same(f"spec properties of {version}",
             _schema_properties(_at(_crd_version(ours, version), "schema.openAPIV3Schema.properties.spec")),
             _schema_properties(_at(_crd_version(theirs, version), "schema.openAPIV3Schema.properties.spec")))
    same("spec.dependencies (count)", len(_at(ours, "spec.dependencies") or []),
         len(_at(theirs, "spec.dependencies") or []))
    mine, reference_shape = _pipeline_shape(ours), _pipeline_shape(theirs)
    for workflow in sorted(set(mine) | set(reference_shape)):
        a, b = mine.get(workflow, []), reference_shape.get(workflow, [])
        if a != b:
            found.append(f"{PROMISE_FILE}: spec.workflows.{workflow.replace('/', '.')} is {_describe(a)} in the "
                         f"scaffold, {_describe(b)} in {ref_name}")

    example_ours, example_theirs = _document(scaffold / EXAMPLE_FILE), _document(reference / EXAMPLE_FILE)
    for path in ("apiVersion", "kind", "metadata.name"):
        a, b = _at(example_ours, path), _at(example_theirs, path)
        if a != b:
            found.append(f"{EXAMPLE_FILE}: {path} is {json.dumps(a)} in the scaffold, {json.dumps(b)} in {ref_name}")

    dirs, ref_dirs = _container_dirs(scaffold), _container_dirs(reference)
    for rel in sorted(dirs - ref_dirs):
        found.append(f"workflows/{rel}/: in the scaffold, not in {ref_name}")
    for rel in sorted(ref_dirs - dirs):
        found.append(f"workflows/{rel}/: in {ref_name}, not in the scaffold")
    for rel in sorted(dirs & ref_dirs):
        a_files = _container_files(scaffold / "workflows" / rel)
        b_files = _container_files(reference / "workflows" / rel)
        for name in sorted(a_files - b_files):
            found.append(f"workflows/{rel}/{name}: in the scaffold, not in {ref_name}")
        for name in sorted(b_files - a_files):
            found.append(f"workflows/{rel}/{name}: in {ref_name}, not in the scaffold")

    top = {p.name for p in scaffold.iterdir() if p.is_file()} - IGNORED_TOP_LEVEL
    ref_top = {p.name for p in reference.iterdir() if p.is_file()} - IGNORED_TOP_LEVEL
    for name in sorted(top - ref_top):
        found.append(f"{name}: in the scaffold, not in {ref_name}")
    for name in sorted(ref_top - top):
        found.append(f"{name}: in {ref_name}, not in the scaffold")
    return found
