"""Container image references, by the grammar of ``distribution/reference`` (what Docker, containerd and
kubelet accept).

    reference      := name [ ":" tag ] [ "@" digest ]
    name           := [domain "/"] remote-name
    domain         := host [ ":" port ]          host := domain-name | "[" ipv6 "]"
    domain-name    := component ("." component)*  component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
    remote-name    := path-component ("/" path-component)*
    path-component := [a-z0-9]+ (separator [a-z0-9]+)*   separator := "." | "_" | "__" | "-"+
    tag            := [\\w][\\w.-]{0,127}
    digest         := algorithm ":" hex{32,}      algorithm := [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*

The first path element is the registry only when it contains ``.`` or ``:`` or is ``localhost`` (otherwise the
image is on Docker Hub, under ``library/`` when it has one element). A name is at most 255 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|\[(?:[a-fA-F0-9:]+)\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"^(?P<name>(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*))"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
NAME_TOTAL_LENGTH_MAX = 255
DEFAULT_DOMAIN = "docker.io"


class InvalidReference(ValueError):
    """The text is not an image reference; ``fix`` is the corrected reference when one is evident."""

    def __init__(self, text: str, reason: str, fix: str | None = None) -> None:
        super().__init__(f"invalid image reference {text!r}: {reason}")
        self.text = text
        self.reason = reason
        self.fix = fix


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference."""

    text: str
    domain: str  # as resolved (docker.io when the reference names none)
    path: str  # repository path (library/ added for Docker Hub official images)
    tag: str | None
    digest: str | None

    @property
    def pinned(self) -> bool:
        """True when the reference names a tag or a digest (not an implicit ``latest``)."""
        return self.tag is not None or self.digest is not None

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        return first, rest
    return "", name


def _lowercase_repository(text: str) -> str:
    """``text`` with its repository path lower-cased (a registry host and the tag/digest keep their case)."""
    name, at, digest = text.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon:]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return f"{first}/{rest.lower()}{tag}{at}{digest}"
    return f"{name.lower()}{tag}{at}{digest}"


def parse_image(text: str) -> ImageReference:
    """Parse ``text`` or raise ``InvalidReference`` naming what is wrong (and the fix when evident)."""
    if not text:
        raise InvalidReference(text, "empty reference")
    scheme = _SCHEME.match(text)
    if scheme:
        fixed = text[scheme.end() :]
        raise InvalidReference(
            text,
            f"an image reference has no scheme ({scheme.group(0)!r})",
            fixed if _REFERENCE.match(fixed) else None,
        )
    if text != text.strip() or any(ch.isspace() for ch in text):
        raise InvalidReference(text, "contains whitespace", text.strip() if _REFERENCE.match(text.strip()) else None)
    match = _REFERENCE.match(text)
    if not match:
        lowered = _lowercase_repository(text)
        if lowered != text and _REFERENCE.match(lowered):
            raise InvalidReference(text, "repository name must be lowercase", lowered)
        if "//" in text:
            raise InvalidReference(text, "empty path component ('//')")
        raise InvalidReference(text, "does not match registry/repository[:tag][@digest]")
    name = match.group("name")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(text, f"repository name longer than {NAME_TOTAL_LENGTH_MAX} characters")
    digest = match.group("digest")
    if digest:
        algorithm, _, hex_ = digest.partition(":")
        expected = _DIGEST_LENGTHS.get(algorithm)
        if expected is not None and len(hex_) != expected:
            raise InvalidReference(text, f"{algorithm} digest must have {expected} hex digits, not {len(hex_)}")
    domain, path = _split_domain(name)
    # The grammar lets the first element be read as a domain; the normalisation rule decides whether it is.
    if not domain:
        domain = DEFAULT_DOMAIN
        if "/" not in path:
            path = f"library/{path}"
    elif not re.fullmatch(_DOMAIN, domain):
        raise InvalidReference(text, f"registry {domain!r} is not a host[:port]")
    return ImageReference(text, domain, path, match.group("tag"), digest)
