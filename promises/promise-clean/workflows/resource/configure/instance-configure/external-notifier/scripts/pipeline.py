"""external-notifier (kratix-workshop/external-notifier:v0.1.0): tell the requester their resource was
requested.

The webhook URL comes from NOTIFIER_WEBHOOK_URL, which the Promise fills from a Secret
(`secretKeyRef`, optional). With a URL it POSTs Slack-style JSON ({"text": ...}); without one it logs that it
skipped and exits 0. The URL is a secret: it is never printed, not even in errors.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

import kratix_sdk as ks

PREFIX = "external-notifier:"
URL_ENV = "NOTIFIER_WEBHOOK_URL"
TIMEOUT = 15


def message_for(resource: ks.Resource, requester: str) -> str:
    """The notification text for one request."""
    gvk = resource.get_group_version_kind()
    namespace = resource.get_namespace() or "default"
    return f"Hello {requester}: your {gvk.kind} {namespace}/{resource.get_name()} ({gvk.group}) was requested."


def post(url: str, text: str) -> int:
    """POST ``{"text": text}`` to ``url``; returns the HTTP status."""
    body = json.dumps({"text": text}).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        status: int = response.status
        return status


def main() -> int:
    sdk = ks.KratixSDK()
    resource = sdk.read_resource_input()
    requester = resource.get_value("spec.requester", default="")
    if not isinstance(requester, str) or not requester.strip():
        print(f"{PREFIX} spec.requester is missing on {resource.get_name() or '<unnamed>'}: nobody to notify")
        return 1

    url = os.environ.get(URL_ENV, "").strip()
    status_file = ks.get_metadata_dir() / "status.yaml"
    status = sdk.read_status() if status_file.is_file() else ks.Status()
    if not url:
        print(f"{PREFIX} no webhook configured ({URL_ENV} is empty); skipping the notification to {requester}")
        status.set("notification", f"skipped: no webhook configured for {requester}")
        sdk.write_status(status)
        return 0

    try:
        code = post(url, message_for(resource, requester))
    except urllib.error.HTTPError as exc:
        print(f"{PREFIX} the webhook answered HTTP {exc.code}; {requester} was not notified")
        return 1
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        # Only the exception type: its text may quote the URL, whose path or query carries the token.
        print(f"{PREFIX} cannot reach the webhook ({type(exc).__name__}); {requester} was not notified")
        return 1
    print(f"{PREFIX} notified {requester} through the webhook (HTTP {code})")
    status.set("notification", f"sent to {requester}")
    sdk.write_status(status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
