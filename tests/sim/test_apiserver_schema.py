"""Custom resource admission on the emulated kube-apiserver: defaulting, pruning and schema validation.

The hand-written CRD mirrors the shape of the workshop's high-level postgresql API (size pattern, required
requester, defaults) and adds one field per schema feature; the Zalando CRD is the real upstream file.
"""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from harness.sim.apiserver import SimApiServer, write_kubeconfig

pytestmark = pytest.mark.sim

GROUP, VERSION, PLURAL = "workshop.kratix.io", "v1", "postgresqls"
UPSTREAM = Path(__file__).resolve().parents[2].parent / "shared" / "upstream"
ZALANDO = UPSTREAM / "zalando-postgres-operator-v2.0.1"

SPEC_SCHEMA = {
    "type": "object",
    "required": ["requester"],
    "properties": {
        "size": {"type": "string", "default": "small", "pattern": "^(small|medium|large)$"},
        "dbName": {"type": "string", "default": "postgres"},
        "requester": {"type": "string"},
        "tier": {"type": "string", "enum": ["gold", "silver"]},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
        "ratio": {"type": "number"},
        "port": {"x-kubernetes-int-or-string": True},
        "note": {"type": "string", "nullable": True},
        "createdAt": {"type": "string", "format": "date-time"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "backup": {
            "type": "object",
            "default": {},
            "properties": {
                "enabled": {"type": "boolean", "default": False},
                "schedule": {"type": "string", "default": "@daily"},
            },
        },
        "users": {
            "type": "array",
            "maxItems": 2,
            "items": {"type": "object", "required": ["name"],
                      "properties": {"name": {"type": "string", "maxLength": 8},
                                     "role": {"type": "string", "default": "reader"}}},
        },
    },
}
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "postgresql", "kind": "postgresql", "listKind": "postgresqlList"},
        "versions": [{
            "name": VERSION, "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": SPEC_SCHEMA,
                    "status": {"type": "object", "properties": {
                        "message": {"type": "string"}, "readyReplicas": {"type": "integer"}}},
                },
            }},
        }],
    },
}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with SimApiServer("schema") as srv:
        path = tmp_path_factory.mktemp("kube") / "config"
        write_kubeconfig(path, {"sim-platform": srv.url})
        client = kubernetes.config.new_client_from_config(config_file=str(path), context="sim-platform")
        kubernetes.client.ApiextensionsV1Api(client).create_custom_resource_definition(CRD)
        yield client


@pytest.fixture(scope="module")
def custom(api):
    return kubernetes.client.CustomObjectsApi(api)


_counter = iter(range(1_000_000))


def _request(name: str | None = None, **spec) -> dict:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "postgresql",
            "metadata": {"name": name or f"pg-{next(_counter)}"}, "spec": spec}


def _create(custom, body: dict, **kwargs) -> dict:
    return custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body, **kwargs)


def _rejected(custom, body: dict, **kwargs) -> tuple[int, dict]:
    with pytest.raises(ApiException) as caught:
        _create(custom, body, **kwargs)
    return caught.value.status, yaml.safe_load(caught.value.body)


def test_defaults_are_applied_including_nested(custom):
    made = _create(custom, _request(requester="ann", users=[{"name": "bob"}]))
    assert made["spec"]["size"] == "small"
    assert made["spec"]["dbName"] == "postgres"
    assert made["spec"]["replicas"] == 1
    assert made["spec"]["backup"] == {"enabled": False, "schedule": "@daily"}  # parent defaulted, then its fields
    assert made["spec"]["users"] == [{"name": "bob", "role": "reader"}]


def test_explicit_values_win_over_defaults(custom):
    made = _create(custom, _request(requester="ann", size="large", backup={"enabled": True}))
    assert made["spec"]["size"] == "large"
    assert made["spec"]["backup"] == {"enabled": True, "schedule": "@daily"}


