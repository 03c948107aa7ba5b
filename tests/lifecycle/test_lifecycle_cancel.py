"""Cancelling an enrollment against a slow responder: Ctrl-C in the REPL (pipe input), SIGINT and
SIGTERM in ``fortishell run`` (the real binary against ``fortishell lab-server --delay``).

Each time: the transfer stops within a second, the trace ends with ``est_ctx_clear_tmp_data``, the
command prints one line saying it was cancelled and ``Command fail. Return code -1``, nothing is
stored, and nothing prints after the prompt returns.
"""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from lifecycle_helpers import DEBUG_ON, ENROLL
from prompt_toolkit.data_structures import Size
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from fortishell.clock import Clock
from fortishell.cmdb.schema import LOCAL
from fortishell.frontend.interact import Repl
from fortishell.shell.device import Device

pytestmark = pytest.mark.timeout(60)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")
EXE = Path(sys.executable).parent / "fortishell"
CANCELLED = "EST enrollment of certificate 'est-test101' cancelled."
CLEAR = "[592] est_ctx_clear_tmp_data: trace"


def _wait_for(get, needle: str, timeout: float = 20.0) -> float:
    end = time.monotonic() + timeout
    while needle not in get():
        if time.monotonic() > end:
            raise AssertionError(f"{needle!r} did not appear:\n{get()}")
        time.sleep(0.01)
    return time.monotonic()


def _check_cancelled_output(text: str) -> None:
    lines = [ln for ln in text.split("\n")]
    at = lines.index(CANCELLED)
    assert lines[at + 1] == "Command fail. Return code -1"
    before = [ln for ln in lines[:at] if ln.startswith("[")]
    assert before[-1] == CLEAR
    assert "[1288] save_pkcs7_certs: CA certs imported!" not in text  # cancelled during cacerts


def test_ctrl_c_in_the_repl_cancels_an_enrollment(tmp_path: Path, config_path: Path) -> None:
    dev = Device.open(config_path, tmp_path / "state", Clock())
    saved = config_path.read_bytes()
    try:
        dev.network._endpoint()  # start the in-process responder, then slow it down
        dev.network.responder.faults.set(delay_seconds=5.0)
        buf = io.StringIO()
        out = Vt100_Output(buf, lambda: Size(rows=50, columns=250), term="xterm")
        text = lambda: _ANSI.sub("", buf.getvalue())  # noqa: E731
        with create_pipe_input() as inp:
            repl = Repl(dev, history=InMemoryHistory(), input=inp, output=out)
            timings: dict[str, float] = {}
            settled: dict[str, str] = {}

            def user() -> None:
                _wait_for(text, "FortiProxy #")
                inp.send_text(DEBUG_ON.replace("\n", "\r"))
                inp.send_text(ENROLL + "\r")
                _wait_for(text, "[1776] est_curl_req: HTTP GET")
                time.sleep(0.3)
                timings["ctrl-c"] = time.monotonic()
                repl.abort()  # what Ctrl-C does (SIGINT on a terminal, ^C over SSH)
                timings["failed"] = _wait_for(text, "Command fail. Return code -1")
                _wait_for(lambda: text().rstrip(" "), "\n\nFortiProxy #")
                settled["text"] = text()
                time.sleep(1.0)  # nothing may print after the prompt returned
                settled["later"] = text()
                inp.send_text("exit\r")

            typist = threading.Thread(target=user, daemon=True)
            typist.start()
            assert repl.run() == 0
            typist.join(5)
        assert timings["failed"] - timings["ctrl-c"] < 3.0  # the slow answer is 5 s away; 3 s allows a loaded machine
        # nothing printed after the prompt came back; a loaded machine may see prompt_toolkit redraw
        # the prompt line (the same characters again, in place on a terminal), never anything else
        extra = settled["later"][len(settled["text"]):]
        assert settled["later"].startswith(settled["text"]) and extra.replace("FortiProxy #", "").strip() == "", extra
        _check_cancelled_output(text())
        assert dev.cmdb.entry(LOCAL, "est-test101") is None
        assert config_path.read_bytes() == saved
    finally:
        dev.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_cancels_an_enrollment_in_fortishell_run(tmp_path: Path, config_path: Path, sig: int) -> None:
    if not EXE.exists():
        pytest.fail(f"the fortishell command is not installed next to {sys.executable}")
    port = _free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    lab = subprocess.Popen([str(EXE), "lab-server", "--port", str(port), "--ephemeral", "--delay", "5"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert "listening" in (lab.stdout.readline() if lab.stdout else "")
        script = tmp_path / "enroll.cli"
        script.write_text(DEBUG_ON + ENROLL + "\nshow vpn certificate local\n")
        saved = config_path.read_bytes()
        state = tmp_path / "run-state"
        proc = subprocess.Popen([str(EXE), "--state-dir", str(state), "--config", str(config_path),
                                 "--lab-server", f"https://127.0.0.1:{port}", "run", str(script)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        seen: list[str] = []
        reader = threading.Thread(target=lambda: seen.extend(iter(proc.stdout.readline, "")), daemon=True)
        reader.start()
        _wait_for(lambda: "".join(seen), "[1776] est_curl_req: HTTP GET")
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(sig)
        rc = proc.wait(timeout=10)
        elapsed = time.monotonic() - sent
        reader.join(5)
        stderr = proc.stderr.read() if proc.stderr else ""
        output = "".join(seen)
        assert rc == 128 + sig, (output, stderr)
        assert elapsed < 1.5  # the transfer stops within a second; then the process exits
        _check_cancelled_output(output)
        assert output.endswith("\n\nFortiProxy # ")  # the replay stopped after the cancelled command
        assert "show vpn certificate local" not in output
        assert config_path.read_bytes() == saved  # nothing stored
        assert "Traceback" not in stderr
    finally:
        lab.send_signal(signal.SIGINT)
        lab.wait(timeout=10)
