"""Splitting command lines into simple commands (argv) as a POSIX shell reads them."""

from __future__ import annotations

from harness.docs.shell import split_commands


def _split(text: str, first_line: int = 10):
    lines = text.splitlines()
    return split_commands(lines, list(range(first_line, first_line + len(lines))))


def test_continuations_join_and_keep_the_first_line():
    (command,) = _split("kubectl --context $PLATFORM \\\n  apply \\\n  --filename promise.yaml")
    assert command.argv == ("kubectl", "--context", "$PLATFORM", "apply", "--filename", "promise.yaml")
    assert command.line == 10


def test_heredoc_through_cat_pipe_feeds_the_next_command():
    cat, kubectl = _split("cat <<EOF | kubectl apply -f -\nkind: Cache\nmetadata: {name: x}\nEOF")
    assert cat.argv == ("cat",)
    assert cat.operator == "|"
    assert kubectl.argv == ("kubectl", "apply", "-f", "-")
    assert kubectl.stdin == "kind: Cache\nmetadata: {name: x}\n"
    assert kubectl.stdin_line == 11


def test_direct_heredoc_quoted_delimiter_and_following_command():
    first, second = _split("kubectl apply -f - <<'END'\nkind: A\nEND\nkubectl get a")
    assert first.stdin == "kind: A\n"
    assert second.argv == ("kubectl", "get", "a")
    assert second.line == 13


def test_lists_pipes_redirections_and_comments():
    commands = _split("mkdir deps && curl -o deps/x.yaml https://h.io/x#frag 2>&1 > log.txt; echo done # note")
    assert [c.argv for c in commands] == [
        ("mkdir", "deps"),
        ("curl", "-o", "deps/x.yaml", "https://h.io/x#frag"),
        ("echo", "done"),
    ]
    assert commands[1].writes == ("log.txt",)
    assert [c.operator for c in commands] == ["&&", ";", ""]


def test_placeholders_are_text_not_redirections():
    (command,) = _split("kubectl logs pods/configure-<SHA> -c scanner")
    assert command.argv == ("kubectl", "logs", "pods/configure-<SHA>", "-c", "scanner")


def test_prompts_mark_commands_and_skip_output():
    commands = _split("$ kubectl get pods\nNAME   READY\n$ kubectl get pv")
    assert [(c.argv, c.line) for c in commands] == [(("kubectl", "get", "pods"), 10), (("kubectl", "get", "pv"), 12)]


def test_unbalanced_quotes_fall_back_to_words():
    (command,) = _split('echo "unterminated value')
    assert command.argv == ("echo", '"unterminated', "value")
