"""Image references by the distribution/reference grammar."""

from __future__ import annotations

import pytest

from harness.docs.images import InvalidReference, parse_image

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "digest"),
    [
        ("busybox", "docker.io", "library/busybox", None, None),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
        ("syntasso/external-something-example.com", "docker.io", "syntasso/external-something-example.com", None, None),
        ("ghcr.io/syntasso/workshop/scanner:v0.1.0", "ghcr.io", "syntasso/workshop/scanner", "v0.1.0", None),
        ("localhost/app:1", "localhost", "app", "1", None),
        ("localhost:5000/team/app:dev_1.2-rc", "localhost:5000", "team/app", "dev_1.2-rc", None),
        (f"registry.acme.io:443/a__b/c--d.e@{DIGEST}", "registry.acme.io:443", "a__b/c--d.e", None, DIGEST),
        (f"quay.io/x/y:1.0@{DIGEST}", "quay.io", "x/y", "1.0", DIGEST),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", None),
        ("Registry.Acme.IO/app:1", "Registry.Acme.IO", "app", "1", None),
    ],
)
def test_valid_references(text, domain, path, tag, digest):
    reference = parse_image(text)
    assert (reference.domain, reference.path, reference.tag, reference.digest) == (domain, path, tag, digest)
    assert reference.pinned == (tag is not None or digest is not None)


@pytest.mark.parametrize(
    ("text", "reason", "fix"),
    [
        ("https://ghcr.io/acme/app:v1", "no scheme", "ghcr.io/acme/app:v1"),
        ("Acme/App:v1", "must be lowercase", "acme/app:v1"),
        ("ghcr.io/Acme/app:v1", "must be lowercase", "ghcr.io/acme/app:v1"),
        ("acme//app:v1", "empty path component", None),
        ("acme/app:1.0:2", "does not match", None),
        ("acme/app:-bad", "does not match", None),
        ("acme/app@sha256:1234", "does not match", None),
        ("acme/app@sha256:" + "a" * 63 + "b0", "64 hex digits", None),
        ("acme/app:" + "t" * 129, "does not match", None),
        ("acme/-app:v1", "does not match", None),
        ("acme app:v1", "whitespace", None),
        ("", "empty", None),
        ("a/" + "b" * 260 + ":1", "longer than 255", None),
    ],
)
def test_invalid_references_name_the_problem_and_fix(text, reason, fix):
    with pytest.raises(InvalidReference) as caught:
        parse_image(text)
    assert reason in caught.value.reason
    assert caught.value.fix == fix
