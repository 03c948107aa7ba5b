#!/usr/bin/env python3
"""Load on the REST door of ``fortishell serve --https-port``, against a do-nothing peer.

    .venv/bin/python bench/rest_api.py [--clients 16] [--requests 2000]

1. starts ``fortishell serve --https-port 0 --no-ssh --shared`` as a subprocess
   (127.0.0.1, a fresh state directory) and, as the peer, a do-nothing aiohttp
   application in another subprocess: the same server library, the same TLS
   certificate and settings, answering every request with a fixed small JSON
   envelope (reading the body of a PUT);
2. makes an API user and key over the API (session login, accprofile, api-user,
   generate-key) and an entry ``bench-1`` in ``vpn.certificate/local``;
3. for each operation (GET of that entry; PUT of one attribute of it, a real
   commit to the journal each time) and each server, ``--clients`` keep-alive
   HTTPS clients (one connection each, aiohttp client) send ``--requests``
   requests in all, back to back;
4. prints per server requests/s, p50 / p99 latency, the server process's CPU
   time per request (user + system from /proc), and the ratios fortishell/peer
   of CPU per request and of p99.  Targets (issue 21): CPU per request within 2x
   of the peer, p99 under 20 ms;
5. the SSH door of the same process: one interactive SSH session types
   ``get system status | grep Hostname`` over and over, alone and then while the
   PUT load runs; prints both p99s (the target: the SSH p99 holds under API load).
   The clients share one process (this one), so client-side queueing is in every
   figure; on a busy machine compare the ratios rather than the absolute times.

Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "fortishell"
TICK = os.sysconf("SC_CLK_TCK")
TARGET_RATIO, TARGET_P99_MS = 2.0, 20.0
ENTRY = "/api/v2/cmdb/vpn.certificate/local/bench-1"


# ------------------------------------------------------------------ the peer
def peer_main(state: Path) -> None:
    from aiohttp import web

    from fortishell.rest.tls import server_context

    body = json.dumps({"http_method": "GET", "http_status": 200, "status": "success", "results": [],
                       "vdom": "root", "serial": "PEER", "version": "v7.6.1", "build": 197}, indent=2).encode()

    async def nothing(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    async def serve() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", nothing)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(state))
        await site.start()
        print(f"peer on https://127.0.0.1:{runner.addresses[0][1]}/", file=sys.stderr, flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


# ------------------------------------------------------------------ measuring
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def load(base: str, method: str, token: str, clients: int, total: int, ctx: ssl.SSLContext) -> list[float]:
    """``total`` requests from ``clients`` keep-alive clients; latencies in seconds."""
    latencies: list[float] = []
    per = total // clients
    headers = {"Authorization": f"Bearer {token}"}

    async def client(n: int) -> None:
        conn = aiohttp.TCPConnector(limit=1, ssl=ctx)
        async with aiohttp.ClientSession(base, connector=conn, headers=headers) as s:
            for i in range(per):
                start = time.perf_counter()
                if method == "GET":
                    async with s.get(ENTRY) as r:
                        await r.read()
                else:
                    async with s.put(ENTRY, json={"comments": f"c{n}-{i}"}) as r:
                        await r.read()
                latencies.append(time.perf_counter() - start)
                if r.status != 200:
                    raise RuntimeError(f"{method} answered {r.status}")

    await asyncio.wait_for(asyncio.gather(*(client(n) for n in range(clients))), 600)
    return latencies


PROMPT = re.compile(r"\r\n\r\n[\w~_-]+ (\([^)]*\) )?# $")


async def ssh_latencies(port: int, background: Any) -> list[float]:
    """Latencies of one interactive SSH session's commands, with ``background()`` load running (or none)."""
    import asyncssh

    async with asyncssh.connect("127.0.0.1", port, username="admin", password="", known_hosts=None,
                                client_keys=None, agent_path=None) as conn:
        proc = await conn.create_process(term_type="vt100", term_size=(200, 50))
        buf = ""
        while not re.search(r"# $", buf):
            buf += await asyncio.wait_for(proc.stdout.read(4096), 20)
        proc.stdin.write("config system console\rset output standard\rend\r")
        out: list[float] = []
        task = asyncio.ensure_future(background()) if background is not None else None
        end = time.perf_counter() + 3.0
        while (task is not None and not task.done()) or (task is None and time.perf_counter() < end):
            buf = ""
            await asyncio.sleep(0.01)
            start = time.perf_counter()
            proc.stdin.write("get system status | grep Hostname\r")
            while not (PROMPT.search(buf) and "Hostname" in buf):
                buf += await asyncio.wait_for(proc.stdout.read(4096), 20)
            out.append(time.perf_counter() - start)
        if task is not None:
            await task
        proc.stdin.write("exit\r")
        return out[3:] if len(out) > 10 else out


