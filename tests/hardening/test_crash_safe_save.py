"""Crash-safe configuration: SIGKILL the real ``fortishell`` process while it saves.

The process replays a script (``fortishell run -`` fed by a pipe) that commits
many changes, each commit appended to the journal (``cmdb/journal.py``).  It is
killed with SIGKILL at a random moment, many times.  Every time the file must
load and equal a committed configuration (never a torn file), have mode 0600;
a device started on it again must replay the journal to a committed
configuration that holds at least every commit seen on disk before the kill,
rewrite the file with it, and leave no journal or temporary file behind.

Over SSH (``fortishell serve``): the server is killed the moment the prompt
after ``next`` / ``end`` arrives; the commit must be there after a restart.

CI runs 10 kills; ``FORTISHELL_CRASH_ITERATIONS=500`` runs more.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.cmdb import journal, store
from fortishell.replay import transcript
from fortishell.shell.device import Device

EXE = Path(sys.executable).parent / "fortishell"
ITERATIONS = int(os.environ.get("FORTISHELL_CRASH_ITERATIONS", "10"))
LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
CONF = "fortishell.conf"

pytestmark = pytest.mark.skipif(not EXE.exists(), reason="the fortishell console script is not installed")


def commit_script(n: int) -> str:
    """``n`` commits, each giving a distinct configuration (creations, changes, secrets, deletions)."""
    out: list[str] = []
    for i in range(n):
        k = i % 4
        if k == 0:
            out += ["config system global", f"set alias crash-{i}", "end"]
        elif k == 1:
            out += ["config vpn certificate local", f"edit c{i}", f'set comments "commit {i} with blanks"',
                    f"set est-http-password pw-{i}", "next", "end"]
        elif k == 2:
            out += ["config vpn certificate ca", "edit G_CA_Cert_1", f"set est-url https://ca{i}.lab:8443", "end"]
        else:
            out += ["config vpn certificate local", f"delete c{i - 2}", "end"]
    return "\n".join(out) + "\n"


def snapshot_key(cmdb) -> tuple:
    snap = cmdb.snapshot()
    return snap.tables, snap.objects


def expected_states(workdir: Path, script: str, initial: str) -> list[tuple]:
    """Every configuration the file may legitimately hold: the initial one and one per commit."""
    (workdir / CONF).write_text(initial, "utf-8")
    dev = Device.open(workdir / CONF, workdir / "state", Clock(fixed=LAB_TIME))
    states = [snapshot_key(dev.cmdb)]
    dev.cmdb.on_commit(lambda _changes: states.append(snapshot_key(dev.cmdb)))
    try:
        rc, text = transcript(script, dev, keep_going=False)
        assert rc == 0, text[-2000:]
    finally:
        dev.close()
    return states


def initial_config(tmp: Path) -> str:
    lab = Path(__file__).resolve().parents[2] / "sample-configs" / "lab.conf"
    return lab.read_text("utf-8")


def start(workdir: Path, script: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(workdir))
    proc = subprocess.Popen([str(EXE), "run", "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=workdir)
    assert proc.stdin is not None
    proc.stdin.write(script.encode("utf-8"))
    proc.stdin.close()
    return proc


def temps(workdir: Path) -> list[str]:
    return [n for n in os.listdir(workdir) if n.startswith(f".{CONF}.") and n.endswith(".tmp")]


def durable_records(conf: Path) -> int:
    """Commits whose journal record is complete on disk now."""
    try:
        return len(journal.read_records(journal.journal_path(conf), logging.getLogger("crash-test"))[1])
    except FileNotFoundError:
        return 0


def _wait_for_commits(conf: Path, proc: subprocess.Popen[bytes], commits: int, deadline: float) -> int:
    """Return once ``commits`` records are on disk, or the process ended, or the deadline passed
    (the kill then lands mid-run); returns the records seen."""
    seen = 0
    while seen < commits and proc.poll() is None and time.monotonic() < deadline:
        seen = max(seen, durable_records(conf))
        time.sleep(0.0005)
    return seen


def test_sigkill_at_random_moments_never_tears_the_file(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("FORTISHELL_CRASH_SEED", "8")))
    script = commit_script(60)
    initial = initial_config(tmp_path)
    ref = tmp_path / "reference"
    ref.mkdir()
    states = expected_states(ref, script, initial)
    assert len(states) == 61

    # how long an uninterrupted run takes: the kill moments spread over it
    full = tmp_path / "full"
    full.mkdir()
    (full / CONF).write_text(initial, "utf-8")
    t0 = time.monotonic()
    proc = start(full, script)
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode() if proc.stderr else ""
    duration = time.monotonic() - t0
    assert snapshot_key(store.load(full / CONF)) == states[-1]

    seen: set[int] = set()
    torn_temps = 0
    for it in range(ITERATIONS):
        work = tmp_path / f"k{it}"
        work.mkdir()
        (work / CONF).write_text(initial, "utf-8")
        os.chmod(work / CONF, 0o600)
        proc = start(work, script)
        on_disk = _wait_for_commits(work / CONF, proc, rng.randint(0, 40), deadline=time.monotonic() + duration * 2 + 5)
        time.sleep(rng.uniform(0.0, 0.01))
        on_disk = max(on_disk, durable_records(work / CONF))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()

        path = work / CONF
        assert path.exists(), f"iteration {it}: the configuration file is gone"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"iteration {it}: mode {oct(path.stat().st_mode)}"
        loaded = snapshot_key(store.load(path))  # raises on a torn file
        in_file = next((i for i, s in enumerate(states) if s == loaded), None)
        assert in_file is not None, f"iteration {it}: the saved file matches no committed configuration"

        left = temps(work)
        torn_temps += bool(left)
        # the next start replays the journal, cleans up, and boots from a committed configuration
        dev = Device.open(path, work / "state", Clock(fixed=LAB_TIME), journal=True)
        try:
            booted = snapshot_key(dev.cmdb)
        finally:
            dev.close()
        index = next((i for i, s in enumerate(states) if s == booted), None)
        assert index is not None, f"iteration {it}: the restarted device matches no committed configuration"
        assert index >= max(in_file, on_disk), f"iteration {it}: commit {index} booted, {on_disk} were on disk"
        seen.add(index)
        assert snapshot_key(store.load(path)) == booted, f"iteration {it}: the file was not rewritten at start"
        assert temps(work) == [], f"iteration {it}: temporary files left after restart: {left}"
        assert not journal.journal_path(path).exists() and not journal.old_path(path).exists()
    # the kills landed at different points of the run (driven by observed saves, not by timing alone)
    assert len(seen) >= 2, sorted(seen)
    print(f"crash-safe: {ITERATIONS} kills, {len(seen)} distinct saved states, "
          f"{torn_temps} interrupted saves cleaned up")


SSH_PROMPT = re.compile(r"\r\n\r\n[\w~_-]+ (\([^)]*\) )?# $")


def _serve(state: Path) -> tuple[subprocess.Popen[str], int]:
    users = state / "users.toml"
    users.write_text("[users.admin]\n")
    proc = subprocess.Popen([str(EXE), "serve", "--port", "0", "--state-dir", str(state), "--users", str(users),
                             "--shared"], stderr=subprocess.PIPE, text=True, cwd=state)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    m = re.search(r"SSH on 127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise AssertionError(f"the server did not start: {line!r}")
    return proc, int(m.group(1))


async def _commit_then_kill(port: int, proc: subprocess.Popen[str], lines: list[str]) -> str:
    """Send ``lines``; SIGKILL the server the moment the prompt after the last one arrives."""
    import asyncssh

    async with asyncssh.connect("127.0.0.1", port, username="admin", known_hosts=None, client_keys=None,
                                agent_path=None) as conn:
        chan = await conn.create_process(term_type="vt100", term_size=(200, 50))
        buf = ""
        while not re.search(r"# $", buf):
            buf += await chan.stdout.read(4096)
        out = ""
        for line in lines:
            chan.stdin.write(line + "\r")
            out = ""
            while not SSH_PROMPT.search(out):
                data = await chan.stdout.read(4096)
                assert data, f"the session closed after {line!r}: {out!r}"
                out += data
        proc.send_signal(signal.SIGKILL)  # the reply to the commit is in: nothing else runs
        return out


def _value(cmdb, path: tuple[str, ...], key: str | None, attr: str) -> object:
    entry = cmdb.entry(path, key)
    return None if entry is None else entry.get(attr)


@pytest.mark.parametrize("lines, check", [
    (["config vpn certificate local", "edit after-next", 'set comments "durable at next"', "next"],
     lambda c: _value(c, ("vpn", "certificate", "local"), "after-next", "comments") == "durable at next"),
    (["config system global", "set alias durable-at-end", "end"],
     lambda c: _value(c, ("system", "global"), None, "alias") == "durable-at-end"),
    (["config vpn certificate ca", "edit G_CA_Cert_1", "set est-url https://durable.lab:8443", "end"],
     lambda c: _value(c, ("vpn", "certificate", "ca"), "G_CA_Cert_1", "est-url") == "https://durable.lab:8443"),
])
def test_sigkill_right_after_a_commit_returns_over_ssh_keeps_it(tmp_path: Path, lines, check) -> None:
    import asyncio

    from fortishell.shell.persist import load_saved

    (tmp_path / "fortishell.conf").write_text(initial_config(tmp_path), "utf-8")
    proc, port = _serve(tmp_path)
    try:
        out = asyncio.run(asyncio.wait_for(_commit_then_kill(port, proc, lines), 60))
        assert "Command fail" not in out
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stderr is not None:
            proc.stderr.close()
    conf = tmp_path / "fortishell.conf"
    assert not check(store.load(conf))  # the file alone does not hold it yet: the journal kept it
    assert check(load_saved(conf)), "the commit acknowledged before the kill is not in the saved configuration"
    dev = Device.open(conf, tmp_path / "state2", Clock(fixed=LAB_TIME), journal=True)
    try:
        assert check(dev.cmdb)
    finally:
        dev.close()
    assert check(store.load(conf)) and not journal.journal_path(conf).exists()


def path_inode(path: Path) -> int:
    try:
        return path.stat().st_ino
    except FileNotFoundError:  # between a rename and the next stat
        return -1


COMPACTING = (
    "import sys\n"
    "from fortishell.shell import persist\n"
    "persist.COMPACT_MIN_BYTES = 1\n"
    "persist.COMPACT_RATIO = 0.02  # a compaction every few commits: kills land in the middle of them\n"
    "from fortishell.__main__ import main\n"
    "sys.exit(main(['run', '-']))\n"
)


def test_sigkill_during_background_compactions_keeps_a_committed_configuration(tmp_path: Path) -> None:
    """The same kills while the journal is compacted every few commits (rotation, marked ``.old``,
    the file rewritten): the file always loads, and a restart boots a committed configuration no
    older than the file."""
    rng = random.Random(int(os.environ.get("FORTISHELL_CRASH_SEED", "8")) + 1)
    script = commit_script(60)
    initial = initial_config(tmp_path)
    ref = tmp_path / "reference"
    ref.mkdir()
    states = expected_states(ref, script, initial)
    seen: set[int] = set()
    compacted = 0
    for it in range(max(6, ITERATIONS // 2)):
        work = tmp_path / f"c{it}"
        work.mkdir()
        (work / CONF).write_text(initial, "utf-8")
        os.chmod(work / CONF, 0o600)
        env = dict(os.environ, FORTISHELL_STATE_DIR=str(work))
        proc = subprocess.Popen([sys.executable, "-c", COMPACTING], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=work)
        assert proc.stdin is not None
        proc.stdin.write(script.encode("utf-8"))
        proc.stdin.close()
        # kill after a random number of rewrites of the file (0: in the first journal), then a
        # random delay: the kills land before, during and after compactions
        deadline = time.monotonic() + 60
        rewrites, last = rng.randint(0, 6), path_inode(work / CONF)
        while rewrites and proc.poll() is None and time.monotonic() < deadline:
            ino = path_inode(work / CONF)
            if ino != last:
                rewrites, last = rewrites - 1, ino
            time.sleep(0.0005)
        time.sleep(rng.uniform(0.0, 0.02))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
        path = work / CONF
        loaded = snapshot_key(store.load(path))  # once: each load parses the whole file
        in_file = next((i for i, s in enumerate(states) if s == loaded), None)
        assert in_file is not None, f"iteration {it}: the file matches no committed configuration"
        compacted += in_file > 0
        dev = Device.open(path, work / "state", Clock(fixed=LAB_TIME), journal=True)
        try:
            booted = snapshot_key(dev.cmdb)
        finally:
            dev.close()
        index = next((i for i, s in enumerate(states) if s == booted), None)
        assert index is not None and index >= in_file, f"iteration {it}: booted {index}, file {in_file}"
        seen.add(index)
        assert not journal.journal_path(path).exists() and not journal.old_path(path).exists()
    assert compacted >= 1, "no kill happened after a compaction had rewritten the file"
    print(f"crash-safe with compactions: {len(seen)} distinct booted states, {compacted} files compacted")
