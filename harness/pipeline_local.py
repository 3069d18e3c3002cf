"""Run one pipeline container's own code in a subprocess, without Docker.

The simulated platform calls :func:`run_container_locally` for each user container of a pipeline, in order.
The code that runs is the code the image's Dockerfile copies (the ``local_command`` of its ``images.yaml``
entry, run from the build context), so a pipeline bug shows up here as it would in a cluster.

Kratix mounts three directories into every pipeline container (``/kratix/input``, ``/kratix/output``,
``/kratix/metadata``). The kratix-sdk reads those paths from module globals, not from the environment, so a
Python container runs under a small bootstrap that points the SDK at the given directories and then runs the
script as ``__main__``. Other commands get ``KRATIX_INPUT_DIR``/``KRATIX_OUTPUT_DIR``/``KRATIX_METADATA_DIR``
and must default to the container paths (``${KRATIX_OUTPUT_DIR:-/kratix/output}``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.deps import ensure, load_dep_set
from harness.images import ImageNotFound, ImageSpec, find_image
from harness.manifests import ManifestError, load_yaml_document
from harness.tools import run

__all__ = [
    "RESOURCES_ENV",
    "ImageNotFound",
    "LocalRun",
    "kratix_env",
    "run_container_in_docker",
    "run_container_locally",
]

# Where a container finds the files its image copies from fetched dependencies (default in the image:
# /resources). Set here so the in-process run uses the verified cache in place.
RESOURCES_ENV = "PIPELINE_RESOURCES_DIR"

# Runs inside the child interpreter: argv = -c INPUT OUTPUT METADATA SCRIPT [ARGS...].
_BOOTSTRAP = """\
import os, runpy, sys
os.dup2(1, 2)  # one interleaved log, as `kubectl logs` shows it
import kratix_sdk
kratix_sdk.set_input_dir(sys.argv[1])
kratix_sdk.set_output_dir(sys.argv[2])
kratix_sdk.set_metadata_dir(sys.argv[3])
script = sys.argv[4]
sys.argv = [script, *sys.argv[5:]]
sys.path.insert(0, os.path.dirname(script))
runpy.run_path(script, run_name="__main__")
"""
_PYTHON_NAMES = frozenset({"python", "python3"})


@dataclass(frozen=True)
class LocalRun:
    """The outcome of one container run: exit code, combined stdout/stderr log and wall time (seconds)."""

    image: str
    exit_code: int
    log: str
    duration: float

    @property
    def ok(self) -> bool:
        """True when the container exited 0."""
        return self.exit_code == 0


def kratix_env(obj: Mapping[str, Any], *, action: str = "configure") -> dict[str, str]:
    """The ``KRATIX_*`` variables Kratix sets that can be derived from the pipeline's input object.

    ``KRATIX_PIPELINE_NAME``, ``KRATIX_CRD_PLURAL``, ``KRATIX_CLUSTER_SCOPED`` and, for resource workflows,
    ``KRATIX_PROMISE_NAME`` depend on the Promise, so callers pass them in ``env``.
    """
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata") or {}
    is_promise = kind == "Promise" and group == "platform.kratix.io"
    env = {
        "KRATIX_WORKFLOW_ACTION": action,
        "KRATIX_WORKFLOW_TYPE": "promise" if is_promise else "resource",
        "KRATIX_OBJECT_KIND": kind,
        "KRATIX_OBJECT_GROUP": group,
        "KRATIX_OBJECT_VERSION": version,
        "KRATIX_OBJECT_NAME": str(meta.get("name", "")),
        "KRATIX_OBJECT_NAMESPACE": str(meta.get("namespace", "")),
    }
    if is_promise:
        env["KRATIX_PROMISE_NAME"] = str(meta.get("name", ""))
    return env


def _input_env(input_dir: Path) -> dict[str, str]:
    """``kratix_env`` of ``input_dir/object.yaml``; empty when the file is absent or unreadable."""
    object_file = input_dir / "object.yaml"
    if not object_file.is_file():
        return {}
    try:
        return kratix_env(load_yaml_document(object_file))
    except ManifestError:
        return {}  # the container reads the file itself and reports the problem in its own log


def run_container_locally(
    image: str | ImageSpec,
    *,
    input_dir: Path,
    output_dir: Path,
    metadata_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> LocalRun:
    """Run the container's own code with the three Kratix directories redirected.

    Args:
        image: a declared reference (``kratix-workshop/security-scanner:v0.1.0``) or its :class:`ImageSpec`.
        input_dir: holds ``object.yaml`` (the request, or the Promise for promise workflows).
        output_dir: receives the manifests (created if missing).
        metadata_dir: receives ``status.yaml`` / ``destination-selectors.yaml`` (created if missing).
        env: laid over ``os.environ`` and the derived ``KRATIX_*`` variables (e.g. Secret-fed variables).
        timeout: seconds before the run is killed.

    Raises:
        ImageNotFound: no promise declares ``image``.
        harness.tools.ToolTimeout: the container ran longer than ``timeout``.
        harness.deps.DepsError: the image needs dependency files that are neither cached nor mirrored.
    """
    spec = image if isinstance(image, ImageSpec) else find_image(image)
    output_dir.mkdir(parents=True, exist_ok=True)
    metadata_dir.mkdir(parents=True, exist_ok=True)

    full_env = _input_env(input_dir)
    if spec.resources is not None:
        full_env[RESOURCES_ENV] = str(ensure(load_dep_set(spec.resources)))
    full_env.update(
        {
            "KRATIX_INPUT_DIR": str(input_dir),
            "KRATIX_OUTPUT_DIR": str(output_dir),
            "KRATIX_METADATA_DIR": str(metadata_dir),
        }
    )
    full_env.update(env or {})

    program, *args = spec.local_command
    if program in _PYTHON_NAMES:
        script, *script_args = args
        argv = [
            sys.executable,
            "-u",
            "-c",
            _BOOTSTRAP,
            str(input_dir),
            str(output_dir),
            str(metadata_dir),
            str(spec.context / script),
            *script_args,
        ]
    else:
        argv = [program, *args]
    result = run(argv, timeout=timeout, env=full_env, cwd=spec.context, check=False)
    return LocalRun(
        image=spec.ref,
        exit_code=result.exit_code,
        log=result.stdout + result.stderr,
        duration=result.duration,
    )


def run_container_in_docker(
    image: str | ImageSpec,
    *,
    input_dir: Path,
    output_dir: Path,
    metadata_dir: Path,
    env: Mapping[str, str] | None = None,
    network: str | None = None,
    timeout: float = 300.0,
) -> LocalRun:
    """Run the built image with the three Kratix directories bind-mounted, as a pipeline pod would.

    The same contract as :func:`run_container_locally` (same derived ``KRATIX_*`` variables, input mounted
    read-only as Kratix does), so tests can compare the two. The container runs as the caller's uid/gid so
    the files it writes stay removable. Values of ``env`` reach docker through its environment
    (``-e NAME``), never through argv, so a secret does not show up in process listings or error messages.

    Raises:
        harness.tools.ToolNotFound: docker is not installed.
        harness.tools.ToolTimeout: the container ran longer than ``timeout``.
    """
    ref = image.ref if isinstance(image, ImageSpec) else image
    output_dir.mkdir(parents=True, exist_ok=True)
    metadata_dir.mkdir(parents=True, exist_ok=True)
    variables = {**_input_env(input_dir), **(env or {})}

    argv = ["docker", "run", "--rm", "--user", f"{os.getuid()}:{os.getgid()}"]
    argv += ["--volume", f"{input_dir.resolve()}:/kratix/input:ro"]
    argv += ["--volume", f"{output_dir.resolve()}:/kratix/output"]
    argv += ["--volume", f"{metadata_dir.resolve()}:/kratix/metadata"]
    if network:
        argv += ["--network", network]
    for name in sorted(variables):
        argv += ["--env", name]
    argv.append(ref)
    result = run(argv, timeout=timeout, env=variables, check=False)
    return LocalRun(image=ref, exit_code=result.exit_code, log=result.stdout + result.stderr, duration=result.duration)
