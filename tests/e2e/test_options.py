"""Option checking of the installed ``fortishell``: bad values end at parse time with one line and
exit 2; options that do not apply are errors; every option's help states its default."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXE = Path(sys.executable).parent / "fortishell"


def fs(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state"), COLUMNS="100")
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args, message", [
    (["--lab-server", "127.0.0.1:18999"], "is not a URL of the form https://HOST[:PORT]"),
    (["--lab-server", "https://127.0.0.1:99999"], "the port is not a number in 1-65535"),
    (["--lab-server", "http://127.0.0.1:8443"], "https://HOST[:PORT]"),
    (["--clock", "tomorrow", "run", "-"], "'tomorrow' is not a date and time"),
    (["--clock", "2023-13-01"], "is not a date and time"),
    (["lab-server", "--port", "99999"], "argument --port: '99999' is not a port number"),
    (["lab-server", "--port", "http"], "is not a port number"),
    (["lab-server", "--delay", "-1"], "argument --delay"),
    (["lab-server", "--clock", "soon"], "argument --clock"),
    (["lab-server", "--fault-endpoint", "nothing"], "argument --fault-endpoint"),
    # issue 22 item 5: one spelling of the lab-server's state directory, the global one
    (["lab-server", "--state-dir", "x"], "--state-dir goes before the command: fortishell --state-dir DIR lab-server"),
    (["serve", "--port", "-5"], "argument --port"),
    (["--config", "x.conf", "lab", "list"], "--config does not apply to 'lab'"),
    (["--clock", "2023-04-06", "lab", "check", "example1-enroll"], "--clock does not apply to 'lab'"),
    (["--config", "x.conf", "lab-server"], "--config does not apply to 'lab-server'"),
    (["--lab-server", "https://127.0.0.1:8443", "lab-server"], "--lab-server does not apply to 'lab-server'"),
    (["run"], "the following arguments are required: SCRIPT"),
    (["shell", "extra"], "unexpected arguments: extra"),
])
def test_bad_options_one_line_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    proc = fs(*args, tmp_path=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "state").exists()  # nothing started, nothing written


def test_good_values_are_accepted(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(EXE), "--clock", "2023-04-06T22:37:34", "--lab-server", "https://127.0.0.1:8443/", "run", "-"],
        input="get system status | grep 'System time'\n", capture_output=True, text=True, timeout=60,
        env=dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state")))
    assert proc.returncode == 0, proc.stderr
    assert "22:37:34 2023" in proc.stdout


def test_run_help_explains_dash_and_exit_codes(tmp_path: Path) -> None:
    text = " ".join(fs("run", "--help", tmp_path=tmp_path).stdout.split())
    assert "'-' reads the script from standard input" in text
    assert "Exit status: 0 every command succeeded; 1 a command failed" in text
    assert "with --expect, 0 when the transcript matches FILE and 1 when it differs" in text


def _option_helps(help_text: str) -> dict[str, str]:
    """Option -> its help text (continuation lines joined) from an argparse help screen."""
    helps: dict[str, str] = {}
    current = None
    for line in help_text.splitlines():
        m = re.match(r"^  (-{1,2}[\w-]+)", line)
        if m:
            current = m.group(1)
            helps[current] = line
        elif current and line.startswith("      "):
            helps[current] += " " + line.strip()
        else:
            current = None
    return {k: " ".join(v.split()) for k, v in helps.items()}


@pytest.mark.parametrize("command", [[], ["run"], ["serve"], ["lab-server"], ["lab", "start"], ["lab", "check"], ["lab", "grade"]])
def test_every_option_states_its_default(command: list[str], tmp_path: Path) -> None:
    proc = fs(*command, "--help", tmp_path=tmp_path)
    assert proc.returncode == 0
    helps = _option_helps(proc.stdout)
    assert len(helps) >= 2, proc.stdout
    missing = [opt for opt, text in helps.items() if opt not in ("-h", "--version") and "default" not in text]
    assert not missing, f"no default stated: {missing}\n{proc.stdout}"


def test_global_state_dir_and_clock_apply_to_lab_server(tmp_path: Path) -> None:
    import signal

    proc = subprocess.Popen([str(EXE), "--state-dir", str(tmp_path / "st"), "--clock", "2023-04-06 22:37:34",
                             "lab-server", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("EST lab responder listening on https://127.0.0.1:")
        assert f"state in {tmp_path / 'st' / 'est-lab'};" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
