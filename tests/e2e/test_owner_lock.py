"""One owner per configuration file, as a user meets it: two ``fortishell`` processes on one state dir.

The real binary in subprocesses (the interactive shell under pexpect, ``run`` with a pipe,
``serve --shared`` with an SSH client).  Each test commits in the owner, lets a second process
try the same configuration, commits again, ends the owner and then reads the saved file: every
commit whose prompt came back must be in it.  Without the lock the second process replays the
owner's journal "after an unclean stop" and the owner's later commits are lost (issue 18,
item 11); with it the second process is refused with one line naming the file and the owner.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pexpect
import pytest

from fortishell.cmdb import store
from fortishell.shell.persist import load_saved

pytestmark = [pytest.mark.timeout(120), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

EXE = Path(sys.executable).parent / "fortishell"
LOCAL = ("vpn", "certificate", "local")
REFUSED = re.compile(r"^Configuration file (?P<file>\S+) is in use by another fortishell process "
                     r"\(PID (?P<pid>\d+)\); use --config FILE for another configuration$")


def _env() -> dict[str, str]:
    if not EXE.exists():
        pytest.fail(f"the fortishell command is not installed next to {sys.executable}")
    # no cursor position requests: pexpect is a terminal that never answers them
    return dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="200", LINES="50")


class Terminal:
    """The interactive shell in a pseudo-terminal, typed into like a person does."""

    def __init__(self, state: Path) -> None:
        self.child = pexpect.spawn(str(EXE), ["--state-dir", str(state)], env=_env(), encoding="utf-8",
                                   timeout=30, dimensions=(50, 200))
        self.child.logfile_read = sys.stdout if "-s" in sys.argv else None

    @property
    def pid(self) -> int:
        return int(self.child.pid)

    def started(self) -> bool:
        """True at the first prompt; False when the process ended instead (refused)."""
        return self.child.expect([r"FortiProxy #", pexpect.EOF]) == 0

    def type(self, line: str, prompt: str) -> None:
        self.child.send(line + "\r")
        self.child.expect_exact(prompt)

    def commit(self, name: str) -> None:
        """A new certificate entry; the commit is acknowledged when the root prompt comes back."""
        self.type("config vpn certificate local", "FortiProxy (local) #")
        self.type(f"edit {name}", f"FortiProxy ({name}) #")
        self.type(f"set comments {name}", f"FortiProxy ({name}) #")
        self.type("end", "FortiProxy #")

    def shows(self, name: str) -> None:
        self.child.send(f"show vpn certificate local {name}\r")
        self.child.expect_exact(f'edit "{name}"')
        self.child.expect_exact("FortiProxy #")

    def exit(self) -> int:
        self.child.send("exit\r")
        self.child.expect(pexpect.EOF)
        return self.ended()

    def ended(self) -> int:
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def output(self) -> str:
        return str(self.child.before or "")

    def close(self) -> None:
        if self.child.isalive():
            self.child.close(force=True)


def saved(state: Path) -> set[str]:
    """The entries the saved configuration file holds (the file alone: every owner has ended)."""
    cmdb = store.load(state / "fortishell.conf")
    return set(cmdb.keys(LOCAL))


def assert_refused(text: str, state: Path, owner: int) -> None:
    lines = [ln for ln in text.replace("\r", "").splitlines() if ln.strip()]
    assert len(lines) == 1, text
    match = REFUSED.match(lines[0])
    assert match, lines[0]
    assert Path(match["file"]) == state / "fortishell.conf"
    assert int(match["pid"]) == owner
    assert "Traceback" not in text


@pytest.mark.parametrize("second", [["run", "-"], ["run", "/nonexistent.cli"]], ids=["run-stdin", "run-missing"])
def test_run_beside_an_interactive_shell_is_refused_and_loses_nothing(tmp_path: Path, second: list[str]) -> None:
    state = tmp_path / "state"
    a = Terminal(state)
    try:
        assert a.started(), a.output()
        a.commit("a1")
        b = subprocess.run([str(EXE), "--state-dir", str(state), *second], input="get system status\n",
                           capture_output=True, text=True, env=_env(), timeout=60)
        a.commit("a2")
        a.shows("a2")
        assert a.exit() == 0
    finally:
        a.close()
    assert {"a1", "a2"} <= saved(state), "a commit acknowledged by the shell is not in the saved file"
    assert b.returncode == 1, b.stdout + b.stderr
    assert b.stdout == ""
    assert_refused(b.stderr, state, a.pid)


def test_two_interactive_shells_one_owner(tmp_path: Path) -> None:
    state = tmp_path / "state"
    acknowledged = []
    a, b = Terminal(state), None
    try:
        assert a.started(), a.output()
        a.commit("c1")
        acknowledged.append("c1")
        b = Terminal(state)
        b_started = b.started()
        b_output = b.output()
        if b_started:  # no lock: B is a second device on the same file (what item 11 did)
            b.commit("c2")
            acknowledged.append("c2")
            b.exit()
        a.commit("c3")
        acknowledged.append("c3")
        assert a.exit() == 0
    finally:
        a.close()
        if b is not None:
            b.close()
    assert set(acknowledged) <= saved(state), f"acknowledged {acknowledged}, saved {sorted(saved(state))}"
    assert not b_started, "a second interactive shell opened a configuration already open"
    assert b is not None and b.ended() == 1
    assert_refused(b_output, state, a.pid)


async def _ssh_run(port: int, script: str) -> tuple[int | None, str]:
    async with asyncssh.connect("127.0.0.1", port, username="admin", password="", known_hosts=None) as conn:
        result = await conn.run(input=script, timeout=30)
        return result.exit_status, str(result.stdout)


def _ssh_commit(port: int, name: str) -> None:
    status, out = asyncio.run(_ssh_run(port, f"config vpn certificate local\nedit {name}\n"
                                             f"set comments {name}\nend\n"))
    assert status == 0, out


def _start_serve(state: Path) -> tuple[subprocess.Popen[str], int]:
    serve = subprocess.Popen([str(EXE), "--state-dir", str(state), "serve", "--shared", "--port", "0"],
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=_env())
    assert serve.stderr is not None
    line = serve.stderr.readline()
    found = re.search(r"SSH on 127\.0\.0\.1:(\d+)", line)
    if found is None:
        serve.kill()
        serve.wait(10)
        pytest.fail(f"serve did not start: {line}{serve.stderr.read()}")
    return serve, int(found[1])


def _stop(serve: subprocess.Popen[str]) -> tuple[int, str]:
    serve.send_signal(signal.SIGTERM)
    try:
        rc = serve.wait(30)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait(10)
    assert serve.stderr is not None
    return rc, serve.stderr.read()


def test_serve_shared_beside_a_local_shell(tmp_path: Path) -> None:
    state = tmp_path / "state"
    acknowledged = []
    serve, port = _start_serve(state)
    local = Terminal(state)
    try:
        _ssh_commit(port, "s1")
        acknowledged.append("s1")
        local_started = local.started()
        local_output = local.output()
        if local_started:  # no lock: the local shell is a second device on the shared file
            local.commit("l1")
            acknowledged.append("l1")
            local.exit()
        _ssh_commit(port, "s2")
        acknowledged.append("s2")
    finally:
        local.close()
        rc, err = _stop(serve)
    assert rc == 0, err
    assert set(acknowledged) <= saved(state), f"acknowledged {acknowledged}, saved {sorted(saved(state))}"
    assert not local_started, "a local shell opened the configuration `serve --shared` serves"
    assert local.ended() == 1
    assert_refused(local_output, state, serve.pid)


def test_serve_shared_refused_beside_a_running_shell(tmp_path: Path) -> None:
    """The other order: the local shell owns the file, so the shared device cannot be served."""
    state = tmp_path / "state"
    local = Terminal(state)
    try:
        assert local.started(), local.output()
        local.commit("l1")
        serve = subprocess.run([str(EXE), "--state-dir", str(state), "serve", "--shared", "--port", "0"],
                               capture_output=True, text=True, env=_env(), timeout=60)
        local.commit("l2")
        assert local.exit() == 0
    finally:
        local.close()
    assert {"l1", "l2"} <= saved(state)
    assert serve.returncode == 1, serve.stderr
    assert_refused(serve.stderr, state, local.pid)


def test_a_killed_owner_leaves_no_stale_lock(tmp_path: Path) -> None:
    """kill -9 of the owner: the kernel drops its lock; the next process takes the lock file over
    (a debug.log line naming the dead PID) and boots every committed change from the journal."""
    state = tmp_path / "state"
    a = Terminal(state)
    try:
        assert a.started(), a.output()
        a.commit("k1")
        a.commit("k2")
        dead = a.pid
        os.kill(dead, signal.SIGKILL)
        a.child.expect(pexpect.EOF)
    finally:
        a.close()
    assert (state / ".fortishell.conf.lock").read_text().strip() == str(dead)
    b = subprocess.run([str(EXE), "--state-dir", str(state), "run", "-"], capture_output=True, text=True,
                       input="show vpn certificate local k2\n", env=_env(), timeout=60)
    assert b.returncode == 0, b.stdout + b.stderr
    assert 'edit "k2"' in b.stdout
    assert {"k1", "k2"} <= saved(state)
    log = (state / "debug.log").read_text()
    assert re.search(rf"lock \S+\.fortishell\.conf\.lock left by PID {dead} \(no longer running, "
                     r"not holding it\); taken over by PID \d+", log), log
    assert (state / ".fortishell.conf.lock").read_text() == ""  # B closed cleanly: no PID left behind


@pytest.mark.parametrize("how", ["lock-is-a-directory", "read-only-directory"])
def test_a_lock_that_cannot_be_taken_is_one_line(tmp_path: Path, how: str) -> None:
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    if how == "lock-is-a-directory":
        (conf_dir / ".box.conf.lock").mkdir()
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only directory")
        conf_dir.chmod(0o500)
    try:
        proc = subprocess.run([str(EXE), "--state-dir", str(tmp_path / "state"), "--config",
                               str(conf_dir / "box.conf"), "run", "-"], input="get system status\n",
                              capture_output=True, text=True, env=_env(), timeout=60)
    finally:
        conf_dir.chmod(0o700)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"Cannot lock configuration file {conf_dir / 'box.conf'}: "), lines[0]


def test_serve_reset_does_not_remove_a_configuration_open_elsewhere(tmp_path: Path) -> None:
    state = tmp_path / "state"
    local = Terminal(state)
    try:
        assert local.started(), local.output()
        local.commit("l1")
        serve = subprocess.run([str(EXE), "--state-dir", str(state), "serve", "--shared", "--reset", "--port", "0"],
                               capture_output=True, text=True, env=_env(), timeout=60)
        # what a restart would boot now: the file and the running shell's journal
        booted = load_saved(state / "fortishell.conf").keys(LOCAL)
        assert "l1" in booted, "serve --reset removed the configuration of a running shell"
        local.commit("l2")
        assert local.exit() == 0
    finally:
        local.close()
    assert {"l1", "l2"} <= saved(state)
    assert serve.returncode == 1, serve.stderr
    assert_refused(serve.stderr, state, local.pid)
