"""Drift and observed-vs-shown: compare each bound page block with what its step ran, applied and saw.

* commands are compared as argv, kubectl commands as parsed calls (``-f`` = ``--filename``, ``$VARIABLES``
  match any value, local files by name, ``promise`` = ``promises``);
* manifests are compared as data (comments, key order and quoting do not matter); a fragment the page asks
  to edit ("modify the following section") is found inside the applied object and compared there;
* output is compared by shape: ``kubectl get`` tables column by column (normalised, see tables.py),
  ``<kind>.<group>/<name> created`` lines, and log lines (each shown line must appear, in order).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.docs.binding import Binding
from harness.docs.findings import Finding, Severity
from harness.docs.kubectl import KubectlCall, builtin_type, parse_kubectl
from harness.docs.model import BlockRole, CodeBlock, OutputSpan, Page
from harness.docs.recorder import Event, StepRecord
from harness.docs.report import Check
from harness.docs.shapes import KUBECTL_RESULT
from harness.docs.shell import (
    PLACEHOLDER,
    ShellCommand,
    block_commands,
    command_of,
    placeholder_pattern,
    stdin_line_numbers,
)
from harness.docs.tables import Row, Table, compare_tables, parse_table, render_objects
from harness.docs.yamldocs import YamlDoc, load_documents

MAX_FINDINGS_PER_BINDING = 25
# Keys a harness adds for its own bookkeeping: not drift when only the applied object has them.
_BOOKKEEPING = (("metadata", "labels"), ("metadata", "annotations"), ("status",))
# Flags whose difference is how a person vs a script waits or reads, not what is done.
_PRESENTATION_FLAGS = frozenset({"watch", "watch-only", "output", "follow", "no-headers", "show-labels", "wait"})
_TABLE_KINDS_EXCLUDED = frozenset({"log", "output", "names", "table"})
_ELLIPSIS = re.compile(r"^(?:\.{3,}|…)$")


# ------------------------------------------------------------------------------------------ commands


def _is_plumbing(command: ShellCommand) -> bool:
    """``cat <<EOF | ...``: it only feeds the next command."""
    return command.program in {"cat", "echo", "printf"} and command.operator == "|"


def _norm_resource(resource: str) -> str:
    base = resource.split(".", 1)[0].lower()
    builtin = builtin_type(base)
    if builtin is not None:
        return builtin.plural
    return base if base.endswith("s") else base + "s"


def _file_key(name: str) -> str:
    return name if "://" in name or name == "-" else name.rstrip("/").rsplit("/", 1)[-1]


def _is_variable(value: str) -> bool:
    return value.startswith("$")


def _name_matches(page_name: str, ran_name: str) -> bool:
    """A page name matches when equal, a ``$VARIABLE``, or a ``<placeholder>`` pattern that fits."""
    if page_name == ran_name or _is_variable(page_name):
        return True
    if PLACEHOLDER.search(page_name):
        return placeholder_pattern(page_name).fullmatch(ran_name) is not None
    return False


def _refs_match(page: list[tuple[str, str]], ran: list[tuple[str, str]]) -> bool:
    return len(page) == len(ran) and all(
        a_type == b_type and _name_matches(a_name, b_name)
        for (a_type, a_name), (b_type, b_name) in zip(page, ran, strict=True)
    )


def _kubectl_differences(page: KubectlCall, ran: KubectlCall) -> tuple[list[str], bool]:
    """Human-readable differences and whether they are only presentation (--watch, -o ...)."""
    differences: list[str] = []
    substantive = False
    if (page.verb, page.subcommand) != (ran.verb, ran.subcommand):
        differences.append(f"verb: page `{page.verb}`, run `{ran.verb}`")
        substantive = True
    page_refs = sorted({(_norm_resource(r.type), r.name or "") for r in page.resources()})
    ran_refs = sorted({(_norm_resource(r.type), r.name or "") for r in ran.resources()})
    if not _refs_match(page_refs, ran_refs):
        shown = ", ".join(f"{t}/{n}" if n else t for t, n in page_refs) or "(none)"
        seen = ", ".join(f"{t}/{n}" if n else t for t, n in ran_refs) or "(none)"
        differences.append(f"objects: page {shown}, run {seen}")
        substantive = True
    page_files = [_file_key(f) for f in page.filenames]
    ran_files = [_file_key(f) for f in ran.filenames]
    if page_files != ran_files:
        differences.append(
            f"files: page {', '.join(page.filenames) or '(none)'}, run {', '.join(ran.filenames) or '(none)'}"
        )
        substantive = True
    ignored = {"context", "filename", "kubeconfig"}
    page_flags = {k: v for k, v in page.flags.items() if k not in ignored}
    ran_flags = {k: v for k, v in ran.flags.items() if k not in ignored}
    for name in sorted(set(page_flags) | set(ran_flags)):
        a, b = page_flags.get(name), ran_flags.get(name)
        if name == "namespace" and {x for x in (a, b) if x} <= {("default",)}:
            continue
        if a == b or (a is not None and b is not None and all(_is_variable(v) for v in a)):
            continue
        where = "page only" if b is None else "run only" if a is None else f"page {a[-1]}, run {b[-1]}"
        differences.append(f"--{name}: {where}")
        substantive = substantive or name not in _PRESENTATION_FLAGS
    if page.context and ran.context and not _is_variable(page.context) and page.context != ran.context:
        differences.append(f"--context: page {page.context}, run {ran.context}")
        substantive = True
    return differences, not substantive


def _argv_differences(page: Sequence[str], ran: Sequence[str]) -> list[str]:
    if len(page) == len(ran) and all(
        a == b or _is_variable(a) or ("/" in a and _file_key(a) == _file_key(b)) for a, b in zip(page, ran, strict=True)
    ):
        return []
    return [f"argv: page {shlex.join(page)}, run {shlex.join(ran)}"]


@dataclass(frozen=True)
class CommandDrift:
    """A page command and the closest command the step ran (None when it ran nothing alike)."""

    command: ShellCommand
    ran: tuple[str, ...] | None
    differences: tuple[str, ...]
    presentation_only: bool = False


def compare_commands(page_commands: Sequence[ShellCommand], ran: Sequence[Sequence[str]]) -> list[CommandDrift]:
    """Pair each page command with the step's closest command (same program and verb) and list differences."""
    remaining = [tuple(argv) for argv in ran]
    results: list[CommandDrift] = []
    for command in page_commands:
        if _is_plumbing(command):
            continue
        page_call = parse_kubectl(command.argv)
        best: tuple[int, tuple[str, ...], list[str], bool] | None = None
        for argv in remaining:
            if not argv or argv[0].rsplit("/", 1)[-1] != command.program.rsplit("/", 1)[-1]:
                continue
            ran_call = parse_kubectl(argv)
            if page_call is not None and ran_call is not None:
                if page_call.verb != ran_call.verb:
                    continue
                differences, presentation = _kubectl_differences(page_call, ran_call)
            else:
                differences, presentation = _argv_differences(command.argv, argv), False
            if best is None or len(differences) < best[0]:
                best = (len(differences), argv, differences, presentation)
        if best is None:
            results.append(CommandDrift(command, None, (f"the step ran no `{_verb_of(command)}`",)))
            continue
        remaining.remove(best[1])
        results.append(CommandDrift(command, best[1], tuple(best[2]), best[3] and bool(best[2])))
    return results