def start(argv: list[str], pattern: str) -> tuple[subprocess.Popen[str], Any]:
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.stderr is not None
    line = proc.stderr.readline()
    m = re.search(pattern, line)
    if m is None:
        proc.kill()
        raise SystemExit(f"could not start {argv[:3]}: {line}{proc.stderr.read()}")
    ports = tuple(int(g) for g in m.groups())
    return proc, ports if len(ports) > 1 else ports[0]


async def setup(base: str, ctx: ssl.SSLContext) -> str:
    async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(ssl=ctx)) as s:
        async with s.post("/api/v2/authentication", json={"username": "admin", "secretkey": ""}) as r:
            key = (await r.json())["session_key"]
        h = {"Authorization": f"Bearer {key}"}
        for url, body in (("/api/v2/cmdb/system/accprofile", {"name": "rw", "sysgrp": "read-write",
                                                             "vpngrp": "read-write"}),
                          ("/api/v2/cmdb/system/api-user", {"name": "bench", "accprofile": "rw"}),
                          ("/api/v2/cmdb/vpn.certificate/local", {"name": "bench-1", "comments": "start"})):
            async with s.post(url, json=body, headers=h) as r:
                assert r.status == 200, await r.text()
        async with s.post("/api/v2/monitor/system/api-user/generate-key", json={"api-user": "bench"},
                          headers=h) as r:
            return str((await r.json())["results"]["access_token"])


def summary(name: str, lat: list[float], cpu: float, wall: float) -> tuple[float, float]:
    lat = sorted(lat)
    p50, p99 = statistics.median(lat) * 1000, lat[int(len(lat) * 0.99) - 1] * 1000
    per = cpu / len(lat) * 1000
    print(f"  {name:<11} {len(lat) / wall:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
          f"server CPU {per:.3f} ms/request")
    return per, p99


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--peer-server", metavar="STATE", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_server:
        peer_main(Path(args.peer_server))
        return 0
    with tempfile.TemporaryDirectory(prefix="rest-bench-") as tmp:
        state = Path(tmp) / "st"
        fs, fs_port = start([str(EXE), "serve", "--port", "0", "--https-port", "0", "--shared", "--state-dir",
                             str(state)], r"SSH on 127\.0\.0\.1:(\d+), REST API on https://127\.0\.0\.1:(\d+)/")
        ssh_port, fs_port = fs_port
        peer, peer_port = start([sys.executable, __file__, "--peer-server", str(state)], r"peer on .*:(\d+)/")
        ctx = ssl.create_default_context(cafile=str(state / "rest_admin.crt"))
        failed = False
        try:
            fs_base, peer_base = f"https://127.0.0.1:{fs_port}", f"https://127.0.0.1:{peer_port}"
            token = asyncio.run(setup(fs_base, ctx))
            print(f"{args.clients} keep-alive HTTPS clients, {args.requests} requests per run "
                  f"(fortishell = serve --https-port, peer = do-nothing aiohttp handler)")
            for method in ("GET", "PUT"):
                what = "GET one entry" if method == "GET" else "PUT one attribute (a commit each)"
                print(what)
                results = {}
                for name, base, proc in (("peer", peer_base, peer), ("fortishell", fs_base, fs)):
                    asyncio.run(load(base, method, token, args.clients, args.clients * 10, ctx))  # warm-up
                    cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
                    lat = asyncio.run(load(base, method, token, args.clients, args.requests, ctx))
                    wall, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
                    results[name] = summary(name, lat, cpu, wall)
                ratio = results["fortishell"][0] / results["peer"][0]
                p99 = results["fortishell"][1]
                print(f"  ratio fortishell/peer: CPU per request {ratio:.2f}x (target <= {TARGET_RATIO}x), "
                      f"p99 {p99 / results['peer'][1]:.2f}x; fortishell p99 {p99:.2f} ms (target < {TARGET_P99_MS} ms)")
                failed |= ratio > TARGET_RATIO or p99 > TARGET_P99_MS
            quiet = asyncio.run(ssh_latencies(ssh_port, None))
            loaded = asyncio.run(ssh_latencies(ssh_port, lambda: load(fs_base, "PUT", token, args.clients,
                                                                        args.requests, ctx)))
            q99, l99 = (sorted(x)[int(len(x) * 0.99) - 1] * 1000 for x in (quiet, loaded))
            print(f"SSH session on the same process: p99 {q99:.2f} ms alone, {l99:.2f} ms under the PUT load "
                  f"({l99 / q99:.2f}x; {len(loaded)} commands)")
        finally:
            for proc in (fs, peer):
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
