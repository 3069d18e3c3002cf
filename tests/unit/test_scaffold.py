from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from harness import scaffold as sc

FIXTURES = Path(__file__).parent / "fixtures" / "scaffold"
REPO = Path(__file__).resolve().parents[2]
DATABASE = REPO / "promises" / "database"
API = sc.PromiseApi(name="database", group="demo.kratix.io", kind="Database")
DEPS_IMAGE = "kratix-guide/database-promise-pipeline:v0.1.0"
RESOURCE_IMAGE = "kratix-guide/database-resource-pipeline:v0.1.0"


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def _edit_promise(root: Path, edit) -> None:
    path = root / "promise.yaml"
    promise = yaml.safe_load(path.read_text())
    edit(promise)
    path.write_text(yaml.safe_dump(promise))


def _resource_container(root: Path, **overrides):
    args = {"lifecycle": "resource", "action": "configure", "pipeline": "database-configure", "image": RESOURCE_IMAGE,
            "language": "python"}
    return sc.check_container(root, **{**args, **overrides})


# -- the API asked for -----------------------------------------------------------------------------------


def test_api_defaults_follow_the_cli():
    assert API.plural_name == "databases"
    assert API.crd_name == "databases.demo.kratix.io"
    assert API.api_version == "demo.kratix.io/v1alpha1"
    assert API.example_name == "example-database"
    assert sc.PromiseApi("x", "g.io", "Thing", plural="thingies").crd_name == "thingies.g.io"


@pytest.mark.parametrize(("image", "name"), [
    ("kratix-guide/database-resource-pipeline:v0.1.0", "kratix-guide-database-resource-pipeline"),
    ("kratix-workshop/app-pipeline-image:v1.0.0", "kratix-workshop-app-pipeline-image"),
    ("ghcr.io/syntasso/scanner:v2", "ghcr-io-syntasso-scanner"),
    ("plain", "plain"),
    ("registry:5000/team/img@sha256:abc", "registry:5000-team-img"),
])
def test_container_name_follows_the_cli_rule(image, name):
    assert sc.container_name_for(image) == name


# -- kratix init promise ------------------------------------------------------------------------------


def test_init_output_as_documented_passes():
    assert sc.check_init(FIXTURES / "after-init", API) == []


def test_init_names_each_wrong_field(tmp_path):
    root = _copy("after-init", tmp_path)

    def edit(promise):
        promise["metadata"]["labels"] = {}
        promise["spec"]["api"]["spec"]["group"] = "demo.example.io"
        promise["spec"]["api"]["spec"]["scope"] = "Cluster"

    _edit_promise(root, edit)
    differences = sc.check_init(root, API)
    assert "promise.yaml: metadata.labels.kratix.io/promise-version is None, expected 'v0.0.1'" in differences
    assert 'promise.yaml: spec.api.spec.group is "demo.example.io", expected "demo.kratix.io"' in differences
    assert 'promise.yaml: spec.api.spec.scope is "Cluster", expected "Namespaced"' in differences
    assert len(differences) == 3


def test_init_wants_no_pipelines_no_properties_and_no_split_files(tmp_path):
    root = _copy("complete", tmp_path)
    (root / "api.yaml").write_text("{}\n")
    differences = sc.check_init(root, API)
    assert "api.yaml: present, but it is only written with --split" in differences
    assert "promise.yaml: the spec schema has properties ['size'], expected none after init" in differences
    assert ("promise.yaml: spec.workflows has pipelines ['promise/configure', 'resource/configure'], "
            "expected none after init") in differences


def test_init_reports_missing_files(tmp_path):
    root = _copy("after-init", tmp_path)
    (root / "README.md").unlink()
    (root / "example-resource.yaml").unlink()
    assert sc.check_init(root, API) == ["example-resource.yaml: missing", "README.md: missing"]


def test_example_must_be_the_generated_one(tmp_path):
    root = _copy("after-init", tmp_path)
    (root / "example-resource.yaml").write_text(
        "apiVersion: demo.kratix.io/v1\nkind: Database\nmetadata:\n  name: my-db\n  namespace: default\n")
    assert sc.check_example(root, API) == [
        'example-resource.yaml: apiVersion is "demo.kratix.io/v1", expected "demo.kratix.io/v1alpha1"',
        'example-resource.yaml: metadata.name is "my-db", expected "example-database"',
        "example-resource.yaml: metadata.namespace is 'default', expected none",
    ]