def _verb_of(command: ShellCommand) -> str:
    call = parse_kubectl(command.argv)
    return f"kubectl {call.verb}" if call is not None else command.program


# ----------------------------------------------------------------------------------------- manifests


@dataclass(frozen=True)
class DataDifference:
    path: tuple[str | int, ...]  # for display: list items with a name are shown as "name=<name>"
    kind: str  # "changed", "missing" (page has it, applied not), "extra" (applied has it, page not)
    shown: Any
    observed: Any
    shown_path: tuple[str | int, ...] = ()  # the same place in the page's document (real list indexes)

    def dotted(self) -> str:
        text = ""
        for part in self.path:
            if isinstance(part, int) or part.startswith("name="):
                text += f"[{part}]"
            else:
                text += f".{part}" if text else part
        return text or "(document)"


def _named(items: list[Any]) -> dict[str, tuple[int, Any]] | None:
    if items and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        names = [i["name"] for i in items]
        if len(set(names)) == len(names):
            return {n: (index, i) for index, (n, i) in enumerate(zip(names, items, strict=True))}
    return None


def diff_data(
    shown: Any,
    observed: Any,
    path: tuple[str | int, ...] = (),
    *,
    subset: bool = False,
    shown_path: tuple[str | int, ...] | None = None,
) -> list[DataDifference]:
    """Differences between two YAML values; ``subset`` ignores keys only the observed value has.

    Lists whose items all have a unique ``name`` (containers, pipelines, volumes) are matched by name.
    """
    at = path if shown_path is None else shown_path
    if isinstance(shown, dict) and isinstance(observed, dict):
        found: list[DataDifference] = []
        for key, value in shown.items():
            if key not in observed:
                found.append(DataDifference((*path, key), "missing", value, None, (*at, key)))
            else:
                found += diff_data(value, observed[key], (*path, key), subset=subset, shown_path=(*at, key))
        if not subset:
            for key, value in observed.items():
                child = (*path, key)
                if key not in shown and not any(child[: len(b)] == b for b in _BOOKKEEPING):
                    found.append(DataDifference(child, "extra", None, value, at))
        return found
    if isinstance(shown, list) and isinstance(observed, list):
        by_name_shown, by_name_observed = _named(shown), _named(observed)
        if by_name_shown is not None and by_name_observed is not None:
            found = []
            for name, (index, item) in by_name_shown.items():
                key = f"name={name}"
                if name not in by_name_observed:
                    found.append(DataDifference((*path, key), "missing", item, None, (*at, index)))
                else:
                    found += diff_data(
                        item, by_name_observed[name][1], (*path, key), subset=subset, shown_path=(*at, index)
                    )
            for name, (_index, item) in by_name_observed.items():
                if name not in by_name_shown:
                    found.append(DataDifference((*path, f"name={name}"), "extra", None, item, at))
            order_shown = [n for n in by_name_shown if n in by_name_observed]
            order_observed = [n for n in by_name_observed if n in by_name_shown]
            if order_shown != order_observed:
                found.append(DataDifference(path, "changed", order_shown, order_observed, at))
            return found
        found = []
        for index in range(max(len(shown), len(observed))):
            if index >= len(observed):
                found.append(DataDifference((*path, index), "missing", shown[index], None, (*at, index)))
            elif index >= len(shown):
                found.append(DataDifference((*path, index), "extra", None, observed[index], at))
            else:
                found += diff_data(
                    shown[index], observed[index], (*path, index), subset=subset, shown_path=(*at, index)
                )
        return found
    if shown == observed and type(shown) is type(observed):
        return []
    numbers = isinstance(shown, (int, float)) and isinstance(observed, (int, float))
    if numbers and not isinstance(shown, bool) and not isinstance(observed, bool) and shown == observed:
        return []
    return [DataDifference(path, "changed", shown, observed, at)]


