"""Script replay: transcript form, stop at the first failure, --keep-going, questions
answered from the script, comments, multi-line values, stdin, streamed lines in order."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.replay import logical_lines, run_scripts
from fortishell.shell.device import Device

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)


@pytest.fixture()
def device(tmp_path: Path):
    dev = Device.open(tmp_path / "fortishell.conf", tmp_path / "state", Clock(fixed=LAB_TIME))
    yield dev
    dev.close()


def replay(device: Device, tmp_path: Path, script: str, **kw) -> tuple[int, str]:
    path = tmp_path / "script.cli"
    path.write_text(script)
    out = io.StringIO()
    rc = run_scripts([str(path)], device, out=out, **kw)
    return rc, out.getvalue()


def test_transcript_form(device: Device, tmp_path: Path) -> None:
    rc, out = replay(device, tmp_path, "config vpn certificate local\nedit t1\nnext\nend\n")
    assert rc == 0
    assert out == ("FortiProxy # config vpn certificate local\n\n"
                   "FortiProxy (local) # edit t1\nnew entry 't1' added\n\n"
                   "FortiProxy (t1) # next\n\n"
                   "FortiProxy (local) # end\n\n"
                   "FortiProxy # ")


def test_stops_at_first_failure(device: Device, tmp_path: Path) -> None:
    rc, out = replay(device, tmp_path, "config vpn certificate local\nedit t1\nset nosuch 1\nnext\n")
    assert rc == 1
    assert out.endswith("FortiProxy (t1) # set nosuch 1\ncommand parse error before 'nosuch'\n"
                        "Command fail. Return code -61\n\n")
    assert "next" not in out


def test_keep_going(device: Device, tmp_path: Path) -> None:
    rc, out = replay(device, tmp_path, "bogus\nget system status | grep Hostname\n", keep_going=True)
    assert rc == 1
    assert "command parse error before 'bogus'\n\nFortiProxy # get system status | grep Hostname\n" \
           "Hostname: FortiProxy\n" in out


def test_question_answer_from_next_line(device: Device, tmp_path: Path) -> None:
    script = "config system global\nset hostname h1\nend\nexecute factoryreset\ny\nget system global | grep hostname\n"
    rc, out = replay(device, tmp_path, script)
    assert rc == 0
    assert ("h1 # execute factoryreset\nThis operation will reset the system to factory default!\n"
            "Do you want to continue? (y/n) y\n\nFortiProxy # get system global | grep hostname\n") in out


def test_comments_blank_lines_and_multiline_values(device: Device, tmp_path: Path) -> None:
    script = ('# a comment\n\nconfig vpn certificate local\nedit m1\nset comments "a\n# not a comment\nb"\n'
              "next\nend\n")
    rc, out = replay(device, tmp_path, script)
    assert rc == 0
    assert device.cmdb.entry(("vpn", "certificate", "local"), "m1").get("comments") == "a\n# not a comment\nb"
    assert "# a comment" not in out
    assert 'FortiProxy (m1) # set comments "a\n# not a comment\nb"\n' in out


def test_logical_lines_continuation() -> None:
    from fortishell.cli.parser import needs_more

    assert list(logical_lines("get \\\nsystem status\n  # c\n", needs_more)) == ["get \\\nsystem status"]


def test_stdin(device: Device, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("execute date\n"))
    out = io.StringIO()
    assert run_scripts(["-"], device, out=out) == 0
    assert out.getvalue() == "FortiProxy # execute date\ncurrent date is: 2023-04-06\n\nFortiProxy # "


def test_streamed_lines_in_order(device: Device, tmp_path: Path) -> None:
    from fortishell.shell.commands import execute

    def fake_ping(sess, rest):  # a handler that streams while it works, like the EST engine
        sess.device.emit("streamed first")
        from fortishell.shell.result import Result

        return Result(["result after"])

    node = execute.TREE.children["ping"]
    old = node.handler
    node.handler = fake_ping
    try:
        rc, out = replay(device, tmp_path, "execute ping x\n")
    finally:
        node.handler = old
    assert out.startswith("FortiProxy # execute ping x\nstreamed first\nresult after\n\n")


def test_exit_ends_replay(device: Device, tmp_path: Path) -> None:
    rc, out = replay(device, tmp_path, "exit\nbogus\n")
    assert rc == 0 and out == "FortiProxy # exit\n\n"


def test_expect_hook(device: Device, tmp_path: Path) -> None:
    seen = []
    path = tmp_path / "s.cli"
    path.write_text("execute time\n")
    rc = run_scripts([str(path)], device, out=io.StringIO(), expect=lambda t: seen.append(t) or 3)
    assert rc == 3 and seen[0].startswith("FortiProxy # execute time\ncurrent time is: 22:37:34\n")


def test_expect_file_decides_even_when_a_command_fails(device: Device, tmp_path: Path) -> None:
    script = tmp_path / "s.cli"
    script.write_text("bogus\n")
    expected = tmp_path / "s.out"
    expected.write_text("FortiProxy # bogus\ncommand parse error before 'bogus'\n\n")
    assert run_scripts([str(script)], device, out=io.StringIO(), expect=str(expected)) == 0
    expected.write_text("FortiProxy # bogus\nsomething else\n\n")
    assert run_scripts([str(script)], device, out=io.StringIO(), expect=str(expected)) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_stopping_at_a_failure_says_so_on_stderr(device: Device, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = replay(device, tmp_path, "bogus\nget system status\nget system status\n")
    assert rc == 1
    assert capsys.readouterr().err == ("fortishell run: stopped at the first failed command; 2 command lines "
                                       "not run (--keep-going runs them)\n")
    assert out.endswith("command parse error before 'bogus'\n\n")  # the transcript unchanged


def test_nothing_said_when_nothing_was_left(device: Device, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert replay(device, tmp_path, "get system status\nbogus\n")[0] == 1
    assert replay(device, tmp_path, "bogus\nget system status\n", keep_going=True)[0] == 1
    assert capsys.readouterr().err == ""


def test_final_prompt_ends_its_line_on_a_terminal_only(device: Device, tmp_path: Path) -> None:
    script = tmp_path / "s.cli"
    script.write_text("get system status | grep Hostname\n")
    term = _Terminal()
    assert run_scripts([str(script)], device, out=term) == 0
    assert term.getvalue().endswith("\n\nFortiProxy # \n")
    pipe = io.StringIO()
    assert run_scripts([str(script)], device, out=pipe) == 0
    assert pipe.getvalue().endswith("\n\nFortiProxy # ")  # transcripts and golden files: no newline


def test_shell_with_piped_input_is_run_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`fortishell` (no subcommand) with input that is not a terminal replays it as `run -` does:
    the same transcript, no line editor, the same exit code and stop at the first failure."""
    from fortishell.cli_main import run_main

    script = "get system status | grep Hostname\nbogus\nget system status\n"
    results = []
    for argv in (["run", "-"], []):
        monkeypatch.setattr("sys.stdin", io.StringIO(script))
        rc = run_main(["--state-dir", str(tmp_path / "state"), "--clock", "2023-04-06 22:37:34", *argv])
        results.append((rc, *capsys.readouterr()))
    assert results[0] == results[1]
    rc, out, err = results[1]
    assert rc == 1
    assert out == ("FortiProxy # get system status | grep Hostname\nHostname: FortiProxy\n\n"
                   "FortiProxy # bogus\ncommand parse error before 'bogus'\n\n")
    assert "stopped at the first failed command" in err


def test_sigint_on_a_terminal_ends_the_echoed_line(device: Device, tmp_path: Path) -> None:
    """Ctrl-C during `run` on a terminal: the terminal echoed ^C; the cancelled trace that follows
    starts on a new line (not `^C[592] est_ctx_clear_tmp_data: trace`)."""
    import os
    import signal

    from fortishell.replay import _Interrupts

    read_end, write_end = os.pipe()

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

        def fileno(self) -> int:
            return write_end

    try:
        _Interrupts(device, Tty())._handle(signal.SIGINT, None)
        _Interrupts(device, io.StringIO())._handle(signal.SIGINT, None)  # a file: nothing added
        os.close(write_end)
        assert os.read(read_end, 10) == b"\n"
    finally:
        os.close(read_end)


def test_closed_stdin_is_one_line_and_exit_2(device: Device, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", None)  # `fortishell run - <&-` (and the shell given no input at all)
    assert run_scripts(["-"], device, out=io.StringIO()) == 2
    assert capsys.readouterr().err == "Cannot read script -: standard input is closed\n"
