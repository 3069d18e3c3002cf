"""The Kratix CLI runner, version check, installer and the @needs_cli collection gate.

No real CLI exists here, so the installer is tested with release archives built in the test, holding a
stand-in ``kratix`` that only answers ``--version``. That is the install logic under test (fetch, digest,
extraction, version check, atomic replace), not an imitation of the CLI's scaffolding, which the feature
only ever runs with the real binary.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
import yaml

from harness import kratix_cli as kc
from harness.tools import run
from harness.versions import VERSIONS_FILE, load_versions, parse_versions

REPO = Path(__file__).resolve().parents[2]
PINNED = load_versions().kratix_cli_version
PINNED_BARE = PINNED.removeprefix("v")
ARCHIVE = "kratix-cli_Linux_x86_64.tar.gz"


def _script(version_line: str) -> bytes:
    return f"#!/bin/sh\necho '{version_line}'\n".encode()


def _executable(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _archive(path: Path, members: dict[str, bytes]) -> Path:
    """A goreleaser-shaped archive: the binary at the top with the LICENSE beside it."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            archive.addfile(info, io.BytesIO(data))
    return path


def _release(tmp_path: Path, *, version_line: str = f"kratix version {PINNED_BARE}", checksums: bool = False) -> Path:
    release = tmp_path / "release"
    release.mkdir()
    archive = _archive(release / ARCHIVE, {"LICENSE": b"Apache-2.0\n", "kratix": _script(version_line)})
    if checksums:
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        (release / kc.checksums_name(PINNED)).write_text(f"{'0' * 64}  other.tar.gz\n{digest}  {ARCHIVE}\n")
    return archive


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- version ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("output", "version"), [
    ("kratix version 0.17.0\n", "0.17.0"),
    ("kratix version v0.17.0", "0.17.0"),
    ("kratix version 0.18.0-rc.1\n", "0.18.0-rc.1"),
])
def test_reads_the_version_cobra_prints(output, version):
    assert kc.parse_version_output(output) == version


def test_output_without_a_version_is_named():
    with pytest.raises(kc.CliError, match=re.escape("output: 'Usage: kratix [command]'")):
        kc.parse_version_output("Usage: kratix [command]\n")


def test_tag_and_binary_versions_compare_equal():
    assert kc.normalise_version("v0.17.0") == kc.normalise_version("0.17.0") == "0.17.0"


# -- finding the CLI ----------------------------------------------------------------------------------------


def test_explicit_path_wins_and_a_wrong_one_does_not_fall_back(tmp_path):
    binary = _executable(tmp_path / "my-kratix", _script(f"kratix version {PINNED_BARE}"))
    assert kc.locate({kc.CLI_ENV: str(binary), "PATH": ""}, tmp_path / "none") == (binary, [f"${kc.CLI_ENV}"])
    with pytest.raises(kc.CliNotInstalled, match=r"\$KRATIX_E2E_KRATIX_CLI is '/nope/kratix', which is not an"):
        kc.locate({kc.CLI_ENV: "/nope/kratix", "PATH": str(tmp_path)}, tmp_path)


def test_project_install_dir_comes_before_path(tmp_path):
    bin_dir, on_path = tmp_path / "bin", tmp_path / "path"
    bin_dir.mkdir()
    on_path.mkdir()
    _executable(on_path / "kratix", _script("kratix version 0.1.0"))
    assert kc.locate({"PATH": str(on_path)}, bin_dir) == (on_path / "kratix", [str(bin_dir), "PATH"])
    installed = _executable(bin_dir / "kratix", _script(f"kratix version {PINNED_BARE}"))
    assert kc.locate({"PATH": str(on_path)}, bin_dir) == (installed, [str(bin_dir)])


def test_not_found_names_where_it_looked_and_the_install_script(tmp_path):
    with pytest.raises(kc.CliNotInstalled) as info:
        kc.find_cli(PINNED, env={"PATH": str(tmp_path)}, bin_dir=tmp_path / "bin")
    assert str(info.value) == (f"kratix CLI not found (looked in {tmp_path / 'bin'}, PATH); install the pinned "
                               f"v{PINNED_BARE} with scripts/install-kratix-cli")