def _find_subtree(
    data: Any, keys: set[str], path: tuple[str | int, ...] = ()
) -> tuple[tuple[str | int, ...], Any] | None:
    """The first mapping (depth-first) that has all ``keys``: where a page fragment sits in an object."""
    if isinstance(data, dict):
        if keys <= set(data):
            return path, data
        for key, value in data.items():
            found = _find_subtree(value, keys, (*path, key))
            if found:
                return found
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found = _find_subtree(value, keys, (*path, index))
            if found:
                return found
    return None


@dataclass(frozen=True)
class ManifestDrift:
    doc: YamlDoc
    applied: Mapping[str, Any] | None
    differences: tuple[DataDifference, ...]
    where: str  # "postgresql/example" or "fragment at spec.workflows"


def _identity(data: Mapping[str, Any]) -> tuple[str, str]:
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    return str(data.get("kind", "")), str(metadata.get("name", ""))


def compare_manifests(shown: Sequence[YamlDoc], applied: Sequence[Mapping[str, Any]]) -> list[ManifestDrift]:
    """Compare each page document with the applied object it stands for (same kind and name, else same kind)."""
    results: list[ManifestDrift] = []
    for doc in shown:
        if not isinstance(doc.data, dict):
            continue
        if doc.is_manifest:
            kind, name = _identity(doc.data)
            same = [a for a in applied if _identity(a) == (kind, name)] or [
                a for a in applied if _identity(a)[0] == kind
            ]
            if not same:
                results.append(ManifestDrift(doc, None, (), f"{kind}/{name}"))
                continue
            best = min(same, key=lambda a: len(diff_data(doc.data, a)))
            results.append(ManifestDrift(doc, best, tuple(diff_data(doc.data, best)), f"{kind}/{name}"))
            continue
        keys = {str(k) for k in doc.data}
        located = [(a, _find_subtree(a, keys)) for a in applied]
        candidates = [(a, found) for a, found in located if found is not None]
        if not candidates:
            results.append(ManifestDrift(doc, None, (), f"fragment with {', '.join(sorted(keys))}"))
            continue
        applied_obj, (at, subtree) = min(candidates, key=lambda c: len(diff_data(doc.data, c[1][1], subset=True)))
        differences = tuple(diff_data(doc.data, subtree, subset=True))
        where = "fragment at " + ".".join(str(p) for p in at) if at else "fragment"
        results.append(ManifestDrift(doc, applied_obj, differences, where))
    return results