def test_unknown_fields_are_pruned_with_a_warning(custom):
    body = _request(requester="ann", dockerImage="spilo", extra={"anything": {"goes": [1, 2]}})
    body["topLevel"] = "dropped"
    made, _, headers = custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, "default", PLURAL, body)
    assert "dockerImage" not in made["spec"]
    assert "topLevel" not in made
    assert made["spec"]["extra"] == {"anything": {"goes": [1, 2]}}  # x-kubernetes-preserve-unknown-fields
    assert 'unknown field \\"spec.dockerImage\\"' in headers["Warning"]


def test_strict_field_validation_rejects_unknown_fields(custom):
    code, status = _rejected(custom, _request(requester="ann", teamId="acid", dockerImage="spilo"),
                             field_validation="Strict")
    assert (code, status["reason"]) == (400, "BadRequest")
    assert status["message"] == 'strict decoding error: unknown field "spec.dockerImage", unknown field "spec.teamId"'


def test_pattern_violation_is_worded_like_the_real_server(custom):
    code, status = _rejected(custom, _request("example", requester="ann", size="tiny"))
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        'postgresql.workshop.kratix.io "example" is invalid: spec.size: Invalid value: "tiny": '
        "spec.size in body should match '^(small|medium|large)$'")
    assert status["details"]["name"] == "example"
    assert status["details"]["group"] == GROUP
    assert status["details"]["kind"] == "postgresql"
    assert status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.size",
        "message": "Invalid value: \"tiny\": spec.size in body should match '^(small|medium|large)$'"}]


def test_missing_required_field(custom):
    code, status = _rejected(custom, _request("example", size="small"))
    assert code == 422
    assert status["message"] == 'postgresql.workshop.kratix.io "example" is invalid: spec.requester: Required value'
    assert status["details"]["causes"] == [
        {"reason": "FieldValueRequired", "field": "spec.requester", "message": "Required value"}]


def test_several_errors_are_listed_together(custom):
    _, status = _rejected(custom, _request("example", size="tiny", tier="bronze"))
    assert status["message"] == (
        'postgresql.workshop.kratix.io "example" is invalid: ['
        "spec.requester: Required value, "
        "spec.size: Invalid value: \"tiny\": spec.size in body should match '^(small|medium|large)$', "
        'spec.tier: Unsupported value: "bronze": supported values: "gold", "silver"]')
    reasons = {c["field"]: c["reason"] for c in status["details"]["causes"]}
    assert reasons == {"spec.requester": "FieldValueRequired", "spec.size": "FieldValueInvalid",
                       "spec.tier": "FieldValueNotSupported"}


@pytest.mark.parametrize(("spec", "field", "reason", "message"), [
    ({"replicas": "3"}, "spec.replicas", "FieldValueTypeInvalid",
     'Invalid value: "string": spec.replicas in body must be of type integer: "string"'),
    ({"replicas": 2.5}, "spec.replicas", "FieldValueTypeInvalid",
     'Invalid value: "number": spec.replicas in body must be of type integer: "number"'),
    ({"replicas": 0}, "spec.replicas", "FieldValueInvalid",
     "Invalid value: 0: spec.replicas in body should be greater than or equal to 1"),
    ({"replicas": 9}, "spec.replicas", "FieldValueInvalid",
     "Invalid value: 9: spec.replicas in body should be less than or equal to 5"),
    ({"ratio": "high"}, "spec.ratio", "FieldValueTypeInvalid",
     'Invalid value: "string": spec.ratio in body must be of type number: "string"'),
    ({"port": True}, "spec.port", "FieldValueTypeInvalid",
     'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'),
    ({"note": 5}, "spec.note", "FieldValueTypeInvalid",
     'Invalid value: "integer": spec.note in body must be of type string: "integer"'),
    ({"createdAt": "yesterday"}, "spec.createdAt", "FieldValueTypeInvalid",
     'Invalid value: "yesterday": spec.createdAt in body must be of type date-time: "yesterday"'),
    ({"labels": {"team": 7}}, "spec.labels.team", "FieldValueTypeInvalid",
     'Invalid value: "integer": spec.labels.team in body must be of type string: "integer"'),
    ({"users": [{"role": "x"}]}, "spec.users[0].name", "FieldValueRequired", "Required value"),
    ({"users": [{"name": "much-too-long"}]}, "spec.users[0].name", "FieldValueTooLong",
     "Too long: may not be more than 8 bytes"),
    ({"users": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}, "spec.users", "FieldValueTooMany",
     "Too many: 3: must have at most 2 items"),
])
def test_constraint_violations(custom, spec, field, reason, message):
    _, status = _rejected(custom, _request(requester="ann", **spec))
    assert status["details"]["causes"] == [{"reason": reason, "field": field, "message": message}]


