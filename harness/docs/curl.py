"""Read a ``curl`` argv: URLs, output file, and whether HTTP errors fail the command.

Without ``-f``/``--fail``/``--fail-with-body`` curl exits 0 on a 404 and writes the error page where the
tutorial expected YAML; that is why the rules care.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Short options that take a value (curl's manual); every other short option is a switch.
_SHORT_WITH_VALUE = frozenset("oHXduAemwxTFbcrEKDYyzCPQtU")
_LONG_WITH_VALUE = frozenset(
    {
        "output",
        "header",
        "request",
        "data",
        "data-raw",
        "data-binary",
        "data-urlencode",
        "user",
        "user-agent",
        "referer",
        "max-time",
        "connect-timeout",
        "write-out",
        "proxy",
        "upload-file",
        "form",
        "cookie",
        "cookie-jar",
        "range",
        "retry",
        "retry-delay",
        "retry-max-time",
        "cacert",
        "cert",
        "key",
        "config",
        "output-dir",
        "dump-header",
        "url",
        "resolve",
        "connect-to",
        "interface",
        "limit-rate",
        "json",
    }
)
_FAIL = frozenset({"fail", "fail-with-body"})


@dataclass(frozen=True)
class CurlCall:
    """A parsed curl command line."""

    argv: tuple[str, ...]
    urls: tuple[str, ...]
    output: str | None  # -o / --output target ("-" for stdout)
    remote_name: bool  # -O: saves under the URL's last segment
    fails_on_http_error: bool


def parse_curl(argv: Sequence[str]) -> CurlCall | None:
    """Parse ``argv`` when it is a curl command, else None."""
    if not argv or argv[0].rsplit("/", 1)[-1] != "curl":
        return None
    urls: list[str] = []
    output: str | None = None
    remote_name = False
    fails = False
    i = 1
    while i < len(argv):
        word = argv[i]
        if word.startswith("--") and len(word) > 2:
            name, sep, value = word[2:].partition("=")
            if name in _LONG_WITH_VALUE and not sep and i + 1 < len(argv):
                i += 1
                value = argv[i]
            if name in _FAIL:
                fails = True
            elif name == "output":
                output = value
            elif name == "url":
                urls.append(value)
            elif name == "remote-name":
                remote_name = True
        elif word.startswith("-") and len(word) > 1:
            letters = word[1:]
            for j, letter in enumerate(letters):
                if letter in _SHORT_WITH_VALUE:
                    value = letters[j + 1 :]
                    if not value and i + 1 < len(argv):
                        i += 1
                        value = argv[i]
                    if letter == "o":
                        output = value
                    break
                if letter == "f":
                    fails = True
                elif letter == "O":
                    remote_name = True
        else:
            urls.append(word)
        i += 1
    return CurlCall(tuple(argv), tuple(urls), output, remote_name, fails)
