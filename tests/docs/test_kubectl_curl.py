"""Reading kubectl and curl command lines."""

from __future__ import annotations

from harness.docs.curl import parse_curl
from harness.docs.kubectl import builtin_type, parse_kubectl


def test_kubectl_flags_aliases_and_values():
    call = parse_kubectl(
        ["kubectl", "--context=kind-platform", "apply", "-f", "a.yaml", "--filename", "b.yaml", "-n", "x"]
    )
    assert call is not None
    assert (call.verb, call.context, call.filenames, call.flag("namespace")) == (
        "apply",
        "kind-platform",
        ("a.yaml", "b.yaml"),
        "x",
    )


def test_kubectl_boolean_flags_do_not_swallow_the_next_word():
    call = parse_kubectl(["kubectl", "get", "pods", "--watch", "example-0", "-A"])
    assert call is not None
    assert call.has("watch")
    assert call.has("all-namespaces")
    assert [(r.type, r.name) for r in call.resources()] == [("pods", "example-0")]


def test_kubectl_resource_forms():
    def refs(*argv: str):
        call = parse_kubectl(["kubectl", *argv])
        assert call is not None
        return [(r.resource, r.group, r.name) for r in call.resources()]

    assert refs("delete", "promise", "postgresql") == [("promise", None, "postgresql")]
    assert refs("get", "postgresqls.workshop.kratix.io", "a", "b") == [
        ("postgresqls", "workshop.kratix.io", "a"),
        ("postgresqls", "workshop.kratix.io", "b"),
    ]
    assert refs("get", "pods,deployments") == [("pods", None, None), ("deployments", None, None)]
    assert refs("describe", "pod/x", "deploy/y") == [("pod", None, "x"), ("deploy", None, "y")]
    assert refs("logs", "-c", "scanner", "pods/p-1") == [("pods", None, "p-1")]
    assert refs("logs", "-f", "p-2") == [("pods", None, "p-2")]
    assert refs("delete", "promises", "--all") == [("promises", None, None)]
    assert refs("config", "get-contexts") == []


def test_logs_dash_f_means_follow():
    call = parse_kubectl(["kubectl", "logs", "-f", "pod/x"])
    assert call is not None
    assert call.has("follow")
    assert call.filenames == ()


def test_not_kubectl():
    assert parse_kubectl(["helm", "install"]) is None
    assert parse_kubectl([]) is None


def test_builtin_types_by_any_name():
    for name in ("pv", "persistentvolume", "persistentvolumes"):
        found = builtin_type(name)
        assert found is not None
        assert found.kind == "PersistentVolume"
    assert builtin_type("deployments", "apps") is not None
    assert builtin_type("deployments", "batch") is None
    assert builtin_type("promises") is None


def test_curl_fail_flags_and_outputs():
    combined = parse_curl(["curl", "-fsSLo", "x.yaml", "https://h.io/x.yaml"])
    assert combined is not None
    assert (combined.fails_on_http_error, combined.output, combined.urls) == (True, "x.yaml", ("https://h.io/x.yaml",))
    silent = parse_curl(["curl", "-o", "deps/op.yaml", "--silent", "https://h.io/op.yaml"])
    assert silent is not None
    assert not silent.fails_on_http_error
    assert silent.output == "deps/op.yaml"
    long_form = parse_curl(["curl", "--fail-with-body", "--output=o.yaml", "--url", "https://h.io/o"])
    assert long_form is not None
    assert long_form.fails_on_http_error
    assert long_form.urls == ("https://h.io/o",)
    headers = parse_curl(["curl", "-H", "Accept: x", "-sS", "https://h.io/a"])
    assert headers is not None
    assert headers.urls == ("https://h.io/a",)
    assert not headers.fails_on_http_error
    assert parse_curl(["wget", "x"]) is None
