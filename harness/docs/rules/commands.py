"""Commands as a reader (and an automated run) meets them: unfinished placeholders, commands that never return."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from harness.docs.curl import parse_curl
from harness.docs.findings import Severity
from harness.docs.kubectl import parse_kubectl
from harness.docs.lint import Hit, LintContext, rule
from harness.docs.rules._shared import is_reserved_host
from harness.docs.shell import PLACEHOLDER


@rule("PH001", "placeholder-in-command", Severity.INFO, "commands hold no unfinished <placeholders> or example hosts")
def placeholder_in_command(ctx: LintContext) -> Iterator[Hit]:
    for command in ctx.commands:
        for word in command.argv:
            for match in PLACEHOLDER.finditer(word):
                yield Hit(
                    command.line,
                    f"'{match.group(0)}' in '{word}' is a placeholder the reader must fill in; the page does not "
                    "say how to find the value",
                )
        curl = parse_curl(command.argv)
        call = parse_kubectl(command.argv)
        urls = list(curl.urls) if curl else [f for f in call.filenames if "://" in f] if call else []
        for url in urls:
            host = urlsplit(url).hostname or ""
            if is_reserved_host(host):
                yield Hit(command.line, f"URL '{url}' uses the reserved example domain {host}")


@rule("CMD001", "never-returns", Severity.INFO, "commands return on their own (no --watch / --follow)")
def never_returns(ctx: LintContext) -> Iterator[Hit]:
    for command in ctx.commands:
        call = parse_kubectl(command.argv)
        if call is None:
            continue
        if call.verb == "get" and (call.has("watch") or call.has("watch-only")):
            what = " ".join(r.type for r in call.resources()) or "resources"
            yield Hit(
                command.line,
                f"kubectl get {what} --watch never exits; a reader must press Ctrl+C and a script hangs",
                f"kubectl wait --for=... {what}" if what != "resources" else None,
            )
        elif call.verb == "logs" and call.has("follow"):
            yield Hit(command.line, "kubectl logs --follow never exits while the container runs")
        elif call.verb == "port-forward":
            yield Hit(command.line, "kubectl port-forward runs until interrupted; run it in the background")