def test_invalid_yaml_is_one_line_naming_file_and_line(tmp_path):
    root = _copy("after-init", tmp_path)
    (root / "promise.yaml").write_text("kind: Promise\nmetadata: [unclosed\n")
    with pytest.raises(sc.ScaffoldError) as info:
        sc.check_init(root, API)
    message = str(info.value)
    assert message.startswith(f"{root / 'promise.yaml'}:")
    assert "invalid YAML" in message
    assert "\n" not in message


# -- kratix update api ----------------------------------------------------------------------------------------


def test_property_as_documented_passes():
    assert sc.check_property(FIXTURES / "after-update-api", API, "size", "string") == []


def test_property_of_another_type_or_missing_is_named():
    assert sc.check_property(FIXTURES / "after-update-api", API, "size", "integer") == [
        "promise.yaml: spec property 'size' has type 'string', expected 'integer' (the spec schema has "
        "{'size': 'string'})"
    ]
    assert sc.check_property(FIXTURES / "after-init", API, "size", "string") == [
        "promise.yaml: spec property 'size' has type missing, expected 'string' (the spec schema has no properties)"
    ]


def test_dotted_property_is_nested(tmp_path):
    root = _copy("after-update-api", tmp_path)

    def edit(promise):
        spec = promise["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        spec["properties"]["backup"] = {"type": "object", "properties": {"enabled": {"type": "boolean"}}}

    _edit_promise(root, edit)
    assert sc.check_property(root, API, "backup.enabled", "boolean") == []


# -- kratix update dependencies --image ------------------------------------------------------------------


def test_dependencies_workflow_as_documented_passes():
    root = FIXTURES / "complete"
    assert sc.check_dependencies_workflow(root, root / "deps", DEPS_IMAGE) == []


def test_dependencies_workflow_names_each_difference(tmp_path):
    root = _copy("complete", tmp_path)
    container = root / "workflows/promise/configure/dependencies/configure-deps"
    (container / "scripts/pipeline.sh").write_text("#!/bin/sh\necho nothing\n")
    (container / "resources/operator.yaml").write_text("changed: true\n")
    (container / "resources/extra.yaml").write_text("extra: true\n")
    (root / "deps/postgresteam.crd.yaml").write_text("kind: CustomResourceDefinition\n")

    def edit(promise):
        promise["spec"]["dependencies"] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}]

    _edit_promise(root, edit)
    rel = "workflows/promise/configure/dependencies/configure-deps"
    assert sc.check_dependencies_workflow(root, root / "deps", "other/image:v1") == [
        "promise.yaml: spec.workflows.promise.configure: container 'configure-deps' runs "
        "'kratix-guide/database-promise-pipeline:v0.1.0', expected 'other/image:v1'",
        "promise.yaml: spec.dependencies has 1 objects, expected none (they move into the configure-deps image)",
        f"{rel}/scripts/pipeline.sh: does not run 'cp /resources/* /kratix/output'",
        f"{rel}/resources/postgresteam.crd.yaml: missing (it is in deps/)",
        f"{rel}/resources/extra.yaml: not in deps/",
        f"{rel}/resources/operator.yaml: differs from deps/operator.yaml",
    ]


def test_dependencies_pipeline_missing_is_named():
    root = FIXTURES / "after-update-api"
    differences = sc.check_dependencies_workflow(root, FIXTURES / "complete" / "deps", DEPS_IMAGE)
    assert differences[0] == ("promise.yaml: spec.workflows.promise.configure: no pipeline 'dependencies' "
                              "(pipelines: none)")


# -- kratix add container ----------------------------------------------------------------------------------------


def test_python_container_as_documented_passes():
    assert _resource_container(FIXTURES / "complete") == []


def test_deviating_fixture_fails_naming_the_container():
    root = FIXTURES / "deviating"
    rel = "workflows/resource/configure/database-configure/kratix-guide-database-resource-pipeline"
    differences = _resource_container(root)
    assert differences == [
        "promise.yaml: spec.workflows.resource.configure: pipeline 'database-configure' has no container "
        "'kratix-guide-database-resource-pipeline' (containers: ['database-resource-pipeline'])",
        f"{rel}/Dockerfile: missing",
        f"{rel}/scripts/pipeline.py: missing",
        f"{rel}/resources/: missing",
    ]
    with pytest.raises(sc.ScaffoldMismatch) as info:
        sc.require("kratix add container output", differences)
    assert "4 difference(s)" in str(info.value)
    assert "has no container 'kratix-guide-database-resource-pipeline'" in str(info.value)


