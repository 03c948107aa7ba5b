#!/usr/bin/env python3
"""Load on ``fortishell serve``: concurrent SSH sessions replaying CLI scripts.

    .venv/bin/python bench/ssh_load.py [--sessions 50] [--lines 200] [--mode both|per-user|shared]
                                       [--peer-python PATH]

For each mode (one device per user, or one ``--shared`` device):

1. starts ``fortishell serve`` as a subprocess on 127.0.0.1 (any free port);
2. opens all sessions at once (asyncssh client, a vt100 pty each), waits for
   every prompt and reads the server's resident memory: the growth over the
   server after one warm-up login, divided by the sessions, is the memory per
   idle session (target <= 0.3 MB);
3. every session replays its own ``--lines``-line script (configuration edits
   with ``next``/``end``, ``show`` of the new entry, ``get ... | grep``)
   concurrently; a command's latency is the time from sending its line to the
   next prompt.  Prints commands/s (target >= 2,000), p50 / p99 (target < 50 ms)
   / max, the server's CPU time per command line (user + system time of the
   server process over the replay, divided by the lines: target <= 0.4 ms) and
   the failed commands (target 0).

Peers measured in the same run:

* ``fortishell run`` replaying the same scripts locally in one process (no SSH);
* with ``--peer-python`` (a Python that has fake-switches installed, see
  ``bench/peer_fake_switches.py``): fake-switches 1.5.0 serving one
  ``cisco_generic`` switch to the same number of sessions, each replaying an
  equivalent script (``configure terminal`` / ``vlan N`` / ``name`` x2 / ``exit``
  x2, ``show running-config vlan N``, ``show running-config interface``).
  The ratios against it are printed.

Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = re.compile(r"\r\n\r\n[\w~_-]+ (\([^)]*\) )?# $")
FIRST_PROMPT = re.compile(r"[\w~_-]+ # $")
PEER_PROMPT = re.compile(r"\r\nswitch(\([\w-]+\))?#$")
PEER_FIRST = re.compile(r"switch>$")
TICK = os.sysconf("SC_CLK_TCK")
TARGET_RATE, TARGET_P99_MS, TARGET_CPU_MS, TARGET_IDLE_MB = 2000, 50, 0.4, 0.3


def make_script(n: int, lines: int) -> list[str]:
    out = ["config system console", "set output standard", "end"]
    k = 0
    while len(out) + 8 <= lines:
        out += ["config vpn certificate local", f"edit b{n:02d}-{k:03d}", f'set comments "bench {n} {k}"',
                f"set auto-regenerate-days {k + 1}", "next", "end",
                f"show vpn certificate local b{n:02d}-{k:03d}", "get system status | grep Version"]
        k += 1
    while len(out) < lines:
        out.append("get system status | grep Hostname")
    return out


def make_peer_script(n: int, lines: int) -> list[str]:
    """The same shape for a Cisco-style CLI: 6 configuration lines, a show of the new item, a show."""
    out = ["terminal length 0", "configure terminal", "exit"]
    k = 0
    while len(out) + 8 <= lines:
        vlan = 2 + n * 40 + k
        out += ["configure terminal", f"vlan {vlan}", f"name bench-{n}-{k}", f"name b-{n}-{k}", "exit", "exit",
                f"show running-config vlan {vlan}", "show running-config interface FastEthernet0/1"]
        k += 1
    while len(out) < lines:
        out.append("show running-config interface FastEthernet0/2")
    return out


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_s(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_server(state: Path, sessions: int, shared: bool) -> tuple[subprocess.Popen[str], int]:
    users = state / "users.toml"
    users.write_text("".join(f"[users.u{i:02d}]\n" for i in range(sessions)))
    cmd = [sys.executable, "-m", "fortishell", "serve", "--port", "0", "--state-dir", str(state / "srv"),
           "--users", str(users)] + (["--shared"] if shared else [])
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.stderr is not None
    line = proc.stderr.readline()
    m = re.search(r"SSH on 127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, int(m.group(1))


def start_peer(python: str) -> tuple[subprocess.Popen[str], int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen([python, str(ROOT / "bench" / "peer_fake_switches.py"), str(port)],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    while line and "peer on" not in line:
        line = proc.stderr.readline()
    if not line:
        proc.kill()
        raise SystemExit("fake-switches did not start")
    return proc, port


class Client:
    """One SSH session: ``prompt`` ends every command's output, ``failed`` marks an error reply."""

    def __init__(self, user: str, *, password: str | None = None, first: re.Pattern[str] = FIRST_PROMPT,
                 prompt: re.Pattern[str] = PROMPT, failed: tuple[str, ...] = ("Command fail",),
                 login: tuple[str, ...] = ()) -> None:
        self.user, self.password = user, password
        self.first, self.prompt, self.failed, self.login = first, prompt, failed, login
        self.buf = ""
        self.latencies: list[float] = []
        self.errors: list[str] = []

    async def open(self, port: int) -> None:
        import asyncssh

        self.conn = await asyncssh.connect("127.0.0.1", port, username=self.user, password=self.password,
                                           known_hosts=None, client_keys=None, agent_path=None)
        self.proc = await self.conn.create_process(term_type="vt100", term_size=(511, 1000))
        await self.until(self.first)
        for line in self.login:  # e.g. `enable` + its password: not timed
            self.proc.stdin.write(line + "\r")
            await self.until(re.compile(r"(Password: |#)$"))

    async def until(self, pat: re.Pattern[str]) -> str:
        while not pat.search(self.buf):
            data = await self.proc.stdout.read(65536)
            if not data:
                raise EOFError(f"{self.user}: session closed: {self.buf[-200:]!r}")
            self.buf += data
        out, self.buf = self.buf, ""
        return out

    async def replay(self, script: list[str]) -> None:
        for line in script:
            t0 = time.perf_counter()
            self.proc.stdin.write(line + "\r")
            out = await self.until(self.prompt)
            self.latencies.append(time.perf_counter() - t0)
            if any(f in out for f in self.failed):
                self.errors.append(f"{self.user}: {line!r}: {out[-200:]!r}")

    async def close(self) -> None:
        self.proc.stdin.write("exit\r")
        self.conn.close()
        await self.conn.wait_closed()


