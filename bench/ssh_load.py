#!/usr/bin/env python3
"""Load on ``fortishell serve``: concurrent SSH sessions replaying CLI scripts.

    .venv/bin/python bench/ssh_load.py [--sessions 50] [--lines 200] [--shared]

1. Starts ``fortishell serve`` as a subprocess on 127.0.0.1 (any free port), with a
   users file of ``--sessions`` users (one device each, or one ``--shared`` device).
2. Opens all sessions at once (asyncssh client, a vt100 pty each), waits until
   every one shows its prompt, and reads the server's resident memory: the
   delta over the idle server, divided by the sessions, is the memory per idle
   session (target < 10 MB).
3. Every session replays its own ``--lines``-line script (configuration edits,
   ``show``, ``get ... | grep``) concurrently; the time from sending a line to
   the next prompt is that command's latency.  Prints p50 / p99 (target p99 <
   100 ms) and the total time.
4. Replays the same scripts locally with ``fortishell run`` in one process and
   prints its total time and mean time per command, for comparison.
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


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


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


class Client:
    def __init__(self, user: str) -> None:
        self.user = user
        self.buf = ""
        self.latencies: list[float] = []

    async def open(self, port: int) -> None:
        import asyncssh

        self.conn = await asyncssh.connect("127.0.0.1", port, username=self.user, known_hosts=None,
                                           client_keys=None, agent_path=None)
        self.proc = await self.conn.create_process(term_type="vt100", term_size=(511, 1000))
        await self.until(FIRST_PROMPT)

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
            out = await self.until(PROMPT)
            self.latencies.append(time.perf_counter() - t0)
            if "Command fail" in out:
                raise RuntimeError(f"{self.user}: {line!r} failed: {out!r}")

    async def close(self) -> None:
        self.proc.stdin.write("exit\r")
        self.conn.close()
        await self.conn.wait_closed()


async def ssh_load(port: int, pid: int, sessions: int, scripts: list[list[str]]) -> dict[str, float]:
    warm = Client("u00")  # the first login pays the imports and the lab/factory set-up once
    await asyncio.wait_for(warm.open(port), 60)
    await warm.close()
    await asyncio.sleep(0.5)
    base = rss_kb(pid)
    clients = [Client(f"u{i:02d}") for i in range(sessions)]
    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(c.open(port) for c in clients)), 120)
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(0.5)
    idle = rss_kb(pid)
    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(c.replay(s) for c, s in zip(clients, scripts))), 600)
    total_s = time.perf_counter() - t0
    after = rss_kb(pid)
    await asyncio.gather(*(c.close() for c in clients))
    lat = sorted(x for c in clients for x in c.latencies)
    return {
        "connect_s": connect_s,
        "total_s": total_s,
        "commands": len(lat),
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        "max_ms": 1000 * lat[-1],
        "base_mb": base / 1024,
        "idle_mb_per_session": (idle - base) / 1024 / sessions,
        "busy_mb_per_session": (after - base) / 1024 / sessions,
    }


def local_replay(state: Path, scripts: list[list[str]]) -> tuple[float, int]:
    paths = []
    for i, script in enumerate(scripts):
        p = state / f"s{i:02d}.cli"
        p.write_text("\n".join(script) + "\n")
        paths.append(str(p))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "fortishell", "--state-dir", str(state / "local"), "run", *paths],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, PYTHONWARNINGS="ignore"))
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"fortishell run failed ({res.returncode}): {res.stdout[-500:]}{res.stderr[-500:]}")
    return elapsed, sum(len(s) for s in scripts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--lines", type=int, default=200)
    ap.add_argument("--shared", action="store_true", help="all sessions on one shared device")
    args = ap.parse_args()
    scripts = [make_script(i, args.lines) for i in range(args.sessions)]
    with tempfile.TemporaryDirectory(prefix="fortishell-ssh-load-") as tmp:
        state = Path(tmp)
        proc, port = start_server(state, args.sessions, args.shared)
        try:
            r = asyncio.run(ssh_load(port, proc.pid, args.sessions, scripts))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        local_s, local_cmds = local_replay(state, scripts)
    mode = "shared device" if args.shared else "one device per user"
    print(f"SSH load: {args.sessions} concurrent sessions x {args.lines} lines ({mode}), loopback")
    print(f"  connect all sessions      {r['connect_s']:8.2f} s")
    print(f"  replay total              {r['total_s']:8.2f} s   ({r['commands']} commands, "
          f"{r['commands'] / r['total_s']:.0f} commands/s)")
    print(f"  latency p50 / p99 / max   {r['p50_ms']:6.1f} / {r['p99_ms']:6.1f} / {r['max_ms']:6.1f} ms   "
          f"(target p99 < 100 ms: {'ok' if r['p99_ms'] < 100 else 'MISSED'})")
    print(f"  server RSS idle base      {r['base_mb']:8.1f} MB")
    print(f"  RSS per idle session      {r['idle_mb_per_session']:8.2f} MB   "
          f"(target < 10 MB: {'ok' if r['idle_mb_per_session'] < 10 else 'MISSED'})")
    print(f"  RSS per session after run {r['busy_mb_per_session']:8.2f} MB")
    print(f"local `fortishell run`, same {args.sessions} scripts in one process:")
    print(f"  total                     {local_s:8.2f} s   ({local_cmds} commands, "
          f"{1000 * local_s / local_cmds:.2f} ms/command incl. start-up)")
    print(f"  ratio SSH total / local   {r['total_s'] / local_s:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