def test_python_dockerfile_differences_are_named(tmp_path):
    root = _copy("complete", tmp_path)
    rel = "workflows/resource/configure/database-configure/kratix-guide-database-resource-pipeline"
    (root / rel / "Dockerfile").write_text("FROM python:3.13\nCOPY scripts/pipeline.py /pipeline.py\nCMD python\n")
    (root / rel / "scripts/pipeline.py").write_text("print('hello')\n")
    assert _resource_container(root) == [
        f"{rel}/Dockerfile: base image is python:3.13, expected python:3.12-slim",
        f"{rel}/Dockerfile: no RUN step installs the Kratix SDK with pip",
        f"{rel}/Dockerfile: scripts/pipeline.py is not copied to /app/pipeline.py",
        f"{rel}/Dockerfile: ENTRYPOINT is None, expected ['python', '-u', '/app/pipeline.py']",
        f"{rel}/scripts/pipeline.py: does not use the Kratix Python SDK (kratix_sdk.KratixSDK)",
    ]


def test_wrong_image_and_pipeline_are_named():
    root = FIXTURES / "complete"
    assert _resource_container(root, image="kratix-guide/database-resource-pipeline:v0.2.0",
                               name="kratix-guide-database-resource-pipeline") == [
        "promise.yaml: spec.workflows.resource.configure: container 'kratix-guide-database-resource-pipeline' runs "
        "'kratix-guide/database-resource-pipeline:v0.1.0', expected 'kratix-guide/database-resource-pipeline:v0.2.0'"
    ]
    assert _resource_container(root, pipeline="instance")[0] == (
        "promise.yaml: spec.workflows.resource.configure: no pipeline 'instance' (pipelines: ['database-configure'])"
    )


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown language 'rust'"):
        _resource_container(FIXTURES / "complete", language="rust")


# -- against promises/database --------------------------------------------------------------------------------


def test_complete_scaffold_has_the_structure_of_the_database_promise():
    assert sc.compare_structure(FIXTURES / "complete", DATABASE) == []


def test_deviating_scaffold_differs_from_the_database_promise_by_its_container():
    differences = sc.compare_structure(FIXTURES / "deviating", DATABASE)
    base = "workflows/resource/configure/database-configure"
    assert differences == [
        "promise.yaml: spec.workflows.resource.configure is database-configure[database-resource-pipeline="
        f"{RESOURCE_IMAGE}] in the scaffold, database-configure[kratix-guide-database-resource-pipeline="
        f"{RESOURCE_IMAGE}] in database",
        f"{base}/database-resource-pipeline/: in the scaffold, not in database",
        f"{base}/kratix-guide-database-resource-pipeline/: in database, not in the scaffold",
    ]


def test_structure_ignores_formatting_readme_resources_and_example_values(tmp_path):
    root = _copy("complete", tmp_path)
    (root / "README.md").unlink()
    (root / "example-resource.yaml").write_text(
        "# edited as the guide says\napiVersion: demo.kratix.io/v1alpha1\nkind: Database\n"
        "metadata: {name: example-database}\nspec: {size: 1Gi}\n")
    _edit_promise(root, lambda promise: promise.pop("status"))
    (root / "workflows/promise/configure/dependencies/configure-deps/resources/operator.yaml").unlink()
    cache = root / "workflows/resource/configure/database-configure/kratix-guide-database-resource-pipeline/scripts"
    (cache / "__pycache__").mkdir()
    (cache / "__pycache__" / "pipeline.cpython-311.pyc").write_bytes(b"\0")
    assert sc.compare_structure(root, DATABASE) == []


def test_structure_names_api_and_file_differences(tmp_path):
    root = _copy("complete", tmp_path)

    def edit(promise):
        spec = promise["spec"]["api"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        spec["properties"]["size"]["type"] = "integer"
        promise["spec"]["api"]["spec"]["names"]["plural"] = "dbs"

    _edit_promise(root, edit)
    (root / "workflows/promise/configure/dependencies/configure-deps/scripts/pipeline.sh").unlink()
    (root / "notes.txt").write_text("mine\n")
    differences = sc.compare_structure(root, DATABASE)
    assert differences == [
        'promise.yaml: spec.api.spec.names is {"kind": "Database", "plural": "dbs", "singular": "database"} in the '
        'scaffold, {"kind": "Database", "plural": "databases", "singular": "database"} in database',
        'promise.yaml: spec properties of v1alpha1 is {"size": "integer"} in the scaffold, {"size": "string"} in '
        "database",
        "workflows/promise/configure/dependencies/configure-deps/scripts/pipeline.sh: in database, not in the scaffold",
        "notes.txt: in the scaffold, not in database",
    ]
