"""URLs in commands (``curl``, ``wget``, ``kubectl apply -f URL``): well formed; with ``--online``, fetched and
checked to answer 2xx with the content the command expects; ``curl`` fails on HTTP errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.docs.curl import parse_curl
from harness.docs.findings import Severity
from harness.docs.kubectl import parse_kubectl
from harness.docs.lint import Hit, LintContext, rule
from harness.docs.shell import PLACEHOLDER, ShellCommand
from harness.docs.yamldocs import load_documents

_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
_IPV4 = re.compile(r"^(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$")
_MANIFEST_SUFFIX = re.compile(r"\.(?:ya?ml|json)$")


@dataclass(frozen=True)
class UrlUse:
    url: str
    line: int
    program: str
    expects_manifest: bool  # kubectl reads it, or it is saved as .yaml/.json, or piped into kubectl apply -f -


def url_uses(ctx: LintContext) -> Iterator[UrlUse]:
    commands = ctx.commands
    for index, command in enumerate(commands):
        piped_to_kubectl = False
        if command.operator == "|" and index + 1 < len(commands):
            following = parse_kubectl(commands[index + 1].argv)
            piped_to_kubectl = following is not None and "-" in following.filenames
        curl = parse_curl(command.argv)
        if curl is not None:
            saved_as_manifest = bool(curl.output and _MANIFEST_SUFFIX.search(curl.output))
            for url in curl.urls:
                expects = (
                    saved_as_manifest or piped_to_kubectl or bool(curl.remote_name and _MANIFEST_SUFFIX.search(url))
                )
                yield UrlUse(url, command.line, "curl", expects)
            continue
        if command.program == "wget":
            for word in command.argv[1:]:
                if "://" in word:
                    yield UrlUse(word, command.line, "wget", piped_to_kubectl or bool(_MANIFEST_SUFFIX.search(word)))
            continue
        call = parse_kubectl(command.argv)
        if call is not None:
            for filename in call.filenames:
                if "://" in filename:
                    yield UrlUse(filename, command.line, "kubectl", True)


def url_problem(url: str) -> tuple[str, str | None] | None:
    """Why ``url`` is not a well-formed http(s) URL (and the fix when evident), else None."""
    if PLACEHOLDER.search(url) or url.startswith("$"):
        return None  # a placeholder or a variable: PH001 reports placeholders
    if any(ch.isspace() for ch in url):
        return "contains whitespace", url.replace(" ", "%20")
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"}:
        return f"scheme '{parts.scheme}' is not http or https", None
    if not parts.netloc:
        return "has no host", None
    try:
        port = parts.port
    except ValueError:
        return f"port in '{parts.netloc}' is not a number in 1-65535", None
    if port is not None and not 0 < port < 65536:
        return f"port {port} is out of range", None
    host = parts.hostname or ""
    if not (_HOSTNAME.match(host) or _IPV4.match(host) or host.startswith("[")):
        return f"host '{host}' is not a valid host name", None
    if "\\" in url:
        return "contains a backslash", url.replace("\\", "/")
    return None


@rule("URL001", "malformed-url", Severity.ERROR, "URLs commands fetch are well-formed http(s) URLs")
def malformed_url(ctx: LintContext) -> Iterator[Hit]:
    for use in url_uses(ctx):
        problem = url_problem(use.url)
        if problem:
            yield Hit(use.line, f"{use.program} URL '{use.url}' {problem[0]}", problem[1])


def _curl_commands(ctx: LintContext) -> Iterator[tuple[ShellCommand, bool]]:
    for command in ctx.commands:
        curl = parse_curl(command.argv)
        if curl is not None:
            yield command, curl.fails_on_http_error


@rule("URL002", "curl-without-fail", Severity.WARNING, "curl uses --fail, so an HTTP error stops the tutorial")
def curl_without_fail(ctx: LintContext) -> Iterator[Hit]:
    for command, fails in _curl_commands(ctx):
        if not fails:
            yield Hit(
                command.line,
                "curl without --fail exits 0 on an HTTP error and saves the error page as the file",
                "add --fail (or -f)",
            )


@rule("URL003", "url-fetch-failed", Severity.ERROR, "URLs answer 2xx", online=True)
def url_fetch_failed(ctx: LintContext) -> Iterator[Hit]:
    if ctx.fetcher is None:
        return
    for use in url_uses(ctx):
        if url_problem(use.url) or PLACEHOLDER.search(use.url) or use.url.startswith("$"):
            continue
        result = ctx.fetcher.get(use.url)
        if not result.ok:
            yield Hit(use.line, f"GET {use.url}: {result.describe()}")


@rule("URL004", "url-unexpected-content", Severity.ERROR, "URLs serve what the command expects", online=True)
def url_unexpected_content(ctx: LintContext) -> Iterator[Hit]:
    if ctx.fetcher is None:
        return
    for use in url_uses(ctx):
        if not use.expects_manifest or url_problem(use.url) or PLACEHOLDER.search(use.url):
            continue
        result = ctx.fetcher.get(use.url)
        if not result.ok:
            continue  # URL003 reports it
        if result.looks_like_html:
            yield Hit(
                use.line,
                f"GET {use.url} returns an HTML page ({result.content_type or 'no content type'}), not the YAML "
                f"{use.program} expects",
                "link the raw file (e.g. raw.githubusercontent.com instead of a github.com/.../blob/ page)"
                if "/blob/" in use.url
                else None,
            )
            continue
        docs, problem = load_documents(result.text)
        if problem is not None:
            yield Hit(use.line, f"GET {use.url} returns text that is not YAML: {problem.message}")
        elif use.program == "kubectl" and not any(d.is_manifest for d in docs):
            yield Hit(use.line, f"GET {use.url} returns YAML with no Kubernetes object (apiVersion and kind)")
