"""Crash-safe configuration: SIGKILL the real ``fortishell`` process while it saves.

The process replays a script (``fortishell run -`` fed by a pipe) that commits
many changes, each commit saving the configuration.  It is killed with SIGKILL
at a random moment, many times.  Every time the saved file must load, equal the
configuration before or after one of the commits (never a torn file), have mode
0600, and any temporary file of an interrupted save must be gone once a device
starts on that configuration again.

CI runs 24 kills; ``FORTISHELL_CRASH_ITERATIONS=500`` runs more.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.cmdb import store
from fortishell.replay import transcript
from fortishell.shell.device import Device

EXE = Path(sys.executable).parent / "fortishell"
ITERATIONS = int(os.environ.get("FORTISHELL_CRASH_ITERATIONS", "24"))
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


def _wait_for_saves(path: Path, proc: subprocess.Popen[bytes], saves: int, deadline: float) -> None:
    """Return once ``saves`` replacements of ``path`` were seen (each atomic save makes a new
    inode), or the process ended, or the deadline passed: the kill then lands mid-run."""
    seen, last = 0, path.stat().st_ino
    while seen < saves and proc.poll() is None and time.monotonic() < deadline:
        try:
            ino = path.stat().st_ino
        except FileNotFoundError:
            continue
        if ino != last:
            seen, last = seen + 1, ino
        time.sleep(0.0005)


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
        _wait_for_saves(work / CONF, proc, rng.randint(0, 8), deadline=time.monotonic() + duration * 2 + 5)
        time.sleep(rng.uniform(0.0, 0.01))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()

        path = work / CONF
        assert path.exists(), f"iteration {it}: the configuration file is gone"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"iteration {it}: mode {oct(path.stat().st_mode)}"
        loaded = snapshot_key(store.load(path))  # raises on a torn file
        index = next((i for i, s in enumerate(states) if s == loaded), None)
        assert index is not None, f"iteration {it}: the saved file matches no committed configuration"
        seen.add(index)

        left = temps(work)
        torn_temps += bool(left)
        # the next start cleans up an interrupted save and boots from the intact file
        dev = Device.open(path, work / "state", Clock(fixed=LAB_TIME))
        try:
            assert snapshot_key(dev.cmdb) == states[index]
        finally:
            dev.close()
        assert temps(work) == [], f"iteration {it}: temporary files left after restart: {left}"
    # the kills landed at different points of the run (driven by observed saves, not by timing alone)
    assert len(seen) >= 2, sorted(seen)
    print(f"crash-safe: {ITERATIONS} kills, {len(seen)} distinct saved states, "
          f"{torn_temps} interrupted saves cleaned up")
