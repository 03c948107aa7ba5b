"""Benchmark: lab EST responder enrollments per second vs. raw OpenSSL handshakes.

    python bench/lab_enroll.py [--count 64] [--time-limit 30]

Starts ``fortishell lab-server`` as a subprocess on 127.0.0.1 (its own
interpreter, so the load generator does not share its GIL), makes EC P-256
CSRs in advance, and runs COUNT complete ``simpleenroll`` requests (new TLS
connection each, Basic auth, as a device does) with 1, 8 and 32 concurrent
clients.  As the physical-limit reference it runs the same number of
``openssl s_client`` handshakes against ``openssl s_server`` (same server key,
same concurrency) and prints both rates and their ratio.  Loopback only;
bounded in count and time.
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


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=64, help="enrollments (and handshakes) per concurrency level")
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per measurement at most")
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

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    lab = subprocess.Popen(
        [sys.executable, "-m", "fortishell.lab.server", "--port", str(port), "--state-dir", str(tmp / "state")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
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
        wait_port(port)
        wait_port(ref_port)
        print(f"{'clients':>7}  {'lab enroll/s':>12}  {'openssl hs/s':>12}  {'ratio':>6}")
        for i, level in enumerate(LEVELS):
            jobs = csrs[i * args.count : (i + 1) * args.count]
            lab_rate = timed(jobs, level, lambda b: enroll_once(port, ctx, b), args.time_limit)
            ref_rate = timed(list(range(args.count)), level, handshake, args.time_limit)
            print(f"{level:>7}  {lab_rate:>12.1f}  {ref_rate:>12.1f}  {lab_rate / ref_rate:>6.2f}", flush=True)
    finally:
        for p in (lab, ref):
            p.terminate()
            p.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
