"""Benchmark: lab EST responder enrollments per second vs. raw OpenSSL handshakes and vs. one core.

    python bench/lab_enroll.py [--count 64] [--time-limit 30] [--workers N]

Starts ``fortishell lab-server`` twice as subprocesses on 127.0.0.1 (their own
interpreters, so the load generator does not share their GIL): with the default
worker processes (one per core; ``--workers N`` to choose) and with ``--workers 1``
(one process, the "one core" reference), each on its own state directory.  Makes
EC P-256 CSRs in advance and runs COUNT complete ``simpleenroll`` requests (new TLS
connection each, Basic auth, as a device does) with 1, 8 and 32 concurrent clients
against each.  As the physical-limit reference it runs the same number of
``openssl s_client`` handshakes against ``openssl s_server`` (same server key, same
concurrency).  Prints the rates, the ratio to the OpenSSL handshakes and the ratio
to one worker.  The load generator runs on the same machine (it takes its share
of the cores).  The lab states live in a temporary directory: on disk, every
enrollment waits for the state's fsyncs (serial counter, issued index), which the
workers take turns at; ``TMPDIR=/dev/shm`` puts them in memory to measure the rest.
Loopback only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from fortishell.lab.ca import LabCA  # noqa: E402

LEVELS = (1, 8, 32)


def make_csrs(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"bench-{i}")]))
            .sign(key, hashes.SHA256())
        )
        out.append(base64.b64encode(csr.public_bytes(serialization.Encoding.DER)))
    return out


def enroll_once(port: int, ctx: ssl.SSLContext, body: bytes) -> None:
    auth = base64.b64encode(b"estuser:estpwd").decode()
    head = (
        "POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: testrfc7030.com\r\n"
        f"Authorization: Basic {auth}\r\nContent-Type: application/pkcs10\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as tcp:
        with ctx.wrap_socket(tcp, server_hostname="testrfc7030.com") as tls:
            tls.sendall(head + body)
            data = b""
            while b"\r\n\r\n" not in data:
                data += tls.recv(65536)
            if not data.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(data[:80])
            length = int(data.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            body_got = data.split(b"\r\n\r\n", 1)[1]
            while len(body_got) < length:
                body_got += tls.recv(65536)


def timed(jobs: list, concurrency: int, fn, limit: float) -> float:
    """Run fn(job) for every job with `concurrency` workers; returns jobs per second."""
    deadline = time.monotonic() + limit
    done = 0
    lock = threading.Lock()

    def work(job) -> None:
        nonlocal done
        if time.monotonic() > deadline:
            return
        fn(job)
        with lock:
            done += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(work, jobs))
    return done / (time.perf_counter() - start)


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of process ``pid`` and its children so far (Linux /proc; else None)."""
    total = 0.0
    try:
        tick = os.sysconf("SC_CLK_TCK")
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat.parent.name) == pid or int(fields[1]) == pid:
                total += (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError):
        return None
    return total


def timed_cpu(pid: int, jobs: list, concurrency: int, fn, limit: float) -> tuple[float, float | None]:
    """(jobs per second, cores the server kept busy meanwhile: its CPU seconds / wall seconds)."""
    before, start = cpu_seconds(pid), time.perf_counter()
    rate = timed(jobs, concurrency, fn, limit)
    after, wall = cpu_seconds(pid), time.perf_counter() - start
    return rate, (after - before) / wall if before is not None and after is not None else None


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=64, help="enrollments (and handshakes) per concurrency level")
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per measurement at most")
    ap.add_argument("--workers", type=int, default=None,
                    help="lab-server --workers for the first server (default: its own default, one per core)")
    args = ap.parse_args(argv)
    if not shutil.which("openssl"):
        print("openssl is required for the reference measurement", file=sys.stderr)
        return 2
    ca = LabCA.shipped()
    tmp = Path(tempfile.mkdtemp(prefix="lab-bench-"))
    (tmp / "ca.pem").write_text(ca.cert_pem)
    (tmp / "chain.pem").write_text(ca.server_cert_pem + ca.cert_pem)
    (tmp / "key.pem").write_text(ca.server_key_pem)
    ctx = ssl.create_default_context(cadata=ca.cert_pem)
    csrs = make_csrs(args.count * len(LEVELS))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def lab_server(name: str, extra: list[str]) -> tuple[subprocess.Popen[str], int, str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fortishell", "--state-dir", str(tmp / name), "lab-server", "--port", "0",
             *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # "EST lab responder listening on URL (...); N worker processes; ..."
        if not first.startswith("EST lab responder listening on "):
            raise RuntimeError(f"lab-server did not start: {first!r}")
        for _ in range(2):
            proc.stdout.readline()
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # the access log, drained
        return proc, int(first.split()[5].rsplit(":", 1)[1]), first.split("; ")[1]

    many = ["--workers", str(args.workers)] if args.workers else []
    lab, port, described = lab_server("many", many)
    one, one_port, _ = lab_server("one", ["--workers", "1"])
    ref_port = free_port()
    ref = subprocess.Popen(
        ["openssl", "s_server", "-accept", str(ref_port), "-cert", str(tmp / "chain.pem"), "-key", str(tmp / "key.pem"),
         "-quiet", "-naccept", str(10 * args.count * len(LEVELS))],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def handshake(_: int) -> None:
        subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{ref_port}", "-CAfile", str(tmp / "ca.pem"),
             "-servername", "testrfc7030.com", "-verify_return_error", "-brief"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15, check=True,
        )

    try:
        wait_port(ref_port)
        print(f"lab-server: {described} (cores here: {os.cpu_count()}); one core: --workers 1; "
              f"lab states in {tmp}")
        print("(cores busy: the server's CPU seconds per wall second while it was measured)")
        print(f"{'clients':>7}  {'lab enroll/s':>12}  {'cores busy':>10}  {'1 worker/s':>10}  {'cores busy':>10}  "
              f"{'openssl hs/s':>12}  {'vs openssl':>10}  {'vs 1 core':>9}")
        for i, level in enumerate(LEVELS):
            jobs = csrs[i * args.count : (i + 1) * args.count]
            lab_rate, lab_cores = timed_cpu(lab.pid, jobs, level, lambda b: enroll_once(port, ctx, b), args.time_limit)
            one_rate, one_cores = timed_cpu(one.pid, jobs, level, lambda b: enroll_once(one_port, ctx, b),
                                            args.time_limit)
            ref_rate = timed(list(range(args.count)), level, handshake, args.time_limit)
            print(f"{level:>7}  {lab_rate:>12.1f}  {_cores(lab_cores):>10}  {one_rate:>10.1f}  {_cores(one_cores):>10}  "
                  f"{ref_rate:>12.1f}  {lab_rate / ref_rate:>10.2f}  {lab_rate / one_rate:>9.2f}", flush=True)
    finally:
        for p in (lab, one, ref):
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