def test_another_version_is_refused_with_both_versions(tmp_path):
    binary = _executable(tmp_path / "kratix", _script("kratix version 0.16.2"))
    status = kc.cli_status(PINNED, env={kc.CLI_ENV: str(binary)})
    assert not status.available
    assert status.reason.startswith(f"kratix CLI at {binary} is 0.16.2, not the pinned v{PINNED_BARE}")


def test_the_pinned_version_is_found(tmp_path):
    binary = _executable(tmp_path / "kratix", _script(f"kratix version {PINNED_BARE}"))
    status = kc.cli_status(PINNED, env={kc.CLI_ENV: str(binary)})
    assert status.cli == kc.KratixCli(path=binary, version=PINNED_BARE)
    assert status.reason == f"kratix {PINNED_BARE} at {binary}"


def test_a_binary_that_fails_is_reported(tmp_path):
    binary = _executable(tmp_path / "kratix", b"#!/bin/sh\necho broken >&2\nexit 2\n")
    status = kc.cli_status(PINNED, env={kc.CLI_ENV: str(binary)})
    assert not status.available
    assert f"{binary} does not answer `--version`: command failed with exit code 2" in status.reason


def test_commands_run_in_the_promise_directory(tmp_path):
    binary = _executable(tmp_path / "kratix", b"#!/bin/sh\npwd\necho \"$@\"\n")
    work = tmp_path / "work"
    work.mkdir()
    result = kc.KratixCli(binary, PINNED_BARE).run(kc.split_command('kratix update api --property "size:string"'),
                                                     cwd=work)
    assert result.stdout.splitlines() == [str(work), "update api --property size:string"]


@pytest.mark.parametrize(("command", "message"), [
    ("kubectl apply -f x", "not a kratix command: 'kubectl apply -f x'"),
    ("kratix init 'unclosed", "cannot parse the command"),
    ("", "not a kratix command"),
])
def test_only_kratix_commands_are_run(command, message):
    with pytest.raises(kc.CliError, match=message):
        kc.split_command(command)


# -- release archives ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("system", "machine", "name"), [
    ("Linux", "x86_64", "kratix-cli_Linux_x86_64.tar.gz"),
    ("linux", "aarch64", "kratix-cli_Linux_arm64.tar.gz"),
    ("Darwin", "arm64", "kratix-cli_Darwin_arm64.tar.gz"),
    ("Darwin", "AMD64", "kratix-cli_Darwin_x86_64.tar.gz"),
])
def test_archive_names_follow_goreleaser_template(system, machine, name):
    assert kc.archive_name(system, machine) == name


def test_no_archive_for_other_platforms():
    with pytest.raises(kc.CliInstallError, match="no release archive for windows/x86_64"):
        kc.archive_name("Windows", "x86_64")


def test_checksums_file_lookup():
    text = f"{'a' * 64}  kratix-cli_Darwin_arm64.tar.gz\n{'b' * 64}  {ARCHIVE}\n"
    assert kc.checksums_name("v0.17.0") == "kratix-cli_0.17.0_checksums.txt"
    assert kc.digest_from_checksums(text, ARCHIVE, source="sums") == "b" * 64
    with pytest.raises(kc.CliInstallError, match=re.escape("sums lists no kratix-cli_Linux_arm64.tar.gz")):
        kc.digest_from_checksums(text, "kratix-cli_Linux_arm64.tar.gz", source="sums")


def test_archive_pin_is_read_from_versions_yaml(tmp_path):
    data = yaml.safe_load(VERSIONS_FILE.read_text())
    data["kratix_cli"]["archives"] = {ARCHIVE: "C" * 64}
    versions = parse_versions(data, tmp_path / "versions.yaml")
    assert kc.pinned_archive_sha256(versions, ARCHIVE) == "c" * 64
    assert kc.pinned_archive_sha256(versions, "kratix-cli_Darwin_arm64.tar.gz") is None
    data["kratix_cli"]["archives"] = {ARCHIVE: "latest"}
    with pytest.raises(kc.CliInstallError, match=f"kratix_cli.archives.{ARCHIVE}: expected a sha256, got 'latest'"):
        kc.pinned_archive_sha256(parse_versions(data, tmp_path / "versions.yaml"), ARCHIVE)


# -- installing ---------------------------------------------------------------------------------------------


