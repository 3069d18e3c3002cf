"""Preflight checks that need no stand-in: inotify limits, host ports, disk space."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.preflight import build_report, check_disk, check_inotify, port_in_use


def proc_with(tmp_path: Path, watches: int, instances: int) -> Path:
    inotify = tmp_path / "sys" / "fs" / "inotify"
    inotify.mkdir(parents=True)
    (inotify / "max_user_watches").write_text(f"{watches}\n")
    (inotify / "max_user_instances").write_text(f"{instances}\n")
    return tmp_path


def test_low_inotify_limits_are_one_line_with_the_sysctl_fix(tmp_path: Path) -> None:
    finding = check_inotify(proc=proc_with(tmp_path, 8192, 128), platform="linux", env={})
    assert finding is not None
    assert finding.line() == (
        "inotify: limits too low for two kind clusters: fs.inotify.max_user_watches=8192 (needs >= 246299); fix: "
        "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512")


def test_sufficient_inotify_limits_pass(tmp_path: Path) -> None:
    finding = check_inotify(proc=proc_with(tmp_path, 524288, 512), platform="linux", env={})
    assert finding is not None
    assert finding.ok


@pytest.mark.parametrize(("platform", "env"), [("darwin", {}), ("linux", {"CI": "true"})])
def test_inotify_is_not_checked_off_linux_or_in_ci(tmp_path: Path, platform: str, env: dict[str, str]) -> None:
    # Kratix's quick-start checks it only on Linux outside CI.
    assert check_inotify(proc=proc_with(tmp_path, 1, 1), platform=platform, env=env) is None


def test_port_in_use_sees_a_listener() -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert port_in_use(port)
    assert not port_in_use(port)


def test_disk_space_below_the_minimum_names_the_path(tmp_path: Path) -> None:
    finding = check_disk([tmp_path / "not-yet-created"], minimum_gib=10**9)
    assert not finding.ok
    assert finding.message.startswith(f"{tmp_path / 'not-yet-created'} has ")
    assert "KRATIX_E2E_MIN_FREE_GIB" in finding.fix
    assert check_disk([tmp_path], minimum_gib=0).ok


def test_report_keeps_only_failures_in_its_text(tmp_path: Path) -> None:
    report = build_report([check_disk([tmp_path], minimum_gib=0), None,
                           check_disk([tmp_path], minimum_gib=10**9)])
    assert len(report.findings) == 2
    assert not report.ok
    assert report.failure_text().count("\n") == 0
    assert report.summary()[0].startswith("ok     disk: ")