# -------------------------------------------------------------------------------------------- output


def observed_table(event: Event) -> Table | None:
    """An observed value as a kubectl table (objects are rendered, text is parsed)."""
    value = event.value
    if isinstance(value, Table):
        return value
    if isinstance(value, str):
        return parse_table(value.splitlines())
    if event.observed_kind == "names" and isinstance(value, (list, tuple)):
        return Table(("NAME",), tuple(Row({"NAME": str(v)}) for v in value))
    if isinstance(value, (list, tuple)) and event.observed_kind not in _TABLE_KINDS_EXCLUDED:
        return render_objects(event.observed_kind, value)
    return None


def _norm_line(line: str) -> str:
    return " ".join(line.split())


@dataclass(frozen=True)
class OutputDrift:
    line: int
    message: str
    shown: str
    observed: str
    severity: Severity = Severity.WARNING


def _table_drifts(span: OutputSpan, shown: Table, observed: Table) -> list[OutputDrift]:
    drifts = []
    for diff in compare_tables(shown, observed):
        severity = Severity.INFO if diff.kind in {"column-extra", "row-extra"} else Severity.WARNING
        drifts.append(OutputDrift(diff.line or span.line, diff.describe(), diff.shown, diff.observed, severity))
    return drifts


def compare_output(
    span: OutputSpan, observed: Sequence[Event], resource_hint: str | None = None
) -> list[OutputDrift] | None:
    """Differences between shown output and what the step observed (None when nothing comparable was observed)."""
    shown_table = parse_table(span.lines, span.line_numbers)
    if shown_table is not None:
        tables = [(e, observed_table(e)) for e in observed]
        usable = [(e, t) for e, t in tables if t is not None]
        if resource_hint:
            hinted = [(e, t) for e, t in usable if _norm_resource(e.observed_kind) == _norm_resource(resource_hint)]
            usable = hinted or usable
        if not usable:
            return None
        _event, table = usable[-1]
        assert table is not None
        return _table_drifts(span, shown_table, table)
    results = [(line, n) for line, n in zip(span.lines, span.line_numbers, strict=True) if KUBECTL_RESULT.match(line)]
    if results:
        outputs = [e for e in observed if e.observed_kind == "output" and isinstance(e.value, str)]
        if not outputs:
            return None
        seen = {_norm_line(line) for e in outputs for line in str(e.value).splitlines() if line.strip()}
        observed_text = "\n".join(sorted(seen))
        printed = ", ".join(f"`{s}`" for s in sorted(seen)) or "nothing"
        return [
            OutputDrift(
                n,
                f"the page shows `{line.strip()}`; the run printed {printed}",
                line.strip(),
                observed_text,
            )
            for line, n in results
            if _norm_line(line) not in seen
        ]
    logs = [e for e in observed if e.observed_kind in {"log", "output"} and isinstance(e.value, str)]
    if not logs:
        return None
    observed_lines = [_norm_line(line) for e in logs for line in str(e.value).splitlines()]
    missing: list[tuple[int, str]] = []
    position = 0
    for line, number in zip(span.lines, span.line_numbers, strict=True):
        wanted = _norm_line(line)
        if not wanted or _ELLIPSIS.match(wanted):
            continue  # "..." on a page means "more output here"
        try:
            position = observed_lines.index(wanted, position) + 1
        except ValueError:
            missing.append((number, wanted))
    drifts: list[OutputDrift] = []
    if missing:
        shown_lines = [w for _, w in missing]
        listed = ", ".join(f"`{w}`" for w in shown_lines[:5]) + (" ..." if len(shown_lines) > 5 else "")
        total = sum(1 for line in span.lines if _norm_line(line) and not _ELLIPSIS.match(_norm_line(line)))
        drifts.append(
            OutputDrift(
                missing[0][0],
                f"the run's output lacks {len(missing)} of the {total} lines the page shows (in order): {listed}",
                span.text,
                "\n".join(str(e.value).rstrip("\n") for e in logs),
            )
        )
    return drifts


