"""--online: URLs are fetched from a local http.server on 127.0.0.1 (this machine has no internet)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.docs.fetch import Fetcher
from harness.docs.lint import LintOptions, lint_page
from harness.docs.page import parse_page

PROMISE = b"""apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: cache
spec:
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: caches.demo.acme.io}
    spec:
      group: demo.acme.io
      names: {kind: Cache, plural: caches, singular: cache}
      versions: [{name: v1}]
"""
ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/promise.yaml": (200, "application/yaml", PROMISE),
    "/missing.yaml": (404, "text/html; charset=utf-8", b"<!DOCTYPE html><html><body>Not Found</body></html>"),
    "/blob/promise.yaml": (200, "text/html; charset=utf-8", b"<!DOCTYPE html><html><body>a file viewer</body></html>"),
    "/broken.yaml": (200, "text/plain", b"key: [unclosed\n"),
    "/values.yaml": (200, "text/plain", b"replicas: 3\nsize: small\n"),
}


class _Handler(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:
        _Handler.requests.append(self.path)
        status, content_type, body = ROUTES.get(self.path, (404, "text/plain", b"no route"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


BAD = """# Online

```bash
kubectl apply -f {base}/missing.yaml
kubectl apply -f {base}/blob/promise.yaml
curl --fail -o broken.yaml {base}/broken.yaml
kubectl apply -f {base}/values.yaml
kubectl apply -f {base}/promise.yaml
kubectl delete promise cache-service
```
"""
GOOD = """# Online

```bash
kubectl apply -f {base}/promise.yaml
curl --fail -o promise.yaml {base}/promise.yaml
kubectl delete promise cache
```
"""


def _lint(text: str, base: str, online: bool = True, rules: frozenset[str] = frozenset()):
    page = parse_page(text.format(base=base), "online.md")
    return lint_page(page, LintOptions(online=online, timeout=5, select=rules))


def _rules(findings):
    return sorted((f.rule, f.line) for f in findings)


def test_non_2xx_answers_are_reported(server):
    findings = _lint(BAD, server, rules=frozenset({"URL003"}))
    assert _rules(findings) == [("URL003", 4)]
    assert "HTTP 404 (text/html" in findings[0].message


def test_bodies_that_are_not_what_the_command_expects_are_reported(server):
    findings = _lint(BAD, server, rules=frozenset({"URL004"}))
    assert _rules(findings) == [("URL004", 5), ("URL004", 6), ("URL004", 7)]
    messages = [f.message for f in findings]
    assert "returns an HTML page" in messages[0]
    assert findings[0].fix is not None
    assert "raw" in findings[0].fix
    assert "not YAML" in messages[1]
    assert "no Kubernetes object" in messages[2]


def test_fetched_manifests_join_the_page_catalog(server):
    findings = _lint(BAD, server, rules=frozenset({"NAME001"}))
    assert _rules(findings) == [("NAME001", 9)]
    assert "named cache" in findings[0].message


def test_good_urls_are_quiet(server):
    assert _lint(GOOD, server) == []


def test_offline_by_default_nothing_is_fetched(server):
    before = len(_Handler.requests)
    findings = _lint(BAD, server, online=False)
    assert not {f.rule for f in findings} & {"URL003", "URL004", "NAME001"}
    assert len(_Handler.requests) == before


def test_fetcher_reports_no_answer_with_a_timeout():
    result = Fetcher(timeout=1).get("http://127.0.0.1:9/never")  # discard port: nothing listens
    assert result.status is None
    assert not result.ok
    assert result.describe().startswith("no answer")
    assert Fetcher().get("ftp://example.invalid/x").error == "only http(s) URLs are fetched"


def test_fetcher_asks_each_url_once(server):
    fetcher = Fetcher(timeout=5)
    before = len(_Handler.requests)
    for _ in range(3):
        assert fetcher.get(f"{server}/promise.yaml").ok
    assert len(_Handler.requests) == before + 1
