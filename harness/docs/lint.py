"""The static lint: rules with ids and severities, run over one page, no cluster needed.

A rule is a function of a ``LintContext`` yielding ``Hit``s; ``@rule`` registers it with its id, name,
severity and one-line summary. Rule modules live in ``harness/docs/rules/`` and are imported by
``all_rules()``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.docs.catalog import Catalog, YamlSource, build_catalog, yaml_sources
from harness.docs.fetch import Fetcher
from harness.docs.findings import Finding, Severity
from harness.docs.model import Page
from harness.docs.shell import ShellCommand, page_commands


@dataclass(frozen=True)
class Hit:
    """What a rule found: where, what, and the fix when known (severity defaults to the rule's)."""

    line: int
    message: str
    fix: str | None = None
    severity: Severity | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    summary: str
    check: Callable[[LintContext], Iterable[Hit]]
    online: bool = False  # only runs with --online


_RULES: dict[str, Rule] = {}


def rule(
    rule_id: str, name: str, severity: Severity, summary: str, *, online: bool = False
) -> Callable[[Callable[[LintContext], Iterable[Hit]]], Callable[[LintContext], Iterable[Hit]]]:
    """Register a rule check function."""

    def register(check: Callable[[LintContext], Iterable[Hit]]) -> Callable[[LintContext], Iterable[Hit]]:
        if rule_id in _RULES:
            raise ValueError(f"duplicate rule id {rule_id}")
        _RULES[rule_id] = Rule(rule_id, name, severity, summary, check, online)
        return check

    return register


def all_rules() -> dict[str, Rule]:
    """Every registered rule by id (importing the rule modules registers them)."""
    import harness.docs.rules  # noqa: F401 (registration side effect)

    return dict(sorted(_RULES.items()))


@dataclass
class LintOptions:
    """How to lint: ``docs_root`` enables link/partial resolution, ``online`` enables URL fetching."""

    docs_root: Path | None = None
    online: bool = False
    timeout: float = 10.0
    select: frozenset[str] = frozenset()  # rule ids to run (empty: all)
    fetcher: Fetcher | None = None


@dataclass
class LintContext:
    """What rules see: the page, the options, and lazily built shared views of the page."""

    page: Page
    options: LintOptions
    fetcher: Fetcher | None = None
    _catalog: Catalog | None = field(default=None, repr=False)
    _commands: list[ShellCommand] | None = field(default=None, repr=False)
    _yaml_sources: list[YamlSource] | None = field(default=None, repr=False)

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = build_catalog(self.page, self.fetcher, self.commands)
        return self._catalog

    @property
    def commands(self) -> list[ShellCommand]:
        if self._commands is None:
            self._commands = page_commands(self.page)
        return self._commands

    @property
    def yaml_sources(self) -> list[YamlSource]:
        # Parsed once per page: several rules (YAML001-003, IMG001-002) walk the same YAML.
        if self._yaml_sources is None:
            self._yaml_sources = yaml_sources(self.page, self.commands)
        return self._yaml_sources


def make_context(page: Page, options: LintOptions | None = None) -> LintContext:
    options = options or LintOptions()
    fetcher = options.fetcher
    if options.online and fetcher is None:
        fetcher = Fetcher(timeout=options.timeout)
    return LintContext(page, options, fetcher if options.online else None)


def _run(context: LintContext, rules: Iterable[Rule]) -> Iterator[Finding]:
    for current in rules:
        if current.online and not context.options.online:
            continue
        for hit in current.check(context):
            yield Finding(
                current.id, hit.severity or current.severity, hit.message, context.page.source, hit.line, hit.fix
            )


def lint_page(page: Page, options: LintOptions | None = None) -> list[Finding]:
    """Run every (selected) rule over ``page``; findings sorted by line, duplicates dropped."""
    context = make_context(page, options)
    rules: list[Rule] = list(all_rules().values())
    if context.options.select:
        unknown = context.options.select - set(all_rules())
        if unknown:
            raise ValueError(f"unknown rule id(s): {', '.join(sorted(unknown))}")
        rules = [r for r in rules if r.id in context.options.select]
    findings = sorted(set(_run(context, rules)), key=Finding.sort_key)
    return findings


@functools.cache
def rule_ids() -> tuple[str, ...]:
    return tuple(all_rules())