def test_installs_from_a_local_archive_with_a_given_digest(tmp_path):
    archive = _release(tmp_path)
    dest = tmp_path / "bin"
    installed = kc.install_cli(dest_dir=dest, archive=archive, sha256=_sha(archive).upper())
    assert installed == kc.Installed(path=dest / "kratix", version=PINNED_BARE, archive=ARCHIVE, sha256=_sha(archive),
                                     verified_by="the --sha256 given")
    assert os.access(dest / "kratix", os.X_OK)
    assert sorted(p.name for p in dest.iterdir()) == ["kratix"]
    assert kc.cli_status(PINNED, env={"PATH": ""}, bin_dir=dest).available


def test_digest_pinned_in_versions_yaml_is_used(tmp_path):
    archive = _release(tmp_path)
    data = yaml.safe_load(VERSIONS_FILE.read_text())
    data["kratix_cli"]["archives"] = {ARCHIVE: _sha(archive)}
    versions = parse_versions(data, tmp_path / "versions.yaml")
    installed = kc.install_cli(dest_dir=tmp_path / "bin", archive=archive, versions=versions)
    assert installed.verified_by == "versions.yaml kratix_cli.archives"


def test_unpinned_archive_is_checked_against_the_release_checksums(tmp_path):
    archive = _release(tmp_path, checksums=True)
    installed = kc.install_cli(dest_dir=tmp_path / "bin", mirror=archive.parent, system="Linux", machine="x86_64")
    assert installed.verified_by == (f"the release's {kc.checksums_name(PINNED)} only "
                                     "(archive digest NOT pinned in versions.yaml)")


def test_unverifiable_archive_needs_allow_unpinned(tmp_path):
    archive = _release(tmp_path)
    with pytest.raises(kc.CliInstallError) as info:
        kc.install_cli(dest_dir=tmp_path / "bin", archive=archive)
    assert "pass --allow-unpinned to install it anyway" in str(info.value)
    assert f"its sha256 is {_sha(archive)}" in str(info.value)
    assert not (tmp_path / "bin" / "kratix").exists()
    installed = kc.install_cli(dest_dir=tmp_path / "bin", archive=archive, allow_unpinned=True)
    assert installed.verified_by == "nothing (--allow-unpinned): archive digest unverified"


def test_digest_mismatch_installs_nothing_and_keeps_the_old_binary(tmp_path):
    archive = _release(tmp_path)
    dest = tmp_path / "bin"
    dest.mkdir()
    old = _executable(dest / "kratix", b"#!/bin/sh\necho old\n")
    with pytest.raises(kc.CliInstallError, match=f"sha256 mismatch for {archive}: expected {'0' * 64}"):
        kc.install_cli(dest_dir=dest, archive=archive, sha256="0" * 64)
    assert old.read_bytes() == b"#!/bin/sh\necho old\n"
    assert sorted(p.name for p in dest.iterdir()) == ["kratix"]


def test_checksums_mismatch_is_refused(tmp_path):
    archive = _release(tmp_path, checksums=True)
    sums = archive.parent / kc.checksums_name(PINNED)
    sums.write_text(f"{'f' * 64}  {ARCHIVE}\n")
    with pytest.raises(kc.CliInstallError, match=f"lists {'f' * 64}, got {_sha(archive)}; nothing installed"):
        kc.install_cli(dest_dir=tmp_path / "bin", archive=archive)


def test_archive_of_another_version_installs_nothing(tmp_path):
    archive = _release(tmp_path, version_line="kratix version 0.16.0")
    dest = tmp_path / "bin"
    with pytest.raises(kc.CliInstallError, match=f"reports version 0.16.0, not the pinned {PINNED}; nothing installed"):
        kc.install_cli(dest_dir=dest, archive=archive, allow_unpinned=True)
    assert list(dest.iterdir()) == []


def test_archive_without_the_binary_is_named(tmp_path):
    archive = _archive(tmp_path / ARCHIVE, {"LICENSE": b"x", "docs/README.md": b"y"})
    expected = r"holds 0 regular files named 'kratix' .* it has: LICENSE, docs/README\.md"
    with pytest.raises(kc.CliInstallError, match=expected):
        kc.install_cli(dest_dir=tmp_path / "bin", archive=archive, allow_unpinned=True)


