"""harness.schema: CRD schemas validate with Kubernetes semantics; bad files are named with their line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.manifests import ManifestError, load_yaml_document, load_yaml_documents
from harness.schema import CrdValidator, apply_defaults

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["port"],
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {}},
                "items": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"n": {"type": "integer", "default": 1}}},
                },
                "mode": {"type": "string", "default": "fast", "enum": ["fast", "safe"]},
                "nested": {"type": "object", "default": {}, "properties": {"level": {"type": "integer", "default": 3}}},
            },
        }
    },
}


def violations(obj: dict[str, Any]) -> list[str]:
    return [str(v) for v in CrdValidator(SCHEMA).violations(obj)]


def test_root_fields_are_always_allowed() -> None:
    obj = {"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a", "labels": {"b": "c"}}, "spec": {"port": 1}}
    assert violations(obj) == []


@pytest.mark.parametrize("port", [8080, "http"])
def test_int_or_string_accepts_both(port: Any) -> None:
    assert violations({"spec": {"port": port}}) == []


def test_int_or_string_rejects_others() -> None:
    assert violations({"spec": {"port": 1.5}}) == ["spec.port: 1.5 is not of type 'integer', 'string'"]


def test_nullable_accepts_null() -> None:
    assert violations({"spec": {"port": 1, "note": None}}) == []


def test_preserve_unknown_fields_keeps_anything_and_strict_objects_reject_unknown() -> None:
    assert violations({"spec": {"port": 1, "extra": {"any": {"thing": [1]}}}}) == []
    assert violations({"spec": {"port": 1, "typo": True}}) == ["spec.typo: unknown field"]


def test_embedded_resource_allows_apiversion_kind_metadata() -> None:
    template = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    assert violations({"spec": {"port": 1, "template": template}}) == []


def test_missing_required_field_is_named_like_kubectl() -> None:
    assert violations({"spec": {}}) == ["spec.port: Required value"]


def test_map_values_and_list_items_have_paths() -> None:
    obj = {"spec": {"port": 1, "labels": {"a": 1}, "items": [{"n": 1}, {"n": "two"}]}}
    assert violations(obj) == [
        "spec.items[1].n: 'two' is not of type 'integer'",
        "spec.labels.a: 1 is not of type 'string'",
    ]


def test_validate_raises_naming_the_source() -> None:
    with pytest.raises(ManifestError, match=r"^req\.yaml is not a valid object: spec\.port: Required value$"):
        CrdValidator(SCHEMA).validate({"spec": {}}, source="req.yaml")


def test_defaults_apply_to_missing_fields_recursively_and_never_overwrite() -> None:
    obj = {"spec": {"port": 1, "mode": "safe", "items": [{}, {"n": 5}]}}

    defaulted = apply_defaults(SCHEMA, obj)

    assert defaulted["spec"]["mode"] == "safe"
    assert defaulted["spec"]["items"] == [{"n": 1}, {"n": 5}]
    assert defaulted["spec"]["nested"] == {"level": 3}
    assert obj["spec"]["items"] == [{}, {"n": 5}]  # the input is not modified


def test_crd_version_selection() -> None:
    crd = {
        "metadata": {"name": "things.example.com"},
        "spec": {"versions": [{"name": "v1", "storage": True, "schema": {"openAPIV3Schema": SCHEMA}}]},
    }
    assert CrdValidator.for_crd(crd).violations({"spec": {"port": 1}}) == []
    with pytest.raises(ManifestError, match=r"things\.example\.com: no version 'v2' \(has v1\)"):
        CrdValidator.for_crd(crd, "v2")


def test_unparseable_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "promise.yaml"
    path.write_text("apiVersion: v1\nkind: Promise\nmetadata:\n  name: [oops\nspec: {}\n")

    with pytest.raises(ManifestError, match=rf"^{path}:5:\d+: invalid YAML: "):
        load_yaml_documents(path)


def test_non_mapping_document_is_named(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("---\na: 1\n---\n- just\n- a list\n")

    with pytest.raises(ManifestError, match=r"list\.yaml: document 2 is a list, not a mapping"):
        load_yaml_documents(path)


def test_single_document_files(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(ManifestError, match="expected one YAML document, found 2"):
        load_yaml_document(path)
    with pytest.raises(ManifestError, match="cannot read"):
        load_yaml_document(tmp_path / "missing.yaml")
