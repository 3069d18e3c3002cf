"""Resource configure pipeline of promise-clean (kratix-workshop/postgresql-configure-pipeline:v0.2.0).

Turns the high-level request {size, dbName, requester} into the organisation's standard Zalando cluster:
team `acid`, name `acid-<request>-postgresql`, one owner role, logical backup off, and a volume and
instance count per size. Writes the instance name and size to the request's status.
"""

from __future__ import annotations

import sys
from typing import Any

import kratix_sdk as ks
import yaml

OUTPUT_FILE = "postgres-instance.yaml"
TEAM = "acid"
# Must be a major version the pinned operator's default image runs (v2.0.1: spilo-18, default "18").
POSTGRES_VERSION = "18"
SIZES: dict[str, tuple[str, int]] = {"small": ("1Gi", 1), "medium": ("5Gi", 3), "large": ("10Gi", 5)}


class InvalidRequest(ValueError):
    """The request cannot be turned into a Postgres cluster."""


def build_manifest(resource: ks.Resource) -> dict[str, Any]:
    """The Zalando manifest for one request (API defaults applied again in case they were not)."""
    name = resource.get_name()
    if not name:
        raise InvalidRequest("metadata.name is missing")
    size = resource.get_value("spec.size", default="small")
    if size not in SIZES:
        raise InvalidRequest(f"spec.size: unknown size {size!r} (expected one of {', '.join(SIZES)})")
    requester = resource.get_value("spec.requester", default=None)
    if not isinstance(requester, str) or not requester.strip():
        raise InvalidRequest("spec.requester is required")
    db_name = resource.get_value("spec.dbName", default="postgres")
    if not isinstance(db_name, str) or not db_name.strip():
        raise InvalidRequest("spec.dbName must be a non-empty string")
    volume, instances = SIZES[size]
    return {
        "apiVersion": "acid.zalan.do/v1",
        "kind": "postgresql",
        "metadata": {"name": f"{TEAM}-{name}-postgresql", "namespace": resource.get_namespace() or "default"},
        "spec": {
            "teamId": TEAM,
            "numberOfInstances": instances,
            "volume": {"size": volume},
            "users": {TEAM: ["superuser", "createdb"]},
            "databases": {db_name: TEAM},
            "postgresql": {"version": POSTGRES_VERSION},
            "enableLogicalBackup": False,
        },
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

    spec = manifest["spec"]
    status = ks.Status()
    status.set("instanceName", manifest["metadata"]["name"])
    status.set("size", resource.get_value("spec.size", default="small"))
    status.set("storage", spec["volume"]["size"])
    status.set("instances", spec["numberOfInstances"])
    sdk.write_status(status)
    print(
        f"postgresql-configure-pipeline: wrote {OUTPUT_FILE}: postgresql "
        f"{manifest['metadata']['namespace']}/{manifest['metadata']['name']}, "
        f"{spec['numberOfInstances']} x {spec['volume']['size']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
