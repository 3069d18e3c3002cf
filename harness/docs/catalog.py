"""What a page defines: APIs (CRDs, Promises' APIs, ``kratix init promise``), objects, and named files.

Rules check every reference on the page (a request's apiVersion/kind, ``kubectl get <plural>.<group>``,
``delete promise <name>``, pod names) against this catalog. Files are tracked by name and page line, because
a page often shows ``resource.yaml`` once and edits it later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from harness.docs.curl import parse_curl
from harness.docs.fetch import Fetcher, FetchResult
from harness.docs.kubectl import parse_kubectl
from harness.docs.model import BlockRole, CodeBlock, Page
from harness.docs.shell import ShellCommand, page_commands, stdin_line_numbers
from harness.docs.yamldocs import YamlDoc, YamlProblem, load_documents

_FILE_NAME = re.compile(r"(?<![\w/.-])(?P<name>[\w.-][\w./-]*\.(?:ya?ml|json))(?![\w/-])")
PROMISE_API_VERSION = "platform.kratix.io/v1alpha1"


@dataclass(frozen=True)
class ApiDefinition:
    """A custom resource type the page defines (a CRD, on its own or as a Promise's ``spec.api``)."""

    group: str
    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    versions: tuple[str, ...]
    line: int
    origin: str  # where the page defines it, for messages
    promise: str | None = None

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"

    def type_names(self) -> set[str]:
        """Names kubectl accepts for this type."""
        return {self.plural, self.singular, self.kind.lower(), *self.short_names} - {""}

    def api_versions(self) -> set[str]:
        return {f"{self.group}/{v}" for v in self.versions}


@dataclass(frozen=True)
class PageObject:
    """A Kubernetes object the page shows or applies."""

    doc: YamlDoc
    origin: str
    block_index: int | None
    file: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.data if isinstance(self.doc.data, dict) else {}

    @property
    def line(self) -> int:
        return self.doc.line

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def name(self) -> str | None:
        return self.doc.name

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""


@dataclass
class Catalog:
    """Everything a page defines, in page order."""

    definitions: list[ApiDefinition] = field(default_factory=list)
    objects: list[PageObject] = field(default_factory=list)
    files: dict[str, list[tuple[int, list[PageObject]]]] = field(default_factory=dict)
    fetched: dict[str, FetchResult] = field(default_factory=dict)
    commands: list[ShellCommand] = field(default_factory=list)

    def promises(self) -> list[PageObject]:
        return [o for o in self.objects if o.kind == "Promise" and o.name]

    def file_at(self, name: str, line: int) -> list[PageObject] | None:
        """The documents the page last put in file ``name`` before ``line`` (by base name)."""
        versions = self.files.get(name.rsplit("/", 1)[-1])
        if not versions:
            return None
        earlier = [objs for at, objs in versions if at <= line]
        return earlier[-1] if earlier else versions[0][1]

    def definitions_for(self, resource: str, group: str | None) -> list[ApiDefinition]:
        """Definitions a kubectl type (``promise``, ``postgresqls.workshop.kratix.io``) can mean."""
        resource = resource.lower()
        return [d for d in self.definitions if resource in d.type_names() and (group is None or group == d.group)]

    def names(self) -> set[str]:
        """Every object name the page's manifests and definitions give."""
        names = {o.name for o in self.objects if o.name}
        names |= {d.promise for d in self.definitions if d.promise}
        for obj in self.objects:
            names |= set(_nested_names(obj.data))
        return names


def _nested_names(data: Any) -> list[str]:
    """``name:`` values anywhere in a manifest (containers, pipelines, volumes): names the page coins."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "name" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_nested_names(value))
    elif isinstance(data, list):
        for item in data:
            found.extend(_nested_names(item))
    return found


def crd_definition(crd: dict[str, Any], line: int, origin: str, promise: str | None = None) -> ApiDefinition | None:
    """An ApiDefinition from a CustomResourceDefinition's data (None when it lacks group or kind)."""
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    assert isinstance(names, dict)
    group, kind = spec.get("group"), names.get("kind")
    if not isinstance(group, str) or not isinstance(kind, str):
        return None
    plural = str(names.get("plural") or kind.lower() + "s")
    versions = tuple(str(v["name"]) for v in spec.get("versions") or [] if isinstance(v, dict) and "name" in v)
    short = tuple(str(s) for s in names.get("shortNames") or [])
    return ApiDefinition(
        group, kind, plural, str(names.get("singular") or kind.lower()), short, versions, line, origin, promise
    )


def _definitions_of(obj: PageObject) -> list[ApiDefinition]:
    data = obj.data
    if obj.kind == "CustomResourceDefinition":
        found = crd_definition(data, obj.line, obj.origin)
        return [found] if found else []
    if obj.kind == "Promise":
        spec = data.get("spec")
        api = spec.get("api") if isinstance(spec, dict) else None
        if isinstance(api, dict):
            line = obj.doc.line_of(("spec", "api"))
            found = crd_definition(api, line, obj.origin, obj.name)
            return [found] if found else []
    return []


def yaml_files_named(text: str, code_spans: tuple[str, ...], plain: bool) -> list[str]:
    """YAML/JSON file names a paragraph mentions (in code spans; anywhere for rendered text)."""
    candidates = list(code_spans) if not plain else [m.group("name") for m in _FILE_NAME.finditer(text)]
    return [c.rsplit("/", 1)[-1] for c in candidates if _FILE_NAME.fullmatch(c)]


def _file_for_block(page: Page, block: CodeBlock) -> str | None:
    """The file a manifest block is saved as, from the prose right after it (else right before it)."""
    later = [b.line for b in page.blocks if b.line > block.end_line]
    before = [b.end_line for b in page.blocks if b.end_line < block.line]
    after_limit = min(later) if later else 10**9
    before_limit = max(before) if before else 0
    plain = page.format == "plain"
    for paragraph in page.paragraphs:
        if block.end_line <= paragraph.line < after_limit:
            names = yaml_files_named(paragraph.text, paragraph.code_spans, plain)
            if len(set(names)) == 1:
                return names[0]
            break
    previous = [p for p in page.paragraphs if before_limit < p.end_line < block.line]
    if previous:
        names = yaml_files_named(previous[-1].text, previous[-1].code_spans, plain)
        if len(set(names)) == 1:
            return names[0]
    return None


def _cli_definitions(command: ShellCommand, previous: ApiDefinition | None) -> ApiDefinition | None:
    """The API a ``kratix init promise`` / ``kratix update api`` command defines (kratix CLI semantics)."""
    argv = list(command.argv)
    if len(argv) < 3 or argv[0] != "kratix":
        return None
    options: dict[str, str] = {}
    positionals: list[str] = []
    i = 1
    while i < len(argv):
        word = argv[i]
        if word.startswith("--"):
            name, sep, value = word[2:].partition("=")
            if not sep and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                i += 1
                value = argv[i]
            options[name] = value
        else:
            positionals.append(word)
        i += 1
    origin = f"`{' '.join(argv[:3])}` at line {command.line}"
    if positionals[:2] == ["init", "promise"] and len(positionals) >= 3:
        kind = options.get("kind")
        group = options.get("group")
        if not kind or not group:
            return None
        plural = options.get("plural") or kind.lower() + "s"
        return ApiDefinition(
            group,
            kind,
            plural,
            kind.lower(),
            (),
            (options.get("version") or "v1alpha1",),
            command.line,
            origin,
            positionals[2],
        )
    if positionals[:2] == ["update", "api"] and previous is not None:
        if not any(k in options for k in ("group", "kind", "version", "plural")):
            return None
        kind = options.get("kind") or previous.kind
        return ApiDefinition(
            options.get("group") or previous.group,
            kind,
            options.get("plural") or (previous.plural if "kind" not in options else kind.lower() + "s"),
            kind.lower(),
            (),
            (options.get("version") or previous.versions[0],),
            command.line,
            f"`kratix update api` at line {command.line}",
            previous.promise,
        )
    return None


def _promise_from_definition(definition: ApiDefinition) -> dict[str, Any]:
    """The Promise ``kratix init promise`` writes (kratix-cli: promise.yaml), reduced to its identity."""
    return {
        "apiVersion": PROMISE_API_VERSION,
        "kind": "Promise",
        "metadata": {"name": definition.promise},
        "spec": {
            "api": {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": definition.name},
                "spec": {
                    "group": definition.group,
                    "names": {"kind": definition.kind, "plural": definition.plural, "singular": definition.singular},
                    "versions": [{"name": v} for v in definition.versions],
                },
            }
        },
    }


@dataclass(frozen=True)
class YamlSource:
    """YAML a reader saves or applies: a manifest block, or a here-document kubectl reads or a .yaml file gets."""

    what: str  # "YAML block at line 12", "here-document at line 40"
    docs: list[YamlDoc]
    problem: YamlProblem | None


def _heredoc_is_yaml(command: ShellCommand) -> bool:
    if command.stdin is None or command.operator == "|":
        return False  # no here-document, or one passed on to the next command (which is then the reader)
    call = parse_kubectl(command.argv)
    if call is not None and "-" in call.filenames:
        return True
    return any(_FILE_NAME.fullmatch(w.rsplit("/", 1)[-1]) for w in command.writes)


def yaml_sources(page: Page, commands: list[ShellCommand]) -> list[YamlSource]:
    """Every piece of YAML on the page, parsed with page lines, in page order."""
    sources: list[tuple[int, YamlSource]] = []
    for block in page.blocks:
        if block.role is BlockRole.MANIFEST:
            docs, problem = load_documents(block.text, block.line_numbers, block.line)
            sources.append((block.line, YamlSource(f"YAML block at line {block.line}", docs, problem)))
    for command in commands:
        if command.stdin is not None and _heredoc_is_yaml(command):
            start = command.stdin_line or command.line
            docs, problem = load_documents(command.stdin, stdin_line_numbers(page, command), start)
            sources.append((start, YamlSource(f"here-document at line {start}", docs, problem)))
    return [source for _, source in sorted(sources, key=lambda s: s[0])]


def build_catalog(page: Page, fetcher: Fetcher | None = None, commands: list[ShellCommand] | None = None) -> Catalog:
    """Collect the page's definitions and objects (fetching ``kubectl apply -f URL`` targets with ``fetcher``).

    ``commands`` are the page's commands when the caller has already split them (``page_commands(page)``).
    """
    catalog = Catalog(commands=page_commands(page) if commands is None else commands)

    def add(objects: list[PageObject], file: str | None, line: int) -> None:
        for obj in objects:
            catalog.objects.append(obj)
            catalog.definitions.extend(_definitions_of(obj))
        if file:
            catalog.files.setdefault(file, []).append((line, objects))

    events: list[tuple[int, int, object]] = []  # (line, order, item) so blocks and commands interleave
    for block in page.blocks:
        if block.role is BlockRole.MANIFEST:
            events.append((block.line, 0, block))
    for command in catalog.commands:
        events.append((command.line, 1, command))
    last_cli: ApiDefinition | None = None
    for _line, _order, item in sorted(events, key=lambda e: (e[0], e[1])):
        if isinstance(item, CodeBlock):
            docs, _problem = load_documents(item.text, item.line_numbers, item.line)
            objects = [PageObject(d, f"the YAML block at line {item.line}", item.index) for d in docs if d.is_manifest]
            add(objects, _file_for_block(page, item), item.line)
            continue
        assert isinstance(item, ShellCommand)
        definition = _cli_definitions(item, last_cli)
        if definition is not None:
            last_cli = definition
            catalog.definitions.append(definition)
            promise = PageObject(
                YamlDoc(_promise_from_definition(definition), item.line),
                definition.origin,
                item.block_index,
                "promise.yaml",
            )
            catalog.objects.append(promise)
            catalog.files.setdefault("promise.yaml", []).append((item.line, [promise]))
            if item.argv[1:3] == ("init", "promise"):
                example = YamlDoc(
                    {
                        "apiVersion": f"{definition.group}/{definition.versions[0]}",
                        "kind": definition.kind,
                        "metadata": {"name": f"example-{definition.promise}"},
                    },
                    item.line,
                )
                catalog.files.setdefault("example-resource.yaml", []).append(
                    (item.line, [PageObject(example, definition.origin, item.block_index, "example-resource.yaml")])
                )
            continue
        if item.stdin is not None and item.program == "cat" and item.writes:
            name = item.writes[-1].rsplit("/", 1)[-1]
            docs, origin = _heredoc_manifests(page, item)
            add([PageObject(d, origin, item.block_index, name) for d in docs], name, item.line)
            continue
        curl = parse_curl(item.argv)
        if curl is not None and fetcher is not None and curl.output and curl.output != "-":
            name = curl.output.rsplit("/", 1)[-1]
            for url in curl.urls:
                fetched = _fetch_manifests(fetcher, catalog, url, item.line)
                if fetched is not None:
                    catalog.files.setdefault(name, []).append(
                        (item.line, [PageObject(d, url, item.block_index, name) for d in fetched])
                    )
        call = parse_kubectl(item.argv)
        if call is None:
            continue
        if item.stdin is not None and "-" in call.filenames:
            docs, origin = _heredoc_manifests(page, item)
            add([PageObject(d, origin, item.block_index) for d in docs], None, item.line)
        if fetcher is not None and call.verb in {"apply", "create", "replace"}:
            for url in call.filenames:
                if url.startswith(("http://", "https://")):
                    fetched = _fetch_manifests(fetcher, catalog, url, item.line)
                    add([PageObject(d, url, item.block_index) for d in fetched or []], None, item.line)
    return catalog


def _heredoc_manifests(page: Page, command: ShellCommand) -> tuple[list[YamlDoc], str]:
    """The manifests in the here-document ``command`` reads, and where it is on the page (for messages)."""
    assert command.stdin is not None
    start = command.stdin_line or command.line
    docs, _problem = load_documents(command.stdin, stdin_line_numbers(page, command), start)
    return [d for d in docs if d.is_manifest], f"the here-document at line {start}"


def _fetch_manifests(fetcher: Fetcher, catalog: Catalog, url: str, line: int) -> list[YamlDoc] | None:
    """The manifests at ``url`` (None when it gave no usable answer); the answer is kept in ``catalog.fetched``."""
    result = fetcher.get(url)
    catalog.fetched[url] = result
    if not result.ok or result.looks_like_html:
        return None
    docs, _problem = load_documents(result.text, (), line)
    # Fetched documents have no page lines: they are reported at the command's line.
    return [YamlDoc(d.data, line) for d in docs if d.is_manifest]
