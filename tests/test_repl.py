"""The real REPL through prompt_toolkit's pipe input: typing, Tab, ``?``, a question,
multi-line input, history masking and background output landing above the prompt."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prompt_toolkit.data_structures import Size
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from fortishell.clock import Clock
from fortishell.shell.histform import history_form as mask_secrets
from fortishell.frontend.interact import Repl
from fortishell.repl import run_repl
from fortishell.shell.device import Device

pytestmark = pytest.mark.timeout(30)

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")


def plain(text: str) -> str:
    return _ANSI.sub("", text)


@pytest.fixture()
def device(tmp_path: Path):
    dev = Device.open(tmp_path / "fortishell.conf", tmp_path / "state", Clock(fixed=LAB_TIME))
    yield dev
    dev.close()


def _output(buf: io.StringIO) -> Vt100_Output:
    return Vt100_Output(buf, lambda: Size(rows=50, columns=200), term="xterm")


def _wait(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.01)


def drive(device: Device, steps: list[str | Callable[[Repl], None]], history=None) -> str:
    """Run a Repl in this thread; a helper thread types each step once the prompt is up."""
    buf = io.StringIO()
    with create_pipe_input() as inp:
        repl = Repl(device, history=history or InMemoryHistory(), input=inp, output=_output(buf))

        def typist() -> None:
            for step in steps:
                _wait(lambda: repl.prompt_session.app.is_running or repl.answer_session.app.is_running)
                time.sleep(0.05)
                if callable(step):
                    step(repl)
                else:
                    inp.send_text(step)
                time.sleep(0.05)

        t = threading.Thread(target=typist, daemon=True)
        t.start()
        rc = repl.run()
        t.join(5)
    assert rc == 0
    return plain(buf.getvalue())


def test_typing_commands_and_exit(device: Device) -> None:
    out = drive(device, ["config vpn certificate local\r", "edit est-test101\r", "set auto-regenerate-days 30\r",
                         "next\r", "end\r", "show vpn certificate local est-test101\r", "exit\r"])
    assert "new entry 'est-test101' added" in out
    assert "FortiProxy (local) # " in out and "FortiProxy (est-test101) # " in out
    assert '    edit "est-test101"\n        set auto-regenerate-days 30\n    next\nend\n' in out
    assert device.cmdb.entry(("vpn", "certificate", "local"), "est-test101").get("auto-regenerate-days") == 30


def test_tab_completion(device: Device) -> None:
    out = drive(device, ["conf\t", " vpn cert\t", " loc\t", "\r", "get\r", "end\r", "exit\r"])
    assert "FortiProxy # config vpn certificate local\n" in out  # the words were completed in place
    assert "FortiProxy (local) # " in out
    assert "== [ Fortinet_Factory ]" in out


def test_question_mark_help_not_echoed(device: Device) -> None:
    out = drive(device, ["config vpn certificate local\r", "edit x1\r", "set enroll-protocol ?",
                         "est\r", "abort\r", "exit\r"])
    # the listing, then the prompt re-shown with the partial line (the `?` itself is not echoed)
    listing = out[out.index("set enroll-protocol "):]
    assert re.search(r"^none\s{4,}\S", listing, re.M)
    assert re.search(r"^est\s{4,}\S", listing, re.M)
    assert "enroll-protocol ?" not in out
    assert out.count("FortiProxy (x1) # set enroll-protocol ") >= 2


def test_question_answered(device: Device) -> None:
    out = drive(device, ["config system global\r", "set hostname keepme\r", "end\r",
                         "execute factoryreset\r", "y\r", "exit\r"])
    assert "This operation will reset the system to factory default!" in out
    assert "Do you want to continue? (y/n) y" in out
    assert device.hostname == "FortiProxy"


def _answered_without_enter(seen: list[bool]) -> Callable[[Repl], None]:
    """A step: the question must be over (the prompt back) with no Enter typed; if it is not,
    Enter is sent so that the session can go on and the test fails on ``seen``."""

    def step(repl: Repl) -> None:
        try:
            _wait(lambda: repl.prompt_session.app.is_running and not repl.answer_session.app.is_running, 3.0)
            seen.append(True)
        except AssertionError:
            seen.append(False)
            repl.input.send_text("\r")  # type: ignore[attr-defined]

    return step


@pytest.mark.parametrize(("key", "reset"), [("y", True), ("n", False)])
def test_question_answered_by_one_key_press(device: Device, key: str, reset: bool) -> None:
    """As FortiOS: y (or n) answers at once, echoed after the question."""
    seen: list[bool] = []
    out = drive(device, ["config system global\r", "set hostname keepme\r", "end\r",
                         "execute factoryreset\r", key, _answered_without_enter(seen), "exit\r"])
    assert seen == [True], out
    assert f"Do you want to continue? (y/n) {key}\n" in out, out
    assert device.hostname == ("FortiProxy" if reset else "keepme")


def test_more_pages_wrapped_lines_by_their_screen_rows(device: Device) -> None:
    """--More-- on an 8 x 40 terminal: lines wider than 40 columns take several rows, and a page
    is the 7 rows above --More--, so the first page never scrolls its first lines away."""
    from fortishell.frontend.pager import screen_rows

    buf = io.StringIO()
    with create_pipe_input() as inp:
        out = Vt100_Output(buf, lambda: Size(rows=8, columns=40), term="xterm")
        repl = Repl(device, history=InMemoryHistory(), input=inp, output=out, paging=True)

        def typist() -> None:
            _wait(lambda: repl.prompt_session.app.is_running)
            inp.send_text("get system status\r")
            _wait(lambda: "--More--" in buf.getvalue())
            inp.send_text("q")
            # the prompt after the pager (its trailing space is drawn as a cursor move, not a space)
            _wait(lambda: "FortiProxy #" in buf.getvalue().split("--More--", 1)[-1])
            inp.send_text("exit\r")

        t = threading.Thread(target=typist, daemon=True)
        t.start()
        assert repl.run() == 0
        t.join(5)
    text = plain(buf.getvalue())
    page = text[text.index("get system status\n") + len("get system status\n"):text.index("--More--")]
    lines = page.split("\n")[:-1]
    assert lines and lines[0].startswith("Version: "), text
    assert any(len(line) > 40 for line in lines), lines  # some of them wrap
    assert sum(screen_rows(line, 40) for line in lines) <= 7, lines


def test_multiline_quoted_value(device: Device) -> None:
    out = drive(device, ["config vpn certificate local\r", "edit ml\r", 'set comments "line one\r',
                         'line two"\r', "next\r", "end\r", "exit\r"])
    assert device.cmdb.entry(("vpn", "certificate", "local"), "ml").get("comments") == "line one\nline two"
    assert "command parse error" not in out


def test_ctrl_c_clears_and_ctrl_d_exits(device: Device) -> None:
    out = drive(device, ["config vpn", "\x03", "get system status | grep Version\r", "\x04"])
    assert "Version: FortiProxy-VM64 v7.6.1" in out


def test_background_output_lands_above_prompt(device: Device) -> None:
    def background(repl: Repl) -> None:
        t = threading.Thread(target=device.emit, args=("[1728] est_curl_req: URL: background",))
        t.start()
        t.join()

    out = drive(device, ["config vpn certificate local\r", "edit bg", background, "\r", "abort\r", "exit\r"])
    i = out.index("[1728] est_curl_req: URL: background")
    # after the line, the prompt is redrawn with the partial input intact
    assert "FortiProxy (local) # edit bg" in out[i:]
    assert "new entry 'bg' added" in out[i:]


def test_history_file_masks_secrets(device: Device, tmp_path: Path) -> None:
    hist = tmp_path / "history"
    buf = io.StringIO()
    with create_pipe_input() as inp:
        inp.send_text("config vpn certificate local\redit h1\rset est-http-password estpwd\rabort\rexit\r")
        rc = run_repl(device, history_path=hist, input=inp, output=_output(buf))
    assert rc == 0
    text = hist.read_text()
    assert "estpwd" not in text
    assert "set est-http-password *" in text


def test_mask_secrets() -> None:
    assert mask_secrets("set est-srp-password s3cret") == "set est-srp-password *"
    assert mask_secrets("set comments hello") == "set comments hello"
    masked = mask_secrets("execute vpn certificate local generate est c1 ec-secp256r1 https://h:8443 "
                          "CN=a DNS:a estuser estpwd ca1 G_CA kpw")
    assert "estpwd" not in masked and "kpw" not in masked and "estuser" in masked


def test_question_mark_fills_the_only_candidate(device: Device) -> None:
    # `conf?` has one valid word: listed once, then filled in on the input line
    out = drive(device, ["conf?", " vpn certificate local\r", "end\r", "exit\r"])
    listing = out[out.index("FortiProxy # conf"):]
    assert re.search(r"^config\s{4,}\S", listing, re.M)
    assert "FortiProxy # config vpn certificate local\n" in out
    assert "FortiProxy (local) # " in out
    # a value with one match is filled in too; several candidates (`e`: execute, exit): nothing
    out = drive(device, ["config vpn certificate local\r", "edit x1\r", "set enroll-protocol es?", "\r",
                         "next\r", "end\r", "e?", "xit\r"])
    assert "FortiProxy (x1) # set enroll-protocol est\n" in out
    assert device.cmdb.entry(("vpn", "certificate", "local"), "x1").get("enroll-protocol") == "est"
    assert re.search(r"^execute\s{4,}\S", out, re.M) and re.search(r"^exit\s{4,}\S", out, re.M)


def test_question_mark_no_fill_with_placeholder_or_many(device: Device) -> None:
    from fortishell.shell.session import Session

    sess = Session(device)
    assert sess.help_fill("conf") == "ig"
    assert sess.help_fill("config vpn certificate loc") == "al"
    assert sess.help_fill("config") == ""          # already complete
    assert sess.help_fill("") == ""                # no word being typed
    assert sess.help_fill("e") == ""               # edit? exit? execute? several
    sess.execute("config vpn certificate local")
    # `<name>` placeholder offered too: a new name is valid, nothing filled
    assert sess.help_fill("edit Fortinet_Fac") == ""
    assert sess.help_fill("get Fortinet_Fac") == "tory"


def test_bracketed_paste_of_several_lines_runs_line_by_line(device: Device) -> None:
    """A paste into the local terminal arrives as one bracketed paste; its lines run one by one
    (prompt_toolkit alone puts them in one buffer: `command parse error before 'edit'`)."""
    paste = "\x1b[200~config vpn certificate local\nedit pasted\nset comments \"two\nlines\"\nend\n\x1b[201~"
    out = drive(device, [paste, "show vpn certificate local pasted\r", "exit\r"])
    assert "parse error" not in out, out
    assert "new entry 'pasted' added" in out, out
    assert 'set comments "two\nlines"' in out, out
    assert "FortiProxy (pasted) # " in out, out


def test_bracketed_paste_answers_a_question_with_its_next_line(device: Device) -> None:
    paste = "\x1b[200~config system global\nset hostname keepme\nend\nexecute factoryreset\nn\n\x1b[201~"
    out = drive(device, [paste, "exit\r"])
    assert "Do you want to continue? (y/n)" in out, out
    assert "parse error" not in out, out
    assert device.hostname == "keepme"  # answered n by the pasted line


def test_ctrl_c_on_a_terminal_ends_the_echoed_line(device: Device, monkeypatch: pytest.MonkeyPatch) -> None:
    """The terminal echoes ^C while a command runs; what follows must not be printed after it
    (`^C[592] est_ctx_clear_tmp_data: trace` on one line)."""
    import os
    import signal

    from fortishell.frontend import interact
    from fortishell.shell.result import Result
    from fortishell.shell.session import Session

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT reaches the loop's handler on the main thread only")
    monkeypatch.setattr(interact, "_is_tty", lambda _inp: True)
    execute = Session.execute

    def slow(self: Session, text: str) -> Result:
        if text == "execute slow":  # Ctrl-C while it runs: SIGINT to this (the main) thread
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
            time.sleep(1.0)
            self.device.emit("[592] est_ctx_clear_tmp_data: trace")
            return Result(lines=["cancelled"], rc=-1)
        return execute(self, text)

    monkeypatch.setattr(Session, "execute", slow)
    monkeypatch.setattr(device, "cancel", lambda *_a: True)  # as an EST operation: it ends by itself
    previous = signal.signal(signal.SIGINT, lambda *_a: None)  # a stray SIGINT must not end the test run
    try:
        out = drive(device, ["execute slow\r", "exit\r"])
    finally:
        signal.signal(signal.SIGINT, previous)
    # the ^C line ended before anything else
    assert "execute slow\n\n[592] est_ctx_clear_tmp_data: trace\ncancelled\n\n" in out, out
