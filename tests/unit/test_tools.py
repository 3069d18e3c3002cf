from __future__ import annotations

import os
import sys

import pytest

from harness.tools import COMMAND_LOG, ToolError, ToolNotFound, ToolTimeout, format_argv, mask_argv, run


def test_runs_an_argument_list_and_captures_output():
    result = run([sys.executable, "-c", "print('hello world')"], timeout=10)
    assert result.exit_code == 0
    assert result.stdout == "hello world\n"
    assert result.argv[1:] == ["-c", "print('hello world')"]
    assert COMMAND_LOG.entries[-1] is result


def test_refuses_a_shell_string():
    with pytest.raises(TypeError, match="argument list"):
        run("echo hi", timeout=1)  # type: ignore[arg-type]


def test_failure_names_command_exit_code_and_stderr():
    with pytest.raises(ToolError) as info:
        run([sys.executable, "-c", "import sys; sys.stderr.write('boom happened'); sys.exit(3)"], timeout=10)
    message = str(info.value)
    assert "exit code 3" in message
    assert "boom happened" in message
    assert "sys.exit(3)" in message
    assert info.value.result.exit_code == 3


def test_check_false_returns_the_failure():
    result = run([sys.executable, "-c", "raise SystemExit(4)"], timeout=10, check=False)
    assert result.exit_code == 4
    assert not result.ok


def test_timeout_kills_and_names_the_command():
    with pytest.raises(ToolTimeout) as info:
        run([sys.executable, "-c", "import time; time.sleep(10)"], timeout=0.5)
    assert "timed out after 0.5s" in str(info.value)
    assert "time.sleep(10)" in str(info.value)


def test_missing_program_gets_an_install_hint(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolNotFound, match="kind not found on PATH; install kind"):
        run(["kind", "version"], timeout=5)


def test_environment_is_merged_not_replaced(monkeypatch):
    monkeypatch.setenv("OUTER_VARIABLE", "kept")
    code = "import os; print(os.environ['OUTER_VARIABLE'], os.environ['INNER_VARIABLE'], bool(os.environ['PATH']))"
    result = run([sys.executable, "-c", code], timeout=10, env={"INNER_VARIABLE": "added"})
    assert result.stdout.split() == ["kept", "added", "True"]
    assert "INNER_VARIABLE" not in os.environ


def test_stdin_and_cwd(tmp_path):
    result = run([sys.executable, "-c", "import os,sys; print(os.getcwd(), sys.stdin.read())"], timeout=10,
                 cwd=tmp_path, input="from stdin")
    assert result.stdout.strip() == f"{tmp_path} from stdin"


def test_on_line_streams_each_line():
    seen: list[str] = []
    run([sys.executable, "-c", "print('a'); print('b')"], timeout=10, on_line=seen.append)
    assert seen == ["a", "b"]


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["kubectl", "create", "secret", "generic", "s", "--from-literal", "token=abc"],
         "kubectl create secret generic s --from-literal '***'"),
        (["docker", "run", "-e", "GH_TOKEN=abc", "img"], "docker run -e 'GH_TOKEN=***' img"),
        (["tool", "--token=abc", "--name=x"], "tool '--token=***' --name=x"),
        (["kind", "create", "cluster", "--name", "platform"], "kind create cluster --name platform"),
    ],
)
def test_secrets_are_masked_in_displayed_commands(argv, shown):
    assert format_argv(argv) == shown
    assert "abc" not in " ".join(mask_argv(argv))


def test_failure_message_masks_secrets():
    with pytest.raises(ToolError) as info:
        run([sys.executable, "-c", "raise SystemExit(1)", "--token", "s3cret"], timeout=10)
    assert "s3cret" not in str(info.value)
