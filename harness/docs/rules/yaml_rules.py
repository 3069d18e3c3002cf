"""YAML blocks (and here-documents applied with ``kubectl apply -f -``) parse and are well-formed manifests."""

from __future__ import annotations

from collections.abc import Iterator

from harness.docs.findings import Severity
from harness.docs.lint import Hit, LintContext, rule
from harness.docs.yamldocs import YamlDoc, YamlProblem


def _page_yaml(ctx: LintContext) -> Iterator[tuple[str, list[YamlDoc], YamlProblem | None]]:
    """(what, documents, problem) for every YAML block and every here-document read as YAML."""
    for source in ctx.yaml_sources:
        yield source.what, source.docs, source.problem


@rule("YAML001", "yaml-syntax", Severity.ERROR, "YAML blocks and here-documents parse")
def yaml_syntax(ctx: LintContext) -> Iterator[Hit]:
    for what, _docs, problem in _page_yaml(ctx):
        if problem is not None:
            yield Hit(problem.line, f"{what} does not parse: {problem.message}")


@rule("YAML002", "duplicate-key", Severity.ERROR, "no key appears twice in one mapping")
def duplicate_key(ctx: LintContext) -> Iterator[Hit]:
    for what, docs, _problem in _page_yaml(ctx):
        for doc in docs:
            for path, line in doc.duplicates:
                dotted = ".".join(str(p) for p in path)
                yield Hit(line, f"{what}: key '{dotted}' is repeated; YAML keeps the last, kubectl rejects it")


@rule("YAML003", "manifest-identity", Severity.WARNING, "a manifest has apiVersion, kind and metadata.name")
def manifest_identity(ctx: LintContext) -> Iterator[Hit]:
    for what, docs, _problem in _page_yaml(ctx):
        for doc in docs:
            data = doc.data
            if not isinstance(data, dict):
                continue
            has_version, has_kind = "apiVersion" in data, "kind" in data
            if has_version != has_kind:
                missing = "kind" if has_version else "apiVersion"
                yield Hit(doc.line, f"{what}: document has {'apiVersion' if has_version else 'kind'} but no {missing}")
            elif has_version and has_kind and not str(data.get("kind", "")).endswith("List"):
                metadata = data.get("metadata")
                if not isinstance(metadata, dict) or not (metadata.get("name") or metadata.get("generateName")):
                    yield Hit(doc.line, f"{what}: {data.get('kind')} has no metadata.name")
