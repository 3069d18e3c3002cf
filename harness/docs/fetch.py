"""Fetch a URL a page names (``--online`` only): urllib with a timeout, one request per URL per run."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field

_USER_AGENT = "kratix-docs-check/1 (+https://github.com/syntasso/kratix-docs)"
_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<!--", b"<body")


@dataclass(frozen=True)
class FetchResult:
    """What a GET returned (``status`` None when no HTTP answer came: DNS, refused, timeout)."""

    url: str
    status: int | None
    content_type: str
    body: bytes
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def looks_like_html(self) -> bool:
        """True for an HTML page (a login wall, a 404 page, GitHub's blob view of a file)."""
        return "html" in self.content_type.lower() or self.body.lstrip()[:15].lower().startswith(_HTML_START)

    def describe(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        kind = self.content_type or "no content type"
        return f"HTTP {self.status} ({kind}, {len(self.body)} bytes)"


@dataclass
class Fetcher:
    """GETs URLs with a timeout; remembers answers so a URL named twice is fetched once."""

    timeout: float = 10.0
    max_bytes: int = 8 * 1024 * 1024
    _cache: dict[str, FetchResult] = field(default_factory=dict, repr=False)

    def get(self, url: str) -> FetchResult:
        if url not in self._cache:
            self._cache[url] = self._get(url)
        return self._cache[url]

    def _get(self, url: str) -> FetchResult:
        if not url.lower().startswith(("http://", "https://")):
            return FetchResult(url, None, "", b"", "only http(s) URLs are fetched")
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read(self.max_bytes)
                return FetchResult(url, response.status, response.headers.get("Content-Type", ""), body)
        except urllib.error.HTTPError as exc:
            body = exc.read(self.max_bytes) if exc.fp is not None else b""
            return FetchResult(url, exc.code, exc.headers.get("Content-Type", "") if exc.headers else "", body)
        except urllib.error.URLError as exc:
            return FetchResult(url, None, "", b"", str(exc.reason))
        except TimeoutError:
            return FetchResult(url, None, "", b"", f"timed out after {self.timeout:g}s")
        except (OSError, ValueError) as exc:
            return FetchResult(url, None, "", b"", str(exc))
