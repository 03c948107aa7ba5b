"""Benchmark: one SCEP enrollment against Debian's ``scepserver`` -- fortishell's client next to
``scepclient`` (the same package's independent client) doing the same enrollment.

Each run, on both sides: GetCACert, GetCACaps, a new RSA-2048 key and its CSR with the challenge
password, PKCSReq (AES, POST), CertRep SUCCESS, the certificate stored.  fortishell runs
``execute vpn certificate local generate rsa ... <scep-url> <challenge>`` in a running shell (a
device enrolls from its running CLI); ``scepclient`` runs as the command-line tool it is, in a fresh
working directory each time (it reuses a CSR left there).  Both talk to one ``scepserver`` on
loopback.  Prints the median wall times and the ratio fortishell / scepclient (target: <= 1.0,
not slower).

    .venv/bin/python bench/scep_enroll.py [--runs N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

from fortishell.clock import Clock  # noqa: E402
from fortishell.shell.device import Device  # noqa: E402
from fortishell.shell.session import Session  # noqa: E402

CHALLENGE = "bench-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(work: Path) -> tuple[subprocess.Popen[bytes], str, x509.Certificate]:
    depot = work / "depot"
    subprocess.run(["scepserver", "ca", "-init", "-depot", str(depot), "-keySize", "2048", "-organization", "bench"],
                   check=True, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen(["scepserver", "-depot", str(depot), "-port", str(port), "-challenge", CHALLENGE,
                             "-allowrenew", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    ca = x509.load_pem_x509_certificate((depot / "ca.pem").read_bytes())
    return proc, f"http://127.0.0.1:{port}/scep", ca


def _ours(work: Path, url: str, ca: x509.Certificate, runs: int) -> list[float]:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    device = Device.open(work / "fortishell.conf", work / "state", Clock(fixed=now))
    session = Session(device)
    pin = hashlib.sha256(ca.public_bytes(serialization.Encoding.DER)).hexdigest()
    result = session.execute(f'execute vpn certificate ca import auto {url} "" "" {pin}')
    assert result.rc == 0, result.lines
    times = []
    try:
        for i in range(runs):
            start = time.perf_counter()
            result = session.execute(f'execute vpn certificate local generate rsa bench{i} 2048 bench{i}.lab '
                                     f'"" "" "" "" "" "" "" {url} {CHALLENGE}')
            times.append(time.perf_counter() - start)
            assert result.rc == 0, result.lines
    finally:
        device.close()
    return times


def _theirs(work: Path, url: str, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        cwd = work / f"client{i}"
        cwd.mkdir()
        start = time.perf_counter()
        done = subprocess.run(["scepclient", "-server-url", url, "-challenge", CHALLENGE, "-cn", f"peer{i}.lab",
                               "-keySize", "2048", "-private-key", "key.pem", "-certificate", "cert.pem"],
                              cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0 or not (cwd / "cert.pem").exists():
            raise SystemExit(f"scepclient failed: {done.stdout.decode()}{done.stderr.decode()}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    for tool in ("scepserver", "scepclient"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing (Debian package 'scep')", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="scep-bench-") as tmp:
        work = Path(tmp)
        proc, url, ca = _start_server(work)
        try:
            for side in ("warm", "ours"):
                (work / side).mkdir()
            _ours(work / "warm", url, ca, 1)  # imports and first-use costs out of the measurement
            theirs = _theirs(work, url, args.runs)
            ours = _ours(work / "ours", url, ca, args.runs)
        finally:
            proc.terminate()
            proc.wait()
    mine, peer = statistics.median(ours), statistics.median(theirs)
    print(f"SCEP enrollment against scepserver, {args.runs} runs each (median wall time)")
    print(f"  fortishell (generate rsa ... <scep-url>, running shell): {mine * 1000:8.1f} ms")
    print(f"  scepclient (one process per enrollment):                 {peer * 1000:8.1f} ms")
    print(f"  ratio fortishell / scepclient: {mine / peer:.2f} (target <= 1.0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