# ------------------------------------------------------------------------------------------ evaluate


@dataclass
class DriftResult:
    findings: list[Finding] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    coverage_gaps: list[CodeBlock] = field(default_factory=list)


def _manifest_docs(page: Page, block: CodeBlock) -> list[YamlDoc]:
    if block.role is BlockRole.MANIFEST:
        return load_documents(block.text, block.line_numbers, block.line)[0]
    docs: list[YamlDoc] = []
    for command in block_commands(block):
        if command.stdin is not None and not _is_plumbing(command):
            docs += load_documents(
                command.stdin, stdin_line_numbers(page, command), command.stdin_line or command.line
            )[0]
    return docs


def _outputs(page: Page, block: CodeBlock) -> list[OutputSpan]:
    if block.role is BlockRole.OUTPUT:
        return [OutputSpan(block, block.lines, block.line_numbers)]
    return [pair.output for pair in page.pairs if pair.command.index == block.index]


def _resource_hint(page: Page, span: OutputSpan) -> str | None:
    for pair in page.pairs:
        if pair.output.line == span.line:
            command = command_of(pair)
            call = parse_kubectl(command.argv) if command else None
            if call is not None and call.resources():
                return call.resources()[0].type
    return None


def _render(value: Any) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, (dict, list)):
        import yaml

        return yaml.safe_dump(value, sort_keys=False, default_flow_style=False).rstrip()
    return repr(value) if isinstance(value, str) and not value.strip() else str(value)


class _Collector:
    def __init__(self, page: Page, binding: Binding) -> None:
        self.page = page
        self.binding = binding
        self.findings: list[Finding] = []

    def add(
        self,
        rule: str,
        severity: Severity,
        line: int,
        message: str,
        shown: str | None = None,
        observed: str | None = None,
        fix: str | None = None,
    ) -> None:
        if self.binding.note:
            message += f" [binding note: {self.binding.note}]"
        self.findings.append(Finding(rule, severity, message, self.page.source, line, fix, shown, observed))


def _evaluate_commands(c: _Collector, block: CodeBlock, records: Sequence[StepRecord]) -> bool:
    page_commands = [cmd for cmd in block_commands(block) if not _is_plumbing(cmd)]
    if not page_commands:
        c.add(
            "BIND003",
            Severity.ERROR,
            block.line,
            f"{c.binding.source}: compare 'command' but block at line {block.line} has no command",
        )
        return False
    best: list[CommandDrift] | None = None
    for record in records:
        drifts = compare_commands(page_commands, record.ran())
        if best is None or sum(len(d.differences) for d in drifts) < sum(len(d.differences) for d in best):
            best = drifts
    if best is None or not any(r.ran() for r in records):
        c.add("BIND002", Severity.INFO, block.line, f"step '{c.binding.step}' recorded no command (docs_recorder.ran)")
        return False
    for drift in best:
        if drift.differences:
            severity = Severity.INFO if drift.presentation_only else Severity.WARNING
            ran = (
                shlex.join(drift.ran)
                if drift.ran
                else "(nothing alike; it ran: " + "; ".join(shlex.join(a) for r in records for a in r.ran()) + ")"
            )
            c.add(
                "DRIFT001",
                severity,
                drift.command.line,
                f"command differs from what step '{c.binding.step}' ran: " + "; ".join(drift.differences),
                drift.command.text,
                ran,
            )
    return not any(d.differences for d in best)


