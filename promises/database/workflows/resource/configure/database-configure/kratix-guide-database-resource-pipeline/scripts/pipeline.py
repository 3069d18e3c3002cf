"""Resource configure pipeline of the database promise (kratix-guide/database-resource-pipeline:v0.1.0).

What the "Writing a Promise" guide's script does: a Zalando `postgresql` named after the request, team
`kratix`, logical backup on, two instances, a `team-a` role, the volume size from `spec.size`; status
`teamId: kratix`. A request without `spec.size` fails with a message naming the field.
"""

from __future__ import annotations

import sys
from typing import Any

import kratix_sdk as ks
import yaml


def build_manifest(name: str, size: str) -> dict[str, Any]:
    """The Zalando manifest for a database request."""
    return {
        "apiVersion": "acid.zalan.do/v1",
        "kind": "postgresql",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "teamId": "kratix",
            "enableLogicalBackup": True,
            "volume": {"size": size},
            "numberOfInstances": 2,
            "users": {"team-a": ["superuser", "createdb"]},
            "postgresql": {"version": "16"},
        },
    }


def main() -> int:
    sdk = ks.KratixSDK()
    resource = sdk.read_resource_input()
    name = resource.get_name()
    size = resource.get_value("spec.size", default=None)
    if not isinstance(size, str) or not size:
        print(f'database-configure: spec.size is required on Database {name or "<unnamed>"} (e.g. "1Gi")')
        return 1

    sdk.write_output("database.yaml", yaml.safe_dump(build_manifest(name, size)).encode("utf-8"))

    status = ks.Status()
    status.set("teamId", "kratix")
    sdk.write_status(status)
    print(f"database-configure: wrote database.yaml: postgresql default/{name}, 2 x {size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