async def load(port: int, pid: int, clients: list[Client], scripts: list[list[str]],
               warm: Client) -> dict[str, float]:
    await asyncio.wait_for(warm.open(port), 60)  # the first login pays the imports and set-up once
    await warm.close()
    await asyncio.sleep(0.5)
    base = rss_kb(pid)
    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(c.open(port) for c in clients)), 120)
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(0.5)
    idle = rss_kb(pid)
    cpu0 = cpu_s(pid)
    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(c.replay(s) for c, s in zip(clients, scripts))), 600)
    total_s = time.perf_counter() - t0
    cpu = cpu_s(pid) - cpu0
    after = rss_kb(pid)
    await asyncio.gather(*(c.close() for c in clients))
    lat = sorted(x for c in clients for x in c.latencies)
    errors = [e for c in clients for e in c.errors]
    for e in errors[:5]:
        print("  error:", e, file=sys.stderr)
    return {
        "connect_s": connect_s, "total_s": total_s, "commands": len(lat), "rate": len(lat) / total_s,
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "max_ms": 1000 * lat[-1], "cpu_ms": 1000 * cpu / len(lat), "errors": len(errors),
        "base_mb": base / 1024, "idle_mb": (idle - base) / 1024 / len(clients),
        "busy_mb": (after - base) / 1024 / len(clients),
    }


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def run_fortishell(state: Path, sessions: int, scripts: list[list[str]], shared: bool) -> dict[str, float]:
    proc, port = start_server(state, sessions, shared)
    try:
        clients = [Client(f"u{i:02d}") for i in range(sessions)]
        return asyncio.run(load(port, proc.pid, clients, scripts, Client("u00")))
    finally:
        stop(proc)


def run_peer(python: str, sessions: int, lines: int) -> dict[str, float]:
    proc, port = start_peer(python)
    try:
        def client() -> Client:
            return Client("root", password="root", first=PEER_FIRST, prompt=PEER_PROMPT,
                          failed=("No such command", "Invalid input", "% "), login=("enable", "root"))
        scripts = [make_peer_script(i, lines) for i in range(sessions)]
        return asyncio.run(load(port, proc.pid, [client() for _ in range(sessions)], scripts, client()))
    finally:
        stop(proc)