def test_accepted_edge_values(custom):
    made = _create(custom, _request(requester="ann", port=5432, note=None, ratio=1,
                                    createdAt="2025-01-01T00:00:00Z", labels={"team": "a"}))
    assert made["spec"]["port"] == 5432
    assert made["spec"]["note"] is None  # nullable keeps an explicit null
    assert made["spec"]["ratio"] == 1  # an integer is a number
    assert _create(custom, _request(requester="ann", port="pg"))["spec"]["port"] == "pg"


def test_updates_are_validated_too(custom):
    made = _create(custom, _request(requester="ann"))
    name = made["metadata"]["name"]
    with pytest.raises(ApiException) as patched:
        custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, name, {"spec": {"size": "huge"}})
    assert patched.value.status == 422
    replaced = copy.deepcopy(made)
    del replaced["spec"]["requester"]
    with pytest.raises(ApiException) as put:
        custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, name, replaced)
    assert "spec.requester: Required value" in yaml.safe_load(put.value.body)["message"]


def test_status_is_validated_on_status_writes_only(custom):
    made = _create(custom, _request(requester="ann"))
    name = made["metadata"]["name"]
    written = custom.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, name,
                                                          {"status": {"message": "ok", "readyReplicas": 1}})
    assert written["status"] == {"message": "ok", "readyReplicas": 1}
    with pytest.raises(ApiException) as bad:
        custom.patch_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, name,
                                                     {"status": {"readyReplicas": "one"}})
    assert yaml.safe_load(bad.value.body)["details"]["causes"][0]["field"] == "status.readyReplicas"
    ignored = custom.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, name,
                                                    {"status": {"readyReplicas": "not even checked"}})
    assert ignored["status"] == {"message": "ok", "readyReplicas": 1}


def test_object_names_must_be_dns_subdomains(custom):
    _, status = _rejected(custom, _request("Not_Valid", requester="ann"))
    assert status["message"].startswith(
        'postgresql.workshop.kratix.io "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid": '
        "a lowercase RFC 1123 subdomain")


@pytest.mark.upstream
def test_zalando_postgresql_crd_from_upstream(api):
    crd_file = ZALANDO / "postgresql.crd.yaml"
    if not crd_file.exists():
        pytest.skip(f"upstream data not available: {crd_file} (needs ../shared/upstream beside the repo)")
    crd = yaml.safe_load(crd_file.read_text())
    kubernetes.client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    custom = kubernetes.client.CustomObjectsApi(api)
    minimal = yaml.safe_load((ZALANDO / "minimal-postgres-manifest.yaml").read_text())
    made = custom.create_namespaced_custom_object("acid.zalan.do", "v1", "default", "postgresqls", minimal)
    assert made["spec"]["teamId"] == minimal["spec"]["teamId"]
    assert made["spec"]["volume"]["size"] == minimal["spec"]["volume"]["size"]
    complete = yaml.safe_load((ZALANDO / "complete-postgres-manifest.yaml").read_text())
    custom.create_namespaced_custom_object("acid.zalan.do", "v1", "default", "postgresqls", complete)

    broken = copy.deepcopy(minimal)
    broken["metadata"]["name"] = "acid-broken"
    broken["spec"]["volume"]["size"] = "big"
    broken["spec"]["numberOfInstances"] = -1
    del broken["spec"]["teamId"]
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object("acid.zalan.do", "v1", "default", "postgresqls", broken)
    status = yaml.safe_load(caught.value.body)
    fields = {c["field"]: c["reason"] for c in status["details"]["causes"]}
    assert fields == {"spec.numberOfInstances": "FieldValueInvalid", "spec.teamId": "FieldValueRequired",
                      "spec.volume.size": "FieldValueInvalid"}
    assert status["message"].startswith('postgresql.acid.zalan.do "acid-broken" is invalid: [')
    assert "spec.volume.size in body should match '^(\\d+(e\\d+)?|\\d+(\\.\\d+)?(e\\d+)?[EPTGMK]i?)$'" in (
        status["message"])


