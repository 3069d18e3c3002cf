"""APIs agree across the page: requests, kubectl resource types, apply output and tables match the
Promises/CRDs the page defines (in YAML, through ``kratix init promise``, or by URL with ``--online``)."""

from __future__ import annotations

from collections.abc import Iterator

from harness.docs.catalog import ApiDefinition, Catalog, PageObject
from harness.docs.findings import Severity
from harness.docs.kubectl import builtin_kind, builtin_type, parse_kubectl
from harness.docs.lint import Hit, LintContext, rule
from harness.docs.rules._shared import shown_tables
from harness.docs.shapes import KUBECTL_RESULT
from harness.docs.shell import ShellCommand, command_of


def _where(definition: ApiDefinition) -> str:
    return f"{definition.kind} in {definition.group} ({definition.origin})"


@rule("API001", "request-api-unknown", Severity.ERROR, "apiVersion/kind of each object match a defined API")
def request_api_unknown(ctx: LintContext) -> Iterator[Hit]:
    catalog = ctx.catalog
    for obj in catalog.objects:
        if (
            not obj.kind
            or obj.kind in {"Promise", "CustomResourceDefinition"}
            or builtin_kind(obj.api_version, obj.kind)
        ):
            continue
        in_group = [d for d in catalog.definitions if d.group == obj.group]
        same_kind = [d for d in catalog.definitions if d.kind == obj.kind]
        if in_group:
            kinds = [d for d in in_group if d.kind == obj.kind]
            if not kinds:
                yield Hit(
                    obj.line,
                    f"{obj.kind} '{obj.name}': group {obj.group} defines "
                    f"{', '.join(sorted({d.kind for d in in_group}))}, not {obj.kind}",
                    f"kind: {in_group[-1].kind}",
                )
            elif not any(obj.api_version in d.api_versions() for d in kinds):
                versions = sorted({v for d in kinds for v in d.api_versions()})
                yield Hit(
                    obj.line,
                    f"{obj.kind} '{obj.name}': apiVersion {obj.api_version} is not served; "
                    f"defined: {', '.join(versions)}",
                    f"apiVersion: {versions[-1]}" if versions else None,
                )
        elif same_kind:
            defined = same_kind[-1]
            yield Hit(
                obj.line,
                f"{obj.kind} '{obj.name}' uses group {obj.group or '(core)'} but the page defines {_where(defined)}",
                f"apiVersion: {sorted(defined.api_versions())[-1]}" if defined.versions else None,
            )


@rule("API002", "conflicting-definitions", Severity.ERROR, "one Promise/CRD name means one API on the page")
def conflicting_definitions(ctx: LintContext) -> Iterator[Hit]:
    by_promise: dict[str, ApiDefinition] = {}
    by_kind: dict[tuple[str, str], ApiDefinition] = {}
    for definition in ctx.catalog.definitions:
        if definition.promise:
            first = by_promise.setdefault(definition.promise, definition)
            if (first.group, first.kind, first.plural) != (definition.group, definition.kind, definition.plural):
                yield Hit(
                    definition.line,
                    f"Promise '{definition.promise}' API is {definition.plural}.{definition.group} "
                    f"(kind {definition.kind}) here but {first.plural}.{first.group} (kind {first.kind}) "
                    f"at line {first.line}",
                    f"use group {first.group}" if first.group != definition.group else None,
                )
                continue
        key = (definition.plural, definition.kind)
        first = by_kind.setdefault(key, definition)
        if first.group != definition.group and first.promise == definition.promise and not definition.promise:
            yield Hit(
                definition.line,
                f"{definition.kind} is defined in group {definition.group} here and {first.group} at line {first.line}",
            )


def _type_problem(catalog: Catalog, resource: str, group: str | None) -> tuple[str, str | None] | None:
    """Why a kubectl type does not resolve against the page's definitions (None when it does or is unknowable)."""
    if group is not None and builtin_type(resource, group):
        return None
    if group is None:
        return None
    in_group = [d for d in catalog.definitions if d.group == group]
    if in_group:
        if any(resource in d.type_names() for d in in_group):
            return None
        names = sorted({d.plural for d in in_group})
        return f"group {group} defines {', '.join(names)}, not {resource}", f"{names[-1]}.{group}"
    elsewhere = [d for d in catalog.definitions if resource in d.type_names()]
    if elsewhere:
        defined = elsewhere[-1]
        return (
            f"the page defines {resource} in group {defined.group} ({defined.origin})",
            f"{defined.plural}.{defined.group}",
        )
    return None


