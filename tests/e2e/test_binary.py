"""End-to-end: the installed ``fortishell`` command, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).parent / "fortishell"


def _run(args: list[str], tmp_path: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if not EXE.exists():
        pytest.fail(f"the fortishell command is not installed next to {sys.executable}")
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state"))
    return subprocess.run([str(EXE), *args], input=stdin, capture_output=True, text=True, env=env, timeout=120)


SCRIPT = """\
config vpn certificate local
edit est-test101
set est-http-username estuser
set auto-regenerate-days 30
next
end
show vpn certificate local est-test101
"""

EXPECTED = """\
FortiProxy # config vpn certificate local

FortiProxy (local) # edit est-test101
new entry 'est-test101' added

FortiProxy (est-test101) # set est-http-username estuser

FortiProxy (est-test101) # set auto-regenerate-days 30

FortiProxy (est-test101) # next

FortiProxy (local) # end

FortiProxy # show vpn certificate local est-test101
config vpn certificate local
    edit "est-test101"
        set est-http-username "estuser"
        set auto-regenerate-days 30
    next
end

FortiProxy # """


def test_run_script_file_prints_the_transcript(tmp_path: Path) -> None:
    script = tmp_path / "issue-example.cli"
    script.write_text(SCRIPT)
    proc = _run(["run", str(script)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == EXPECTED
    assert "Traceback" not in proc.stderr


def test_configuration_persists_across_runs(tmp_path: Path) -> None:
    first = tmp_path / "first.cli"
    first.write_text(SCRIPT.rsplit("show", 1)[0])
    assert _run(["run", str(first)], tmp_path).returncode == 0
    second = tmp_path / "second.cli"
    second.write_text("show vpn certificate local est-test101\n")
    proc = _run(["run", str(second)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'set est-http-username "estuser"' in proc.stdout
    saved = tmp_path / "state" / "fortishell.conf"
    assert saved.stat().st_mode & 0o777 == 0o600


def test_stdin_script_stops_at_first_failure(tmp_path: Path) -> None:
    proc = _run(["run", "-"], tmp_path, stdin="config vpn certificate local\nedit x\nset auto-regenerate-days abc\nset comments after\n")
    assert proc.returncode != 0
    assert "value parse error before 'abc'" in proc.stdout
    assert "Command fail. Return code -651" in proc.stdout
    assert "set comments after" not in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_keep_going_runs_every_line(tmp_path: Path) -> None:
    proc = _run(["run", "--keep-going", "-"], tmp_path, stdin="foo\nget system status\n")
    assert proc.returncode != 0
    assert "command parse error before 'foo'" in proc.stdout
    assert any(line.startswith("Version: FortiProxy") and " v7." in line for line in proc.stdout.splitlines())


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.run(
        [sys.executable, "-m", "fortishell", "run", "-"], input="get system status | grep Version\n",
        capture_output=True, text=True, env=env, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Version: FortiProxy" in proc.stdout


def test_expect_verdict_on_its_own_line(tmp_path: Path) -> None:
    """On a terminal stdout and stderr share the screen: the transcript ends with the last prompt,
    so --expect ends that line before the verdict is printed."""
    expected = tmp_path / "expected.txt"
    expected.write_text("FortiProxy # get system status | grep Release\nRelease Version Information: GA\n\nFortiProxy # ")
    proc = subprocess.run(f"{EXE} run --expect {expected} - 2>&1", shell=True, input="get system status | grep Release\n",
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state")))
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.splitlines()[-2:] == ["FortiProxy # ", f"expect: transcript matches {expected} (4 lines)"]


def test_shell_with_piped_input_prints_what_run_dash_prints(tmp_path: Path) -> None:
    """`fortishell < script` (no subcommand, input not a terminal) is `fortishell run -`: no line
    editor (no "Input is not a terminal" warning, escapes, doubled lines or \\r), the same exit code."""
    script = "get system status | grep Hostname\nshow system global | grep hostname\n"
    shell = _run(["--clock", "2023-04-06 22:37:34"], tmp_path, stdin=script)
    run = _run(["--clock", "2023-04-06 22:37:34", "run", "-"], tmp_path, stdin=script)
    assert (shell.returncode, shell.stdout, shell.stderr) == (run.returncode, run.stdout, run.stderr) == (0, run.stdout, "")
    assert "\x1b" not in shell.stdout and "\r" not in shell.stdout
    assert shell.stdout.count("get system status") == 1
    failing = _run([], tmp_path, stdin="bogus\n")
    assert failing.returncode == 1 and "Traceback" not in failing.stderr