@pytest.mark.upstream
def test_kratix_crds_from_upstream_keep_pipelines_and_the_embedded_api(api):
    crd_dir = UPSTREAM / "kratix-crds"
    if not crd_dir.is_dir():
        pytest.skip(f"upstream data not available: {crd_dir} (needs ../shared/upstream beside the repo)")
    ext = kubernetes.client.ApiextensionsV1Api(api)
    for crd_file in sorted(crd_dir.glob("*.yaml")):
        made = ext.create_custom_resource_definition(yaml.safe_load(crd_file.read_text()))
        assert {c.type for c in made.status.conditions} == {"NamesAccepted", "Established"}, crd_file.name
    pipeline = {"apiVersion": "platform.kratix.io/v1alpha1", "kind": "Pipeline",
                "metadata": {"name": "instance-configure"},
                "spec": {"containers": [{"name": "step", "image": "example/step:v1"}]}}
    promise = {
        "apiVersion": "platform.kratix.io/v1alpha1", "kind": "Promise", "metadata": {"name": "widget"},
        "spec": {"api": copy.deepcopy(CRD), "workflows": {"resource": {"configure": [pipeline]}}},
    }
    made = kubernetes.client.CustomObjectsApi(api).create_cluster_custom_object(
        "platform.kratix.io", "v1alpha1", "promises", promise, field_validation="Strict")
    # Arrays under x-kubernetes-preserve-unknown-fields keep their items whole; the embedded CRD too.
    assert made["spec"]["workflows"]["resource"]["configure"] == [pipeline]
    assert made["spec"]["api"] == CRD


def test_custom_resources_need_a_resource_version_on_put(custom):
    made = _create(custom, _request(requester="ann"))
    name = made["metadata"]["name"]
    unconditional = copy.deepcopy(made)
    del unconditional["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as caught:
        custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, name, unconditional)
    assert yaml.safe_load(caught.value.body)["message"] == (
        f'postgresql.workshop.kratix.io "{name}" is invalid: '
        "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update")
    made["spec"]["size"] = "medium"
    replaced = custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, name, made)
    assert replaced["metadata"]["generation"] == 2


def test_without_a_status_subresource_status_is_ordinary_content(api):
    crd = copy.deepcopy(CRD)
    crd["metadata"]["name"] = f"plainstatuses.{GROUP}"
    crd["spec"]["names"] = {"plural": "plainstatuses", "singular": "plainstatus", "kind": "PlainStatus"}
    del crd["spec"]["versions"][0]["subresources"]
    kubernetes.client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    custom = kubernetes.client.CustomObjectsApi(api)
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PlainStatus", "metadata": {"name": "p"},
            "spec": {"requester": "ann"}, "status": {"message": "kept on create"}}
    made = custom.create_namespaced_custom_object(GROUP, VERSION, "default", "plainstatuses", body)
    assert made["status"] == {"message": "kept on create"}
    patched = custom.patch_namespaced_custom_object(GROUP, VERSION, "default", "plainstatuses", "p",
                                                    {"status": {"message": "changed"}})
    assert patched["status"] == {"message": "changed"}
    assert patched["metadata"]["generation"] == 2
