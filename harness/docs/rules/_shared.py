"""Views of a page several rules share: reserved hosts, canonical kubectl types, the tables shown per type."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from harness.docs.kubectl import KubectlCall, builtin_type, parse_kubectl
from harness.docs.lint import LintContext
from harness.docs.model import Pair
from harness.docs.shell import command_of
from harness.docs.tables import Table, parse_table

# RFC 2606 / RFC 6761 reserved names: never a real destination.
_RESERVED_HOST = re.compile(r"(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid)\.?$", re.IGNORECASE)


def is_reserved_host(host: str, *, localhost: bool = False) -> bool:
    """True for an example/test/invalid domain (and ``localhost`` when asked: a link to it is a placeholder)."""
    host = host.split(":")[0].lower().rstrip(".")
    return bool(_RESERVED_HOST.search(host)) or (localhost and (host == "localhost" or host.endswith(".localhost")))


def canonical_type(resource: str, group: str | None, ctx: LintContext) -> str:
    """A stable name for a kubectl type: the built-in plural, else ``plural.group`` of a page API, else as given."""
    builtin = builtin_type(resource, group)
    if builtin is not None:
        return builtin.plural
    if resource in {"promise", "promises"}:
        return "promises"
    defined = ctx.catalog.definitions_for(resource, group)
    return defined[-1].name if defined else resource if group is None else f"{resource}.{group}"


@dataclass(frozen=True)
class ShownTable:
    """A table the page shows under a ``kubectl get``."""

    types: tuple[str, ...]  # canonical types the command lists
    table: Table
    pair: Pair
    call: KubectlCall


def shown_tables(ctx: LintContext) -> Iterator[ShownTable]:
    for pair in ctx.page.pairs:
        command = command_of(pair)
        call = parse_kubectl(command.argv) if command else None
        if call is None or call.verb != "get":
            continue
        table = parse_table(pair.output.lines, pair.output.line_numbers)
        if table is None:
            continue
        types = tuple(canonical_type(r.resource, r.group, ctx) for r in call.resources())
        yield ShownTable(types, table, pair, call)


def applies_unknown_manifests(ctx: LintContext) -> bool:
    """True when the page installs manifests this lint cannot read (a URL not fetched, a downloaded file)."""
    for command in ctx.commands:
        call = parse_kubectl(command.argv)
        if call is not None and call.verb in {"apply", "create", "replace"}:
            for filename in call.filenames:
                if filename.startswith(("http://", "https://")) and not any(
                    o.origin == filename for o in ctx.catalog.objects
                ):
                    return True
        if command.program in {"curl", "wget"}:
            return True
    return False
