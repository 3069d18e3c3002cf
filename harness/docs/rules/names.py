"""Names agree across the page: what commands name exists, pods can come from the page's objects, name
patterns with placeholders match the names the page shows, applied files are shown or created."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from harness.docs.catalog import PageObject
from harness.docs.findings import Severity
from harness.docs.kubectl import builtin_type, parse_kubectl
from harness.docs.lint import Hit, LintContext, rule
from harness.docs.rules._shared import applies_unknown_manifests, canonical_type, shown_tables
from harness.docs.shell import PLACEHOLDER, placeholder_pattern
from harness.docs.tables import generated_suffix

_NAMING_VERBS = frozenset({"delete", "get", "describe", "wait", "label", "annotate", "patch", "edit", "scale"})


def _objects_of_type(ctx: LintContext, resource: str, group: str | None) -> list[PageObject] | None:
    """Page objects a kubectl type covers (None when the type is not one the page can enumerate)."""
    if resource in {"promise", "promises"} and group in {None, "platform.kratix.io"}:
        return ctx.catalog.promises()
    kinds = {d.kind for d in ctx.catalog.definitions_for(resource, group)}
    builtin = builtin_type(resource, group)
    if builtin is not None:
        kinds.add(builtin.kind)
    if not kinds:
        return None
    return [o for o in ctx.catalog.objects if o.kind in kinds and o.name]


@rule("NAME001", "unknown-object-name", Severity.ERROR, "objects a command names are ones the page creates")
def unknown_object_name(ctx: LintContext) -> Iterator[Hit]:
    for command in ctx.commands:
        call = parse_kubectl(command.argv)
        if call is None or call.verb not in _NAMING_VERBS:
            continue
        for ref in call.resources():
            if ref.name is None or ref.name.startswith("$") or PLACEHOLDER.search(ref.name):
                continue
            objects = _objects_of_type(ctx, ref.resource, ref.group)
            if not objects:
                continue  # the page defines none of this type: nothing to compare with
            names = sorted({o.name for o in objects if o.name})
            if ref.name not in names:
                close = difflib.get_close_matches(ref.name, names, n=1)
                yield Hit(
                    command.line,
                    f"kubectl {call.verb} {ref.type} {ref.name}: the page's {ref.type} "
                    f"{'is' if len(names) == 1 else 'are'} named {', '.join(names)}",
                    f"{ref.type} {close[0] if close else names[0]}",
                )


def _contains_name(base: str, known: set[str]) -> bool:
    """True when a known name appears in ``base`` as whole dash-separated words."""
    words = base.split("-")
    for name in known:
        parts = name.split("-")
        for start in range(len(words) - len(parts) + 1):
            if words[start : start + len(parts)] == parts:
                return True
    return False


def _known_names(ctx: LintContext) -> set[str]:
    known = {n for n in ctx.catalog.names() if re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", n)}
    for shown in shown_tables(ctx):
        if "pods" not in shown.types:
            known |= {row.name for row in shown.table.rows if row.name}
    return known


@rule("NAME002", "unproducible-pod-name", Severity.WARNING, "pods shown can come from the page's own objects")
def unproducible_pod_name(ctx: LintContext) -> Iterator[Hit]:
    known = _known_names(ctx)
    pods = {o.name for o in ctx.catalog.objects if o.kind == "Pod" and o.name}
    unknown_sources = applies_unknown_manifests(ctx)
    reported: set[str] = set()
    for shown in shown_tables(ctx):
        if "pods" not in shown.types:
            continue
        for row in shown.table.rows:
            name = row.name
            if not name or name in reported or PLACEHOLDER.search(name):
                continue
            suffix = generated_suffix(name)
            if suffix is None:
                if name not in pods:
                    reported.add(name)
                    yield Hit(
                        row.line,
                        f"pod '{name}' has no controller-generated suffix (-<ordinal>, -<hash>-<id>, -<id>) and "
                        "no Pod of that name is defined on the page: no controller produces this name",
                    )
                continue
            base, _kind = suffix
            if unknown_sources or _contains_name(base, known):
                continue
            reported.add(name)
            close = difflib.get_close_matches(base, sorted(known), n=1, cutoff=0.5)
            yield Hit(
                row.line,
                f"pod '{name}': its owner '{base}' contains no name the page defines"
                + (f" (closest: {close[0]})" if close else ""),
            )


@rule("NAME003", "name-pattern-mismatch", Severity.WARNING, "a name with a placeholder matches a name the page shows")
def name_pattern_mismatch(ctx: LintContext) -> Iterator[Hit]:
    shown_by_type: dict[str, list[tuple[str, int]]] = {}
    for shown in shown_tables(ctx):
        for kind in shown.types:
            shown_by_type.setdefault(kind, []).extend((row.name, row.line) for row in shown.table.rows if row.name)
    for command in ctx.commands:
        call = parse_kubectl(command.argv)
        if call is None:
            continue
        for ref in call.resources():
            if ref.name is None or not PLACEHOLDER.search(ref.name):
                continue
            shown_names = shown_by_type.get(canonical_type(ref.resource, ref.group, ctx))
            if not shown_names:
                continue
            pattern = placeholder_pattern(ref.name)
            if any(pattern.fullmatch(name) for name, _ in shown_names):
                continue
            names = sorted({name for name, _ in shown_names})
            literal = PLACEHOLDER.split(ref.name)[0]
            close = difflib.get_close_matches(literal, [n[: len(literal)] for n in names], n=1, cutoff=0.6)
            example = next((n for n in names if close and n.startswith(close[0])), names[0])
            line = next(line for name, line in shown_names if name == example)
            yield Hit(
                command.line,
                f"{ref.type}/{ref.name} matches none of the {ref.type} the page shows "
                f"({', '.join(names)}; e.g. line {line})",
                f"{ref.type}/{example}",
            )


def _files_created(ctx: LintContext) -> set[str]:
    created = set(ctx.catalog.files)
    for command in ctx.commands:
        created |= {w.rsplit("/", 1)[-1] for w in command.writes}
        if command.program in {"curl", "wget", "cp", "mv", "touch", "tee"}:
            created |= {w.rsplit("/", 1)[-1] for w in command.argv[1:] if not w.startswith("-")}
    return created


@rule("NAME004", "unknown-file", Severity.INFO, "files a command applies are shown or created on the page")
def unknown_file(ctx: LintContext) -> Iterator[Hit]:
    created = _files_created(ctx)
    for command in ctx.commands:
        call = parse_kubectl(command.argv)
        if call is None or call.verb not in {"apply", "create", "replace", "delete"}:
            continue
        for filename in call.filenames:
            if filename == "-" or "://" in filename or filename.startswith("$") or PLACEHOLDER.search(filename):
                continue
            if filename.rstrip("/").rsplit("/", 1)[-1] not in created:
                yield Hit(
                    command.line,
                    f"'{filename}' is applied but the page never shows its content or a command that creates it",
                )