def test_a_file_that_is_not_an_archive_is_named(tmp_path):
    bogus = tmp_path / ARCHIVE
    bogus.write_text("<html>Not Found</html>")
    with pytest.raises(kc.CliInstallError, match=f"{bogus} is not a gzipped tar archive"):
        kc.install_cli(dest_dir=tmp_path / "bin", archive=bogus, allow_unpinned=True)


def test_missing_mirror_asset_installs_nothing(tmp_path):
    with pytest.raises(kc.CliInstallError, match=f"mirror file {tmp_path / ARCHIVE} unreadable.*nothing installed"):
        kc.install_cli(dest_dir=tmp_path / "bin", mirror=tmp_path, system="Linux", machine="x86_64")


def test_install_script_end_to_end(tmp_path):
    archive = _release(tmp_path)
    script = REPO / "scripts" / "install-kratix-cli"
    done = run([sys.executable, str(script), "--archive", str(archive), "--sha256", _sha(archive),
                "--dest", str(tmp_path / "bin")], timeout=60)
    assert done.stdout.splitlines() == [
        f"installed kratix {PINNED_BARE} at {tmp_path / 'bin' / 'kratix'}",
        f"archive {ARCHIVE} sha256 {_sha(archive)}, checked against the --sha256 given",
    ]
    failed = run([sys.executable, str(script), "--archive", str(tmp_path / "missing.tar.gz"),
                  "--dest", str(tmp_path / "bin")], timeout=60, check=False)
    assert failed.exit_code == 1
    assert failed.stderr.startswith("install-kratix-cli: ")
    assert str(tmp_path / "missing.tar.gz") in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1


# -- the @needs_cli gate ----------------------------------------------------------------------------------


@pytest.fixture
def gated_suite(tmp_path):
    """A tiny suite using steps.cli as a plugin, run by a separate pytest so the gate sees a fresh collection."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text(textwrap.dedent("""\
        [pytest]
        addopts = -p no:kmock -p no:cacheprovider
        markers =
            needs_cli: needs the real kratix CLI
    """))
    (suite / "conftest.py").write_text('pytest_plugins = ["steps.cli"]\n')
    (suite / "gate.feature").write_text(textwrap.dedent("""\
        Feature: gate
          @needs_cli
          Scenario: uses the CLI
            Given the Kratix CLI at the pinned version
            Then the CLI found is the pinned one

          Scenario: needs nothing
            Given nothing
    """))
    (suite / "test_gate.py").write_text(textwrap.dedent(f"""\
        from pytest_bdd import given, scenarios, then

        scenarios("gate.feature")

        @given("nothing")
        def _():
            pass

        @then("the CLI found is the pinned one")
        def _(kratix_cli):
            assert kratix_cli.version == "{PINNED_BARE}"
    """))
    return suite


def _run_gated(suite: Path, cli: str) -> str:
    env = {kc.CLI_ENV: cli, "PYTHONPATH": str(REPO)}
    done = run([sys.executable, "-m", "pytest", "-rs", "-v"], timeout=120, cwd=suite, env=env, check=False)
    return done.stdout


def test_scenarios_needing_the_cli_are_skipped_at_collection_with_the_reason(gated_suite, tmp_path):
    out = _run_gated(gated_suite, str(tmp_path / "absent" / "kratix"))
    assert "1 passed, 1 skipped" in out, out
    assert "SKIPPED [1] " in out
    assert f"$KRATIX_E2E_KRATIX_CLI is '{tmp_path / 'absent' / 'kratix'}', which is not an executable file" in out


def test_scenarios_needing_the_cli_run_when_the_pinned_cli_is_there(gated_suite, tmp_path):
    binary = _executable(tmp_path / "kratix", _script(f"kratix version {PINNED_BARE}"))
    out = _run_gated(gated_suite, str(binary))
    assert "2 passed" in out, out
    assert "skipped" not in out


def test_a_cli_of_another_version_skips_with_both_versions(gated_suite, tmp_path):
    binary = _executable(tmp_path / "kratix", _script("kratix version 0.1.0"))
    out = _run_gated(gated_suite, str(binary))
    assert "1 passed, 1 skipped" in out, out
    assert f"kratix CLI at {binary} is 0.1.0, not the pinned v{PINNED_BARE}" in out
