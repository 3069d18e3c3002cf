"""Resource configure pipeline of postgres-full (kratix-workshop/postgresql-configure-pipeline:v0.1.0).

The request's spec is already a Zalando `postgresql` spec: copy it verbatim into an `acid.zalan.do/v1`
`postgresql` of the same name and namespace.
"""

from __future__ import annotations

import sys
from typing import Any

import kratix_sdk as ks
import yaml

OUTPUT_FILE = "postgresql.yaml"
# Fields the operator requires; checked here too so a request that slipped past the API fails by name.
REQUIRED_FIELDS = ("spec.teamId", "spec.numberOfInstances", "spec.volume.size", "spec.postgresql.version")


class InvalidRequest(ValueError):
    """The request cannot be turned into a Postgres cluster."""


def build_manifest(resource: ks.Resource) -> dict[str, Any]:
    """The Zalando manifest for one request."""
    name = resource.get_name()
    if not name:
        raise InvalidRequest("metadata.name is missing")
    spec = resource.get_value("spec", default=None)
    if not isinstance(spec, dict):
        raise InvalidRequest("spec is missing or not a mapping")
    missing = [f for f in REQUIRED_FIELDS if resource.get_value(f, default=None) is None]
    if missing:
        raise InvalidRequest(f"required field(s) missing: {', '.join(missing)}")
    return {
        "apiVersion": "acid.zalan.do/v1",
        "kind": "postgresql",
        "metadata": {"name": name, "namespace": resource.get_namespace() or "default"},
        "spec": spec,
    }


def main() -> int:
    sdk = ks.KratixSDK()
    resource = sdk.read_resource_input()
    try:
        manifest = build_manifest(resource)
    except InvalidRequest as exc:
        print(f"postgresql-configure-pipeline: invalid request {resource.get_name() or '<unnamed>'}: {exc}")
        return 1
    sdk.write_output(OUTPUT_FILE, yaml.safe_dump(manifest, sort_keys=False).encode("utf-8"))
    meta = manifest["metadata"]
    print(f"postgresql-configure-pipeline: wrote {OUTPUT_FILE}: postgresql {meta['namespace']}/{meta['name']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