@rule("API003", "resource-type-unknown", Severity.ERROR, "kubectl <type>.<group> names a type the page defines")
def resource_type_unknown(ctx: LintContext) -> Iterator[Hit]:
    for command in ctx.commands:
        call = parse_kubectl(command.argv)
        if call is None:
            continue
        for ref in call.resources():
            problem = _type_problem(ctx.catalog, ref.resource, ref.group)
            if problem:
                yield Hit(command.line, f"kubectl {call.verb} {ref.type}: {problem[0]}", problem[1])


def _applied_objects(ctx: LintContext, command: ShellCommand | None) -> list[PageObject] | None:
    """The objects ``command`` applies, when the page makes that knowable."""
    if command is not None:
        call = parse_kubectl(command.argv)
        if call is None or call.verb not in {"apply", "create", "replace", "delete"}:
            return None
        objects: list[PageObject] = []
        for filename in call.filenames:
            if filename == "-":
                objects += [o for o in ctx.catalog.objects if o.origin.endswith(f"line {command.stdin_line}")]
            elif filename.startswith(("http://", "https://")):
                found = [o for o in ctx.catalog.objects if o.origin == filename]
                if not found:
                    return None
                objects += found
            else:
                in_file = ctx.catalog.file_at(filename, command.line)
                if in_file is None:
                    return None
                objects += in_file
        return objects
    return None


@rule("API004", "apply-output-mismatch", Severity.ERROR, "'<kind>.<group>/<name> created' matches what was applied")
def apply_output_mismatch(ctx: LintContext) -> Iterator[Hit]:
    for pair in ctx.page.pairs:
        applied = _applied_objects(ctx, command_of(pair))
        for text, line in zip(pair.output.lines, pair.output.line_numbers, strict=True):
            match = KUBECTL_RESULT.match(text)
            if not match:
                continue
            shown_type, name = match.group("type"), match.group("name")
            resource, _, group = shown_type.partition(".")
            if applied:
                expected = [f"{o.kind.lower()}{'.' + o.group if o.group else ''}/{o.name}" for o in applied]
                if f"{shown_type}/{name}" not in expected:
                    yield Hit(
                        line,
                        f"output shows {shown_type}/{name} but the command applies {', '.join(expected)}",
                        f"{expected[0]} {match.group('op')}" if len(expected) == 1 else None,
                    )
                continue
            problem = _type_problem(ctx.catalog, resource, group or None)
            if problem:
                yield Hit(line, f"output shows {shown_type}/{name}: {problem[0]}", None)


def _promise_columns(catalog: Catalog) -> dict[str, ApiDefinition]:
    return {d.promise: d for d in catalog.definitions if d.promise}


@rule("API005", "table-api-columns", Severity.ERROR, "KIND / API VERSION columns of Promise tables match the API")
def table_api_columns(ctx: LintContext) -> Iterator[Hit]:
    promises = _promise_columns(ctx.catalog)
    for shown in shown_tables(ctx):
        if "promises" not in shown.types:
            continue
        for row in shown.table.rows:
            definition = promises.get(row.name)
            if definition is None:
                continue
            kind, api_version = row.get("KIND"), row.get("API VERSION")
            if kind is not None and kind != definition.kind:
                yield Hit(
                    row.line,
                    f"Promise {row['NAME']} shows KIND {kind}; its API is {_where(definition)}",
                    definition.kind,
                )
            if api_version is not None and api_version not in definition.api_versions():
                wanted = sorted(definition.api_versions())
                yield Hit(
                    row.line,
                    f"Promise {row['NAME']} shows API VERSION {api_version}; its API serves {', '.join(wanted)} "
                    f"({definition.origin})",
                    wanted[-1] if wanted else None,
                )