def local_replay(state: Path, scripts: list[list[str]]) -> dict[str, float]:
    paths = []
    for i, script in enumerate(scripts):
        p = state / f"s{i:02d}.cli"
        p.write_text("\n".join(script) + "\n")
        paths.append(str(p))
    before = os.times()
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "fortishell", "--state-dir", str(state / "local"), "run", *paths],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, PYTHONWARNINGS="ignore"))
    elapsed = time.perf_counter() - t0
    after = os.times()
    if res.returncode != 0:
        raise SystemExit(f"fortishell run failed ({res.returncode}): {res.stdout[-500:]}{res.stderr[-500:]}")
    n = sum(len(s) for s in scripts)
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"total_s": elapsed, "commands": n, "rate": n / elapsed, "cpu_ms": 1000 * cpu / n}


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(name: str, r: dict[str, float], targets: bool = True) -> None:
    print(f"{name}")
    print(f"  connect all sessions      {r['connect_s']:8.2f} s")
    print(f"  replay                    {r['total_s']:8.2f} s   {r['commands']:.0f} commands, "
          f"{r['rate']:6.0f} commands/s" + (f"   (target >= {TARGET_RATE}: {verdict(r['rate'] >= TARGET_RATE)})"
                                             if targets else ""))
    print(f"  latency p50 / p99 / max   {r['p50_ms']:6.1f} / {r['p99_ms']:6.1f} / {r['max_ms']:6.1f} ms"
          + (f"   (target p99 < {TARGET_P99_MS}: {verdict(r['p99_ms'] < TARGET_P99_MS)})" if targets else ""))
    print(f"  server CPU per line       {r['cpu_ms']:8.3f} ms"
          + (f"   (target <= {TARGET_CPU_MS}: {verdict(r['cpu_ms'] <= TARGET_CPU_MS)})" if targets else ""))
    print(f"  RSS base / per idle sess. {r['base_mb']:8.1f} MB / {r['idle_mb']:.3f} MB"
          + (f"   (target <= {TARGET_IDLE_MB}: {verdict(r['idle_mb'] <= TARGET_IDLE_MB)})" if targets else ""))
    print(f"  RSS per session after run {r['busy_mb']:8.3f} MB")
    print(f"  failed commands           {r['errors']:8.0f}" + (f"   (target 0: {verdict(r['errors'] == 0)})"
                                                               if targets else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--mode", choices=("both", "per-user", "shared"), default="both")
    ap.add_argument("--shared", action="store_true", help="same as --mode shared")
    ap.add_argument("--peer-python", default=os.environ.get("FORTISHELL_BENCH_PEER_PYTHON"),
                    help="a Python with fake-switches installed (the named peer)")
    args = ap.parse_args()
    modes = ["shared"] if args.shared else (["per-user", "shared"] if args.mode == "both" else [args.mode])
    scripts = [make_script(i, args.lines) for i in range(args.sessions)]
    print(f"SSH load: {args.sessions} concurrent sessions x {args.lines} lines, loopback, "
          f"{os.cpu_count()} CPUs, load average before {os.getloadavg()[0]:.2f}")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="fortishell-ssh-load-") as tmp:
        state = Path(tmp)
        for mode in modes:
            sub = state / mode
            sub.mkdir()
            results[mode] = r = run_fortishell(sub, args.sessions, scripts, mode == "shared")
            report(f"fortishell serve ({'one shared device' if mode == 'shared' else 'one device per user'})", r)
        peer = None
        if args.peer_python:
            peer = run_peer(args.peer_python, args.sessions, args.lines)
            report("peer: fake-switches 1.5.0 (Twisted), one shared cisco_generic switch", peer, targets=False)
        local = local_replay(state, scripts)
    print(f"local `fortishell run`, the same {args.sessions} scripts in one process (no SSH):")
    print(f"  total                     {local['total_s']:8.2f} s   {local['rate']:6.0f} commands/s, "
          f"{local['cpu_ms']:.3f} ms CPU per line incl. start-up")
    for mode, r in results.items():
        line = (f"ratio {mode:8}: commands/s vs local replay {r['rate'] / local['rate']:5.2f}, "
                f"CPU per line vs local replay {r['cpu_ms'] / local['cpu_ms']:5.2f}")
        if peer is not None:
            line += (f"; vs fake-switches: commands/s {r['rate'] / peer['rate']:5.2f}, "
                     f"p99 {r['p99_ms'] / peer['p99_ms']:5.2f}, CPU per line {r['cpu_ms'] / peer['cpu_ms']:5.2f}, "
                     f"idle memory {r['idle_mb'] / max(peer['idle_mb'], 1e-3):5.1f}")
        print(line)
    print(f"load average after {os.getloadavg()[0]:.2f} (other work on the machine skews every number)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
