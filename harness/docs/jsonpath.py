"""The JSONPath subset CRD printer columns use: ``.a.b``, ``['a.b']``, ``[0]``, ``[*]``, ``[?(@.k=="v")]``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_TOKEN = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_$-]+)|\[(?P<quoted>'[^']*'|"[^"]*")\]|\[(?P<index>-?\d+)\]|\[(?P<star>\*)\]|"""
    r"""\[\?\(@(?P<fpath>(?:\.[A-Za-z0-9_-]+)+)\s*(?P<op>==|!=)\s*(?P<fval>'[^']*'|"[^"]*"|[^)\s]+)\)\]"""
)


class JsonPathError(ValueError):
    """An expression outside the supported subset."""


def _tokens(expression: str) -> list[re.Match[str]]:
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if text.startswith("$"):
        text = text[1:]
    tokens: list[re.Match[str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise JsonPathError(f"unsupported JSONPath {expression!r} at {text[position:]!r}")
        tokens.append(match)
        position = match.end()
    return tokens


def _get(value: Any, dotted: str) -> Any:
    for part in dotted.strip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def find(data: Any, expression: str) -> list[Any]:
    """All values ``expression`` selects in ``data`` (empty when nothing matches)."""
    current: list[Any] = [data]
    for token in _tokens(expression):
        following: list[Any] = []
        for value in current:
            following.extend(_step(value, token))
        current = following
    return current


def _step(value: Any, token: re.Match[str]) -> Iterator[Any]:
    if token.group("field") is not None or token.group("quoted") is not None:
        key = token.group("field") if token.group("field") is not None else token.group("quoted")[1:-1]
        if isinstance(value, dict) and key in value:
            yield value[key]
    elif token.group("index") is not None:
        if isinstance(value, list):
            index = int(token.group("index"))
            if -len(value) <= index < len(value):
                yield value[index]
    elif token.group("star"):
        if isinstance(value, list):
            yield from value
        elif isinstance(value, dict):
            yield from value.values()
    elif token.group("fpath") is not None and isinstance(value, list):
        wanted = token.group("fval").strip("'\"")
        for item in value:
            actual = _get(item, token.group("fpath"))
            text = str(actual).lower() if isinstance(actual, bool) else (None if actual is None else str(actual))
            if (text == wanted) == (token.group("op") == "=="):
                yield item
