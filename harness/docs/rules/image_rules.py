"""Container image references in YAML (``image:``, ``*Image:``) and in commands that take an image."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from harness.docs.findings import Severity
from harness.docs.images import InvalidReference, parse_image
from harness.docs.lint import Hit, LintContext, rule
from harness.docs.shell import PLACEHOLDER
from harness.docs.yamldocs import YamlDoc

_IMAGE_KEY = re.compile(r"^(?:image|[a-z][A-Za-z0-9]*Image)$")


@dataclass(frozen=True)
class ImageUse:
    text: str
    line: int
    where: str


def _walk(data: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str) and _IMAGE_KEY.match(str(key)):
                yield (*path, str(key)), value
            else:
                yield from _walk(value, (*path, str(key)))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _walk(item, (*path, index))


def _yaml_images(docs: Sequence[YamlDoc]) -> Iterator[ImageUse]:
    for doc in docs:
        for path, value in _walk(doc.data, ()):
            yield ImageUse(value, doc.line_of(path), ".".join(str(p) for p in path))


def _option_values(argv: Sequence[str], names: set[str]) -> Iterator[str]:
    for i, word in enumerate(argv):
        flag, sep, value = word.partition("=")
        if flag in names:
            if sep:
                yield value
            elif i + 1 < len(argv):
                yield argv[i + 1]


def command_images(argv: Sequence[str]) -> list[str]:
    """Image references a command line names, by each tool's grammar."""
    if not argv:
        return []
    program = argv[0].rsplit("/", 1)[-1]
    words = list(argv[1:])
    if program in {"docker", "podman", "nerdctl"} and words:
        verb = words[0]
        if verb in {"build", "buildx"}:
            return list(_option_values(words, {"-t", "--tag"}))
        if verb in {"push", "pull"}:
            return [w for w in words[1:] if not w.startswith("-")][:1]
        if verb == "tag":
            return [w for w in words[1:] if not w.startswith("-")][:2]
        if verb == "image" and len(words) > 1 and words[1] in {"push", "pull"}:
            return [w for w in words[2:] if not w.startswith("-")][:1]
        return []
    if program == "kind" and words[:2] == ["load", "docker-image"]:
        images: list[str] = []
        skip = False
        for word in words[2:]:
            if skip:
                skip = False
            elif word in {"--name", "--nodes"}:
                skip = True
            elif not word.startswith("-"):
                images.append(word)
        return images
    if program in {"kratix", "kubectl"}:
        found = list(_option_values(words, {"--image"}))
        if program == "kubectl" and words[:2] == ["set", "image"]:
            found += [w.partition("=")[2] for w in words[2:] if "=" in w and not w.startswith("-")]
        return found
    return []


def image_uses(ctx: LintContext) -> Iterator[ImageUse]:
    """Every image reference on the page with its page line."""
    for source in ctx.yaml_sources:
        yield from _yaml_images(source.docs)
    for command in ctx.commands:
        for text in command_images(command.argv):
            yield ImageUse(text, command.line, command.program)


def _is_variable(text: str) -> bool:
    return text.startswith("$") or bool(PLACEHOLDER.search(text))


@rule("IMG001", "invalid-image", Severity.ERROR, "image references follow registry/repository[:tag][@digest]")
def invalid_image(ctx: LintContext) -> Iterator[Hit]:
    for use in image_uses(ctx):
        if _is_variable(use.text):
            continue
        try:
            parse_image(use.text)
        except InvalidReference as exc:
            yield Hit(use.line, f"{use.where}: {exc}", exc.fix)


@rule("IMG002", "unpinned-image", Severity.INFO, "images name a tag or digest (not an implicit :latest)")
def unpinned_image(ctx: LintContext) -> Iterator[Hit]:
    for use in image_uses(ctx):
        if _is_variable(use.text):
            continue
        try:
            reference = parse_image(use.text)
        except InvalidReference:
            continue  # IMG001 reports it
        if not reference.pinned:
            yield Hit(
                use.line,
                f"{use.where}: image '{use.text}' has no tag or digest: it means :latest, which kind "
                "does not load and a registry may move",
                f"{use.text}:<tag>",
            )