def _evaluate_manifests(c: _Collector, page: Page, block: CodeBlock, records: Sequence[StepRecord]) -> bool:
    docs = _manifest_docs(page, block)
    if not docs:
        c.add(
            "BIND003",
            Severity.ERROR,
            block.line,
            f"{c.binding.source}: compare 'manifest' but block at line {block.line} has no YAML",
        )
        return False
    if not any(r.applied() for r in records):
        c.add(
            "BIND002",
            Severity.INFO,
            block.line,
            f"step '{c.binding.step}' recorded no manifest (docs_recorder.applied)",
        )
        return False
    best: list[ManifestDrift] | None = None
    for record in records:
        drifts = compare_manifests(docs, record.applied())
        if best is None or sum(len(d.differences) + (d.applied is None) for d in drifts) < sum(
            len(d.differences) + (d.applied is None) for d in best
        ):
            best = drifts
    assert best is not None
    clean = True
    for drift in best:
        if drift.applied is None:
            clean = False
            c.add(
                "DRIFT002",
                Severity.WARNING,
                drift.doc.line,
                f"{drift.where}: step '{c.binding.step}' applied nothing like it",
                _render(drift.doc.data),
                "\n---\n".join(_render(a) for r in records for a in r.applied()),
            )
            continue
        for count, difference in enumerate(drift.differences):
            clean = False
            if count >= MAX_FINDINGS_PER_BINDING:
                c.add(
                    "DRIFT002",
                    Severity.WARNING,
                    drift.doc.line,
                    f"{drift.where}: {len(drift.differences) - count} more differences not listed",
                )
                break
            what = {
                "changed": "differs",
                "missing": "is on the page but not in the applied object",
                "extra": "is in the applied object but not on the page",
            }[difference.kind]
            line = drift.doc.line_of(difference.shown_path)
            c.add(
                "DRIFT002",
                Severity.WARNING,
                line,
                f"{drift.where}: {difference.dotted()} {what}",
                _render(difference.shown),
                _render(difference.observed),
            )
    return clean


def _evaluate_output(c: _Collector, page: Page, block: CodeBlock, records: Sequence[StepRecord]) -> bool:
    spans = _outputs(page, block)
    if not spans:
        c.add(
            "BIND003",
            Severity.ERROR,
            block.line,
            f"{c.binding.source}: compare 'output' but no output is shown for block at line {block.line}",
        )
        return False
    observed = [e for r in records for e in r.observed()]
    clean = True
    for span in spans:
        drifts = compare_output(span, observed, _resource_hint(page, span))
        if drifts is None:
            c.add(
                "BIND002",
                Severity.INFO,
                span.line,
                f"step '{c.binding.step}' observed nothing comparable to the output at line {span.line} "
                "(docs_recorder.observed)",
            )
            clean = False
            continue
        for drift in drifts[:MAX_FINDINGS_PER_BINDING]:
            clean = False
            c.add("OBS001", drift.severity, drift.line, drift.message, drift.shown, drift.observed)
    return clean


def evaluate(page: Page, bindings: Iterable[Binding], records: Sequence[StepRecord]) -> DriftResult:
    """Compare every binding's block with its step's records; list executable blocks nothing is bound to."""
    result = DriftResult()
    covered: set[int] = set()
    for binding in bindings:
        collector = _Collector(page, binding)
        block = binding.resolve(page)
        if block is None:
            collector.add("BIND001", Severity.ERROR, 1, f"{binding.source}: the page has no {binding.block.describe()}")
            result.findings += collector.findings
            continue
        covered.add(block.index)
        for span in _outputs(page, block):
            covered.add(span.block.index)
        for pair in page.pairs:
            if pair.output.block.index == block.index:
                covered.add(pair.command.index)
        matching = [r for r in records if binding.matches(r.key.step, r.key.scenario)]
        if not matching:
            collector.add(
                "BIND002", Severity.INFO, block.line, f"step '{binding.step}' (bound to line {block.line}) did not run"
            )
            result.findings += collector.findings
            continue
        for compare in binding.compare:
            if compare == "command":
                ok = _evaluate_commands(collector, block, matching)
            elif compare == "manifest":
                ok = _evaluate_manifests(collector, page, block, matching)
            else:
                ok = _evaluate_output(collector, page, block, matching)
            result.checks.append(Check(f"{compare}: {binding.step}", block.line, ok, binding.source))
        result.findings += collector.findings
    result.coverage_gaps = [
        b for b in page.blocks if b.role in {BlockRole.COMMAND, BlockRole.MANIFEST} and b.index not in covered
    ]
    unique: dict[tuple[str, int, str], Finding] = {}
    for finding in result.findings:
        unique.setdefault((finding.rule, finding.line, finding.message), finding)
    result.findings = sorted(unique.values(), key=Finding.sort_key)
    return result
