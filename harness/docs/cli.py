"""Command line: ``scripts/docs-check PAGE...`` and ``python -m harness.docs lint PAGE...``.

Exit status: 0 when no finding reaches ``--fail-on`` (default error), 1 when one does, 2 on bad usage or an
unreadable page.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.docs.findings import Severity
from harness.docs.lint import LintOptions, all_rules, lint_page
from harness.docs.page import PageError, load_page
from harness.docs.report import PageReport, render_junit, render_markdown, render_text

_SUFFIX = {"text": ".txt", "markdown": ".md", "junit": ".junit.xml"}


def _lint_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pages", nargs="+", metavar="PAGE", help="a .md/.mdx page, a rendered .txt page, or a URL")
    parser.add_argument("--docs-root", type=Path, help="docs tree to resolve relative links, anchors and partials in")
    parser.add_argument("--online", action="store_true", help="fetch the URLs commands use (default: offline)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per URL fetch (default 10)")
    parser.add_argument("--format", choices=sorted(_SUFFIX), default="text", help="report format (default text)")
    parser.add_argument("--out", type=Path, help="write one report per page into this directory")
    parser.add_argument(
        "--fail-on",
        default="error",
        type=Severity.parse,
        metavar="SEVERITY",
        help="exit 1 when a finding has this severity or higher: info, warning, error (default error)",
    )
    parser.add_argument("--select", default="", help="comma-separated rule ids to run (default: all)")


def build_parser(prog: str = "python -m harness.docs") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Lint tutorial pages: commands, manifests, images, APIs, names, URLs and links, without a cluster.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _lint_parser(commands.add_parser("lint", help="lint pages"))
    commands.add_parser("rules", help="list the rules")
    return parser


def _lint(args: argparse.Namespace) -> int:
    if args.docs_root is not None and not args.docs_root.is_dir():
        print(f"error: --docs-root {args.docs_root}: not a directory", file=sys.stderr)
        return 2
    select = frozenset(s.strip() for s in args.select.split(",") if s.strip())
    options = LintOptions(docs_root=args.docs_root, online=args.online, timeout=args.timeout, select=select)
    reports: list[PageReport] = []
    for source in args.pages:
        try:
            page = load_page(source, timeout=args.timeout)
            reports.append(PageReport(page, lint_page(page, options)))
        except (PageError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for report in reports:
            target = args.out / f"{report.page.stem}{_SUFFIX[args.format]}"
            target.write_text(_render(args.format, [report], args.fail_on), encoding="utf-8")
            counts = report.counts()
            print(
                f"{report.page.source}: {len(report.findings)} findings "
                f"({counts.get(Severity.ERROR, 0)} error, {counts.get(Severity.WARNING, 0)} warning, "
                f"{counts.get(Severity.INFO, 0)} info) -> {target}"
            )
    else:
        output = _render(args.format, reports, args.fail_on)
        if output.strip():
            print(output.rstrip("\n"))
    return 1 if any(r.failing(args.fail_on) for r in reports) else 0


def _render(fmt: str, reports: Sequence[PageReport], fail_on: Severity) -> str:
    if fmt == "junit":
        return render_junit(reports, fail_on)
    if fmt == "markdown":
        return "\n".join(render_markdown(r) for r in reports)
    return "\n".join(render_text(r.findings) for r in reports if r.findings) + "\n"


def _rules() -> int:
    for rule in all_rules().values():
        extra = " (--online)" if rule.online else ""
        print(f"{rule.id:8} {rule.severity!s:8} {rule.name:26} {rule.summary}{extra}")
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "python -m harness.docs") -> int:
    args = build_parser(prog).parse_args(argv)
    if args.command == "rules":
        return _rules()
    return _lint(args)


def docs_check(argv: Sequence[str] | None = None) -> int:
    """``scripts/docs-check``: ``lint`` without the sub-command word."""
    parser = argparse.ArgumentParser(prog="docs-check", description="Lint tutorial pages (see python -m harness.docs).")
    _lint_parser(parser)
    return _lint(parser.parse_args(argv))
