"""Session semantics: prompts, mode stack, commit/abort, errors, help and completion."""

from __future__ import annotations

import re

import pytest

from fortishell.shell.session import INTERNAL_ERROR, Session

LOCAL = ("vpn", "certificate", "local")


def run(sess: Session, *lines: str):
    return [sess.execute(line) for line in lines][-1]


def test_prompts_follow_the_mode_stack(session: Session) -> None:
    assert session.prompt == "FortiProxy # "
    run(session, "conf vpn cert local")
    assert session.prompt == "FortiProxy (local) # "
    run(session, "edit est-test101")
    assert session.prompt == "FortiProxy (est-test101) # "
    run(session, "next")
    assert session.prompt == "FortiProxy (local) # "
    run(session, "end")
    assert session.prompt == "FortiProxy # "
    run(session, "config system global")
    assert session.prompt == "FortiProxy (global) # "
    run(session, "set hostname lab1", "end")
    assert session.prompt == "lab1 # "


def test_new_entry_message_only_for_new(session: Session) -> None:
    r = run(session, "config vpn certificate local", "edit e1")
    assert r.lines == ["new entry 'e1' added"]
    r = run(session, "next", "edit e1")
    assert r.lines == [] and r.rc == 0


def test_buffered_until_next_and_abort_discards(session: Session) -> None:
    cmdb = session.device.cmdb
    run(session, "config vpn certificate local", "edit e1", "set comments hello")
    assert cmdb.entry(LOCAL, "e1") is None
    assert "comments            : hello" in run(session, "get").lines
    run(session, "next")
    assert cmdb.entry(LOCAL, "e1").get("comments") == "hello"
    run(session, "edit e1", "set comments changed", "abort")
    assert session.prompt == "FortiProxy # "
    assert cmdb.entry(LOCAL, "e1").get("comments") == "hello"


def test_commit_saves_the_config_file(session: Session) -> None:
    path = session.device.config_path
    before = path.read_text()
    run(session, "config vpn certificate local", "edit saved1", "set comments persisted", "end")
    after = path.read_text()
    assert before != after and "saved1" in after


@pytest.mark.parametrize("line", [
    "set nosuch 1", "set auto-regenerate-days", "set auto-regenerate-days x", "set est-client-cert nope",
    "set est-http-username " + "u" * 70, "set source-ip 1.2", "bogus",
])
def test_bad_input_leaves_cmdb_unchanged(session: Session, line: str) -> None:
    run(session, "config vpn certificate local", "edit e2")
    snap = session.device.cmdb.snapshot()
    r = session.execute(line)
    assert r.rc != 0 and r.lines
    run(session, "next")
    e = session.device.cmdb.entry(LOCAL, "e2")
    assert e is not None and e.values.get("comments", "") == ""
    session.device.cmdb.restore(snap)


def test_ambiguous_abbreviation_names_the_choices(session: Session) -> None:
    r = session.execute("e")
    assert r.lines == ["ambiguous command before 'e': execute exit"] and r.rc != 0
    r = session.execute("execute vpn certificate local generate e")
    assert r.lines == ["ambiguous command before 'e': ec est"] and r.rc != 0
    r = run(session, "config vpn certificate local", "edit amb", "se x")
    assert r.lines == ["ambiguous command before 'se': set select"] and r.rc != 0
    r = session.execute("set est-srp 1")
    assert r.lines == ["ambiguous command before 'est-srp': est-srp-username est-srp-password",
                       "Command fail. Return code -61"]
    run(session, "abort")
    run(session, "end")


def test_root_parse_error_has_no_command_fail_line(session: Session) -> None:
    r = session.execute("foo")
    assert r.lines == ["command parse error before 'foo'"] and r.rc == -61
    r = session.execute("set x y")
    assert r.lines == ["Unknown action 0"] and r.rc != 0


