"""Read Kubernetes manifests from YAML files and text, with errors that name the file and line.

The one place the harness parses manifest YAML: Promise files, pipeline outputs, upstream install data,
feature docstrings. A file that does not parse is reported as ``file:line:column: problem``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ManifestError(ValueError):
    """A manifest is unreadable, is not valid YAML, or holds something other than mappings."""


def parse_yaml_documents(text: str, *, source: str = "<text>") -> list[dict[str, Any]]:
    """Every non-empty YAML document in ``text``; ``source`` names it in errors."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ManifestError(f"{where}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: invalid YAML: {exc}") from None
    result: list[dict[str, Any]] = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ManifestError(f"{source}: document {index + 1} is a {type(doc).__name__}, not a mapping")
        result.append(doc)
    return result


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a file.

    Raises:
        ManifestError: the file is missing, does not parse (message: ``file:line:column: problem``), or holds
            a document that is not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_yaml_documents(text, source=str(path))


def load_yaml_document(path: Path) -> dict[str, Any]:
    """A file that must hold exactly one YAML document (a mapping)."""
    docs = load_yaml_documents(path)
    if len(docs) != 1:
        raise ManifestError(f"{path}: expected one YAML document, found {len(docs)}")
    return docs[0]
