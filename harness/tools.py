"""One wrapper for every external command (kind, docker, kubectl, kratix, ...).

Why one wrapper: every command then has a timeout, an argument list (never a shell string), the caller's
environment merged over ``os.environ`` (``sh`` replaces it otherwise, which loses PATH entries such as a
virtualenv's ``bin``), and a failure that names the full command, the exit code and stderr. Values that look
like secrets are masked in every message and in the recorded history.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sh

# Environment variable names whose values are never printed.
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|KEY|WEBHOOK|CREDENTIAL)", re.IGNORECASE)
# argv values that follow these flags are masked.
_SECRET_FLAGS = frozenset({"--token", "--password", "--secret", "--webhook-url", "--from-literal"})
_MAX_STDERR = 4000


class ToolError(RuntimeError):
    """A command ran and failed (non-zero exit code)."""

    def __init__(self, result: ToolResult) -> None:
        self.result = result
        stderr = result.stderr.strip() or "(no stderr)"
        if len(stderr) > _MAX_STDERR:
            stderr = "..." + stderr[-_MAX_STDERR:]
        super().__init__(
            f"command failed with exit code {result.exit_code} after {result.duration:.1f}s: "
            f"{result.display}\n{stderr}"
        )


class ToolTimeout(RuntimeError):
    """A command did not finish within its timeout and was killed."""

    def __init__(self, argv: Sequence[str], timeout: float, stderr: str = "") -> None:
        self.argv = list(argv)
        self.timeout = timeout
        tail = f"\n{stderr.strip()[-_MAX_STDERR:]}" if stderr.strip() else ""
        super().__init__(f"command timed out after {timeout:g}s: {format_argv(argv)}{tail}")


class ToolNotFound(RuntimeError):
    """The program is not installed (not on PATH)."""

    def __init__(self, program: str, hint: str = "") -> None:
        self.program = program
        super().__init__(f"{program} not found on PATH" + (f"; {hint}" if hint else ""))


@dataclass(frozen=True)
class ToolResult:
    """What a finished command returned."""

    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    duration: float

    @property
    def display(self) -> str:
        """The command as a copy-pastable line, with secrets masked."""
        return format_argv(self.argv)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class CommandLog:
    """Commands run in this process, in order (for reports, --plan tests and diagnostics)."""

    entries: list[ToolResult] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, result: ToolResult) -> None:
        with self._lock:
            self.entries.append(result)


COMMAND_LOG = CommandLog()

# Install hints for the programs the harness uses; shown when one is missing.
INSTALL_HINTS: dict[str, str] = {
    "docker": "install Docker (https://docs.docker.com/engine/install/) and start the daemon",
    "kind": "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
    "kratix": "install the Kratix CLI with scripts/install-kratix-cli",
}


def mask_argv(argv: Sequence[str]) -> list[str]:
    """Return argv with secret values replaced by ``***``."""
    masked: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            masked.append("***")
            hide_next = False
            continue
        flag, sep, _value = arg.partition("=")
        if flag in _SECRET_FLAGS:
            if sep:
                masked.append(f"{flag}=***")
            else:
                masked.append(arg)
                hide_next = True
            continue
        if sep and _SECRET_NAME.search(flag) and not flag.startswith("-"):
            masked.append(f"{flag}=***")  # e.g. env assignments passed to `docker run -e`
            continue
        masked.append(arg)
    return masked


def format_argv(argv: Sequence[str]) -> str:
    """Quote argv for display the way a shell user would type it (secrets masked)."""
    import shlex

    return shlex.join(mask_argv(argv))


def which(program: str, env: Mapping[str, str] | None = None) -> str | None:
    """Locate a program on the (merged) PATH."""
    path = (env or {}).get("PATH") or os.environ.get("PATH")
    return shutil.which(program, path=path)


def merged_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """The process environment with ``env`` laid over it (never a replacement)."""
    merged = dict(os.environ)
    if env:
        merged.update(env)
    return merged


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    input: str | None = None,
    check: bool = True,
    on_line: Callable[[str], None] | None = None,
) -> ToolResult:
    """Run one external command.

    Args:
        argv: program and arguments; never a shell string.
        timeout: seconds before the process is killed and ``ToolTimeout`` raised.
        env: variables laid over ``os.environ``.
        cwd: working directory.
        input: text sent to stdin.
        check: raise ``ToolError`` on a non-zero exit code.
        on_line: called with each stdout line as it arrives (progress for long builds).

    Raises:
        ToolNotFound: the program is not on PATH.
        ToolTimeout: the command ran longer than ``timeout``.
        ToolError: the command exited non-zero and ``check`` is true.
    """
    if isinstance(argv, str):
        raise TypeError("run() takes an argument list, not a shell string")
    argv = [str(a) for a in argv]
    if not argv:
        raise ValueError("run() needs at least a program name")
    full_env = merged_env(env)
    program = argv[0]
    resolved = program if os.sep in program else which(program, full_env)
    if resolved is None:
        raise ToolNotFound(program, INSTALL_HINTS.get(program, ""))

    stdout_parts: list[str] = []

    def _out(line: str) -> None:
        stdout_parts.append(line)
        if on_line is not None:
            on_line(line.rstrip("\n"))

    started = time.monotonic()
    kwargs: dict[str, object] = {
        "_env": full_env,
        "_timeout": timeout,
        "_ok_code": list(range(256)),  # exit codes are judged here, not by sh
        "_truncate_exc": False,
        "_out": _out,
        "_err_to_out": False,
        "_tty_out": False,
        "_return_cmd": True,
    }
    if cwd is not None:
        kwargs["_cwd"] = str(cwd)
    if input is not None:
        kwargs["_in"] = input
    try:
        proc = sh.Command(resolved)(*argv[1:], **kwargs)  # type: ignore[call-overload]
    except sh.TimeoutException as exc:
        stderr = _decode(getattr(exc, "stderr", b""))
        raise ToolTimeout(argv, timeout, stderr) from None
    duration = time.monotonic() - started
    result = ToolResult(
        argv=argv,
        exit_code=int(proc.exit_code),
        stdout="".join(stdout_parts),
        stderr=_decode(proc.stderr),
        duration=duration,
    )
    COMMAND_LOG.add(result)
    if check and result.exit_code != 0:
        raise ToolError(result)
    return result


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data
