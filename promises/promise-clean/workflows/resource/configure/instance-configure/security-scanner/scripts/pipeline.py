"""security-scanner (kratix-workshop/security-scanner:v0.1.0): list, check and scan every image the
pipeline's output would run.

Reads every manifest in /kratix/output, finds every container image referenced (containers, init and
ephemeral containers of any workload kind, Zalando `dockerImage`, `sidecars`, connection pooler image),
checks that each is a valid image reference, and scans them with trivy when trivy is in this image.
Without a scanner it says plainly that nothing was scanned: it never reports "0 vulnerabilities" for an
image it did not scan. The summary lands in the request's status as `vulnerabilities` (merged with what
earlier containers wrote). Invalid references fail the pipeline.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kratix_sdk as ks
import yaml

PREFIX = "security-scanner:"
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers", "sidecars")
SCAN_TIMEOUT = 600
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")

# The reference grammar of github.com/distribution/reference (docker, containerd, kubelet).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:.]+\])"
_REFERENCE = re.compile(
    rf"^(?:{_HOST}(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)


@dataclass(frozen=True)
class Found:
    """One image reference and where it was found."""

    image: str
    where: str


def is_valid_reference(ref: str) -> bool:
    """True when ``ref`` parses as a container image reference (name[:tag][@digest], name <= 255)."""
    name = ref.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return bool(_REFERENCE.match(ref)) and len(name) <= 255


def describe(doc: dict[str, Any]) -> str:
    """``Kind namespace/name`` of a manifest."""
    meta = doc.get("metadata") or {}
    namespace = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{doc.get('kind', '<no kind>')} {namespace}{meta.get('name', '<no name>')}"


def images_in(node: Any, path: str = "") -> list[tuple[str, str]]:
    """(image, field path) for every container-like entry and `dockerImage` field under ``node``."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key in CONTAINER_LISTS and isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict) and "image" in item:
                        found.append((str(item["image"]), f"{here}[{index}].image"))
            elif key == "dockerImage" and isinstance(value, str):
                found.append((value, here))
            found.extend(images_in(value, here))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(images_in(item, f"{path}[{index}]"))
    return found


def read_manifests(output_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every YAML/JSON document under ``output_dir`` with the file it came from."""
    docs: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(output_dir.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict):
                docs.append((path, doc))
    return docs


def scan_with_trivy(trivy: str, image: str) -> dict[str, int]:
    """Vulnerability counts by severity for one image; raises RuntimeError when the scan fails."""
    proc = subprocess.run(
        [trivy, "image", "--quiet", "--scanners", "vuln", "--format", "json", image],
        capture_output=True,
        text=True,
        timeout=SCAN_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"trivy exited {proc.returncode}")
    report = json.loads(proc.stdout or "{}")
    counts = dict.fromkeys(SEVERITIES, 0)
    for result in report.get("Results") or []:
        for vuln in result.get("Vulnerabilities") or []:
            severity = str(vuln.get("Severity", "UNKNOWN")).upper()
            counts[severity if severity in counts else "UNKNOWN"] += 1
    return counts


def main() -> int:
    sdk = ks.KratixSDK()
    output_dir = ks.get_output_dir()
    try:
        manifests = read_manifests(output_dir)
    except yaml.YAMLError as exc:
        print(f"{PREFIX} cannot read the pipeline output: {exc}")
        return 1

    found: list[Found] = []
    notes: list[str] = []
    for _path, doc in manifests:
        found.extend(Found(image, f"{describe(doc)} {where}") for image, where in images_in(doc))
        if doc.get("kind") == "postgresql" and not (doc.get("spec") or {}).get("dockerImage"):
            notes.append(
                f"{describe(doc)} sets no spec.dockerImage: the operator's default Spilo image will run; "
                "it is not named in this output and was not scanned"
            )

    images = sorted({f.image for f in found})
    print(f"{PREFIX} found {len(images)} image reference(s) in {len(manifests)} manifest(s)")
    for f in found:
        print(f"  - {f.image}  ({f.where})")
    for note in notes:
        print(f"{PREFIX} note: {note}")

    invalid = [f for f in found if not is_valid_reference(f.image)]
    for f in invalid:
        print(f"{PREFIX} INVALID image reference {f.image!r} in {f.where}")

    trivy = shutil.which("trivy")
    if invalid:
        summary = f"not scanned: {len(invalid)} invalid image reference(s)"
    elif not images and notes:
        summary = (
            f"not scanned: the output names no image; {len(notes)} Postgres cluster(s) will run the "
            "operator's default image, which is not named here"
        )
    elif not images:
        summary = "no images referenced in the pipeline output; nothing to scan"
    elif trivy is None:
        summary = f"not scanned: no vulnerability scanner in the pipeline image ({len(images)} image(s) found)"
        print(f"{PREFIX} NOT SCANNED: trivy is not installed in this image; vulnerabilities are unknown")
    else:
        totals = dict.fromkeys(SEVERITIES, 0)
        failed: list[str] = []
        for image in images:
            try:
                counts = scan_with_trivy(trivy, image)
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
                print(f"{PREFIX} scan FAILED for {image}: {exc}")
                failed.append(image)
                continue
            print(f"{PREFIX} {image}: " + ", ".join(f"{counts[s]} {s.lower()}" for s in SEVERITIES))
            for severity in SEVERITIES:
                totals[severity] += counts[severity]
        scanned = len(images) - len(failed)
        counted = ", ".join(f"{totals[s]} {s.lower()}" for s in SEVERITIES)
        summary = f"scanned {scanned} of {len(images)} image(s) with trivy: {counted}"
        if failed:
            summary += f"; scan failed for {len(failed)}: {', '.join(failed)}"
        if notes:
            summary += f"; not scanned: the operator's default image of {len(notes)} Postgres cluster(s)"
    print(f"{PREFIX} {summary}")

    status_file = ks.get_metadata_dir() / "status.yaml"
    status = sdk.read_status() if status_file.is_file() else ks.Status()
    status.set("vulnerabilities", summary)
    status.set("images", images)
    sdk.write_status(status)
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
