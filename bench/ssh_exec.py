#!/usr/bin/env python3
"""Exec requests: ``ssh host 'cmd'`` against ``fortishell serve``, one call after another.

    .venv/bin/python bench/ssh_exec.py [--calls 200] [--command 'get system status']

1. Starts ``fortishell serve`` on 127.0.0.1 (any free port, its own state directory).
2. Starts the peer: a minimal asyncssh server (this script with ``--peer``) with the same host
   key type and key exchange list, that accepts the same login, answers every exec request
   with exit status 0 and runs nothing -- the cost of starting the ``ssh`` client, key
   exchange, authentication and channel set-up alone.
3. Makes ``--calls`` sequential OpenSSH ``ssh -p PORT admin@127.0.0.1 CMD`` calls against each,
   alternating between the two (both see the same machine load), each call timed from process
   start to exit.
4. Prints median and p99 per server and the ratios fortishell / peer: what running the
   command on an emulated device adds to a bare SSH round trip.
Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no", "-F", "/dev/null"]


async def _peer(state: Path) -> None:
    """A do-nothing SSH server: any exec request ends at once with exit status 0."""
    import asyncssh

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return False  # as fortishell's factory admin: no password

    def process(proc: asyncssh.SSHServerProcess[str]) -> None:
        proc.exit(0)

    from fortishell.ssh.server import KEX_ALGS

    key = asyncssh.generate_private_key("ssh-ed25519")  # the host key type fortishell serve uses
    server = await asyncssh.create_server(Server, "127.0.0.1", 0, server_host_keys=[key], process_factory=process,
                                          kex_algs=KEX_ALGS)  # the same key exchange choices
    port = server.sockets[0].getsockname()[1]
    print(f"peer SSH on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


def _start(cmd: list[str], pattern: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.stderr is not None
    line = proc.stderr.readline()
    m = re.search(pattern, line)
    if not m:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, int(m.group(1))


def _call(port: int, command: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(["ssh", "-p", str(port), *SSH_OPTS, "admin@127.0.0.1", command], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start, proc


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200, help="ssh calls per server (default: 200)")
    ap.add_argument("--command", default="get system status", help="the command (default: get system status)")
    ap.add_argument("--peer", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        asyncio.run(_peer(Path(args.peer)))
        return 0
    if shutil.which("ssh") is None:
        print("needs the OpenSSH client (ssh)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="ssh-exec-bench-") as tmp:
        fs, fs_port = _start([sys.executable, "-m", "fortishell", "serve", "--port", "0", "--state-dir", f"{tmp}/fs"],
                             r"SSH on 127\.0\.0\.1:(\d+)")
        peer, peer_port = _start([sys.executable, __file__, "--peer", f"{tmp}/peer"], r"peer SSH on 127\.0\.0\.1:(\d+)")
        try:
            _, first = _call(fs_port, args.command)
            if first.returncode != 0 or "FortiProxy #" not in first.stdout:
                raise SystemExit(f"fortishell exec failed ({first.returncode}): {first.stdout!r} {first.stderr!r}")
            if _call(peer_port, args.command)[1].returncode != 0:
                raise SystemExit("peer exec failed")
            times: dict[str, list[float]] = {"fortishell serve": [], "peer (asyncssh, runs nothing)": []}
            for _ in range(args.calls):
                for name, port in (("fortishell serve", fs_port), ("peer (asyncssh, runs nothing)", peer_port)):
                    seconds, proc = _call(port, args.command)
                    if proc.returncode != 0:
                        raise SystemExit(f"{name}: ssh exited {proc.returncode}: {proc.stderr!r}")
                    times[name].append(seconds)
        finally:
            for p in (fs, peer):
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
    print(f"{args.calls} sequential `ssh -p PORT admin@127.0.0.1 {args.command!r}` calls per server (OpenSSH client)")
    rows = {}
    for name, values in times.items():
        rows[name] = (statistics.median(values) * 1000, _p99(values) * 1000)
        print(f"  {name:32s} median {rows[name][0]:7.1f} ms   p99 {rows[name][1]:7.1f} ms")
    (fm, fp), (pm, pp) = rows.values()
    print(f"  ratio fortishell / peer         median {fm / pm:7.2f}x     p99 {fp / pp:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
