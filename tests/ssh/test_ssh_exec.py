"""Exec requests and sessions without a terminal: the OpenSSH client as a user runs it, exit
statuses, and ``exit`` at the root prompt of an interactive session closing with status 0."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import asyncssh
import pytest

pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")

VERSION = "get system status | grep Version"
VERSION_OUT = ["Version: FortiProxy-VM64 v7.6.1,build0197,241107 (GA.F)", "Release Version Information: GA"]


def ssh(port: int, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    base = ["ssh", "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "PubkeyAuthentication=no", "-o", "BatchMode=yes", "-F", "/dev/null"]
    return subprocess.run([*base, *args], input=stdin, capture_output=True, text=True, timeout=30,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


def test_exec_runs_the_command_and_exits_0(serve) -> None:  # noqa: ANN001
    srv = serve()
    proc = ssh(srv.port, "admin@127.0.0.1", VERSION)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "\n".join([f"FortiProxy # {VERSION}", *VERSION_OUT, "", "FortiProxy # "])


def test_exec_several_lines_in_order_exit_1_when_one_failed(serve) -> None:  # noqa: ANN001
    srv = serve()
    script = "config vpn certificate local\nedit exec-cert\nset auto-regenerate-days abc\nend\nshow vpn certificate local exec-cert"
    proc = ssh(srv.port, "admin@127.0.0.1", script)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Command fail. Return code -651" in out
    assert out.index("FortiProxy (exec-cert) # end") < out.index('    edit "exec-cert"')  # every line ran
    assert "\r" not in out
    # the device kept the entry: the next login sees it
    again = ssh(srv.port, "admin@127.0.0.1", "show vpn certificate local exec-cert")
    assert again.returncode == 0 and 'edit "exec-cert"' in again.stdout


def test_exec_question_takes_the_next_line(serve) -> None:  # noqa: ANN001
    srv = serve()
    proc = ssh(srv.port, "admin@127.0.0.1", "execute factoryreset\nn\nget system status | grep Release")
    assert "Do you want to continue? (y/n) n" in proc.stdout, proc.stdout
    assert "Release Version Information: GA" in proc.stdout


def test_piped_session_runs_each_line_and_ends_at_end_of_input(serve) -> None:  # noqa: ANN001
    srv = serve()
    proc = ssh(srv.port, "-T", "admin@127.0.0.1", stdin=f"{VERSION}\r\n\n# a comment\nget system status | grep Release")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"FortiProxy # {VERSION}", *VERSION_OUT, "",
                                        "FortiProxy # get system status | grep Release", VERSION_OUT[1], "",
                                        "FortiProxy # "]
    failed = ssh(srv.port, "-T", "admin@127.0.0.1", stdin="nonsense\n")
    assert failed.returncode == 1 and "command parse error before 'nonsense'" in failed.stdout


def test_exit_at_root_closes_with_status_0(serve) -> None:  # noqa: ANN001
    srv = serve()
    piped = ssh(srv.port, "-T", "admin@127.0.0.1", stdin="nonsense\nexit\nget system status\n")
    assert piped.returncode == 0 and "Version:" not in piped.stdout

    async def interactive() -> int | None:
        async with asyncssh.connect("127.0.0.1", srv.port, username="admin", password="", known_hosts=None,
                                    client_keys=None, agent_path=None) as conn:
            p = await conn.create_process(term_type="xterm", term_size=(80, 24))
            p.stdin.write(f"{VERSION}\rexit\r")
            await asyncio.wait_for(p.wait_closed(), 15)
            return p.exit_status

    assert asyncio.run(interactive()) == 0


def test_exec_output_is_what_run_prints(serve, tmp_path) -> None:  # noqa: ANN001
    import os
    import sys
    from pathlib import Path

    srv = serve()
    script = "config system console\nget\nend"
    over_ssh = ssh(srv.port, "admin@127.0.0.1", script)
    exe = Path(sys.executable).parent / "fortishell"
    local = subprocess.run([str(exe), "run", "-"], input=script + "\n", capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "local")))
    assert over_ssh.returncode == local.returncode == 0
    assert over_ssh.stdout == local.stdout