def test_internal_errors_never_show_a_traceback(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from fortishell.shell.commands import system

    def boom(device):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(system, "status_lines", boom)
    r = session.execute("get system status")
    assert r.lines == [INTERNAL_ERROR, "Command fail. Return code -1"] and r.rc == -1
    assert "Traceback" not in "\n".join(r.lines) and "kaboom" not in "\n".join(r.lines)
    log = session.device.state_dir / "debug.log"
    assert "RuntimeError: kaboom" in log.read_text()


def test_exit_only_at_root(session: Session) -> None:
    assert session.execute("exit").exit
    run(session, "config vpn certificate local")
    r = session.execute("exit")
    assert not r.exit and r.lines == ["Unknown action 0"]


def test_help_layout_root(session: Session) -> None:
    lines = session.help("")
    assert lines[0] == "config      Configure object."
    assert "exit        Exit the CLI." in lines


def test_help_partial_word_and_values(session: Session) -> None:
    assert session.help("con") == ["config    Configure object."]
    run(session, "config vpn certificate local", "edit h1")
    lines = session.help("set enroll-protocol ")
    names = [ln.split()[0] for ln in lines]
    assert names[:5] == ["none", "scep", "cmpv2", "acme2", "est"]
    width = len(lines[0]) - len(lines[0][len(names[0]):].lstrip())
    assert width == max(len(n) for n in names) + 4
    assert any(ln.startswith("<string>") for ln in session.help("set est-server "))
    client = session.help("set est-client-cert ")
    assert any(ln.startswith("Fortinet_Factory") for ln in client)


def test_help_config_paths_and_execute(session: Session) -> None:
    assert [ln.split()[0] for ln in session.help("config ")] == ["system", "vpn"]
    assert [ln.split()[0] for ln in session.help("config vpn certificate ")] == [
        "ca", "crl", "local", "ocsp-server", "remote", "setting"]
    names = [ln.split()[0] for ln in session.help("execute ")]
    assert names == ["api-user", "date", "factoryreset", "log", "ping", "time", "vpn"]
    assert session.help("diagnose debug application est ")[0].startswith("<integer>")


def test_complete(session: Session) -> None:
    assert [n for n, _ in session.complete("conf")] == ["config"]
    assert [n for n, _ in session.complete("config vpn certificate l")] == ["local"]
    run(session, "config vpn certificate local")
    names = [n for n, _ in session.complete("edit Fortinet_SSL_E")]
    assert names and all(n.startswith("Fortinet_SSL_E") for n in names)
    run(session, "edit c1")
    assert [n for n, _ in session.complete("set est-http-u")] == ["est-http-username"]
    assert [n for n, _ in session.complete("set enroll-protocol e")] == ["est"]
    assert session.complete('set comments "abc') == []


def test_nested_object_commits_with_parent(session: Session) -> None:
    run(session, "config vpn certificate setting", "config crl-verification")
    assert session.prompt == "FortiProxy (crl-verification) # "
    run(session, "set expiry revoke", "end")
    assert session.prompt == "FortiProxy (setting) # "
    run(session, "end")
    entry = session.device.cmdb.entry(("vpn", "certificate", "setting"))
    assert entry.sub("crl-verification").get("expiry") == "revoke"


_RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.mark.parametrize(("lines", "expected"), [
    (["\x1b[2J"], "command parse error before '^[[2J'"),
    (["get \x1b]0;pwned\x07"], "command parse error before '^[]0;pwned^G'"),
    (["config vpn certificate local", "edit a", "set auto-regenerate-days \x1b[31m9"],
     "value parse error before '^[[31m9'"),
    (["config vpn certificate local", "edit a", "set enroll-protocol \x07x"], "value parse error before '^Gx'"),
    (["config vpn certificate local", "edit a", "set enroll-protocol \x9b2J"],
     "value parse error before '\\x9b2J'"),
    (["show vpn certificate local a\x7f\x1bb"], "value parse error before 'a^?^[b'"),
])
def test_control_characters_in_errors_are_visible(session: Session, lines: list[str], expected: str) -> None:
    results = [session.execute(line) for line in lines]
    last = results[-1]
    assert last.rc != 0
    assert expected in last.lines
    for result in results:
        for line in result.lines:
            if result.rc != 0:
                assert not _RAW_CONTROL.search(line), line


def test_control_characters_in_the_new_entry_notice_are_visible(session: Session) -> None:
    """The notice quotes the typed name; ``show`` keeps values as stored (round trip)."""
    results = [session.execute(line) for line in (
        "config vpn certificate local", 'edit "ev\x1b[2Jil"', 'set comments "bell\x07"', "show")]
    assert [r.rc for r in results] == [0, 0, 0, 0]
    assert results[1].lines == ["new entry 'ev^[[2Jil' added"]
    assert any('set comments "bell\x07"' in line for line in results[3].lines), results[3].lines


def test_visible_notation() -> None:
    from fortishell.shell.session import visible

    assert visible("a\x1b[1mb\x00\x1f\x7f\x85") == "a^[[1mb^@^_^?\\x85"
    assert visible("tab\there\nnext") == "tab\there\nnext"
    assert visible(visible("\x1b")) == "^["


def test_an_answer_ends_at_the_command_boundary_once(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = session.device.after_command
    monkeypatch.setattr(session.device, "after_command", lambda: (calls.append(1), real())[1])
    r = session.execute("execute factoryreset")
    assert r.question is not None and calls == [1]
    answered = r.question.answer(False)
    assert answered.question is None
    assert calls == [1, 1]  # the command, then the answer: once each


def test_get_and_show_listings_page_other_output_does_not(session: Session) -> None:
    assert session.execute("show").pages
    assert session.execute("get system status").pages
    assert session.execute("show vpn certificate local | grep x").pages
    assert not session.execute("execute date").pages
    assert not session.execute("config system console").pages


def test_a_bug_in_help_is_logged_and_shown_as_one_line(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from fortishell.shell import completion
    from fortishell.shell.session import HELP_ERROR

    def broken(*_args: object) -> list[str]:
        raise KeyError("a bug")

    monkeypatch.setattr(completion, "help_lines", broken)
    monkeypatch.setattr(completion, "complete", broken)
    assert session.help("conf") == [HELP_ERROR]
    assert session.complete("conf") == []
    for handler in session.device.log.handlers:
        handler.flush()
    logged = (session.device.state_dir / "debug.log").read_text("utf-8")
    assert "KeyError: 'a bug'" in logged and "Traceback" in logged
