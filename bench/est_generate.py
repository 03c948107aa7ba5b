"""Benchmark: a complete ``generate est`` (ec-secp256r1) against the lab responder on loopback.

Median wall time of fortishell's engine (trace on and trace off) next to ``curl``
performing the same three requests (GET cacerts, GET csrattrs, POST simpleenroll
with a pre-made CSR, one connection) against the same responder.  Prints both
and the ratio (target: fortishell within 2x of curl).

    .venv/bin/python bench/est_generate.py [--runs N]

``--split-writes`` measures instead a whole ``generate est`` against a
responder that writes the HTTP header and body in two sends with Nagle on (the
``split_writes`` knob: how many real EST servers answer) next to the same
against the normal responder, and prints the ratio (target: within 1.5x; a
client that delays its ACKs waits ~40 ms per reply there).

    .venv/bin/python bench/est_generate.py --split-writes [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fortishell.clock import Clock  # noqa: E402
from fortishell.cmdb.model import Cmdb  # noqa: E402
from fortishell.est import pki  # noqa: E402
from fortishell.est.args import CA, parse_generate_args  # noqa: E402
from fortishell.est.engine import EstEngine  # noqa: E402
from fortishell.lab.ca import LabCA  # noqa: E402
from fortishell.lab.server import EstResponder, ResponderConfig  # noqa: E402
from fortishell.trace import Tracer  # noqa: E402

HOST = "testrfc7030.com"


class HostMap:
    def __init__(self, addr: tuple[str, int]) -> None:
        self.addr = addr

    def resolve(self, host: str, port: int) -> tuple[str, int] | None:
        return self.addr if host == HOST else None


class EngineRun:
    """One engine (trace on or off) that enrolls a fresh certificate per call."""

    def __init__(self, responder: EstResponder, trace: bool) -> None:
        clock = Clock()
        self.lines: list[str] = []
        tracer = Tracer(clock, sink=self.lines.append)
        tracer.enabled = trace
        tracer.set_level("est", -1)
        self.cmdb = Cmdb()
        with self.cmdb.transaction() as tx:
            tx.put(CA, "G_CA_Cert_1", {"ca": LabCA.shipped().cert_pem})
        self.engine = EstEngine(self.cmdb, clock, tracer, HostMap((responder.host, responder.port)))
        self.url = f"https://{HOST}:{responder.port}"
        self.n = 0

    def once(self) -> float:
        self.n += 1
        words = [f"bench{self.n}", "ec-secp256r1", self.url, "CN=bench", "DNS:bench.lab", "estuser", "estpwd"]
        start = time.perf_counter()
        self.engine.generate(parse_generate_args(words, self.cmdb))
        elapsed = time.perf_counter() - start
        self.lines.clear()
        return elapsed


def time_engine(responder: EstResponder, runs: int) -> tuple[list[float], list[float]]:
    """Trace-on and trace-off runs, alternated so that neither gets the warmer machine."""
    on, off = EngineRun(responder, True), EngineRun(responder, False)
    for _ in range(5):  # warm-up: imports, first handshakes, lab state
        on.once(), off.once()
    t_on: list[float] = []
    t_off: list[float] = []
    for i in range(runs):
        first, second = (on, off) if i % 2 == 0 else (off, on)
        a, b = first.once(), second.once()
        (t_on, t_off)[first is off].append(a)
        (t_on, t_off)[second is off].append(b)
    return t_on, t_off


def time_curl(responder: EstResponder, runs: int, workdir: Path) -> list[float]:
    ca = workdir / "ca.pem"
    ca.write_text(LabCA.shipped().cert_pem)
    key = pki.generate_key(pki.ALGORITHMS["ec-secp256r1"])
    csr = workdir / "csr.b64"
    csr.write_text(pki.csr_der_base64(pki.build_csr(key, pki.parse_subject("CN=bench"))) + "\n")
    base = f"https://{HOST}:{responder.port}/.well-known/est"
    common = ["--resolve", f"{HOST}:{responder.port}:{responder.host}", "--cacert", str(ca), "-u", "estuser:estpwd",
              "-s", "-o", "/dev/null", "--tlsv1.2", "--tls-max", "1.2"]
    cmd = ["curl", *common, f"{base}/cacerts", "--next", *common, f"{base}/csrattrs", "--next", *common,
           "-H", "Content-Type: application/pkcs10", "--data-binary", f"@{csr}", f"{base}/simpleenroll"]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True)
        times.append(time.perf_counter() - start)
    return times


def split_writes(runs: int, workdir: Path) -> int:
    """``generate est`` against the split-writes responder next to the normal one."""
    normal = EstResponder(ResponderConfig(state_dir=workdir / "normal")).start()
    split = EstResponder(ResponderConfig(state_dir=workdir / "split")).start()
    split.faults.set(split_writes=True)
    try:
        a, b = EngineRun(normal, False), EngineRun(split, False)
        for _ in range(3):
            a.once()
            b.once()
        t_normal: list[float] = []
        t_split: list[float] = []
        for i in range(runs):  # alternated, so that neither gets the warmer machine
            if i % 2 == 0:
                t_normal.append(a.once())
                t_split.append(b.once())
            else:
                t_split.append(b.once())
                t_normal.append(a.once())
        conns = (normal.accepted, split.accepted)
    finally:
        normal.stop()
        split.stop()
    n, s = statistics.median(t_normal), statistics.median(t_split)
    print(f"runs per measurement: {runs}")
    print(f"generate est, split-writes responder (Nagle on): {s * 1000:8.2f} ms")
    print(f"generate est, normal responder:                  {n * 1000:8.2f} ms")
    print(f"ratio split-writes / normal: {s / n:5.2f}x (target <= 1.5x)")
    print(f"TLS connections per generate est: {conns[0] / (runs + 3):.2f} normal, {conns[1] / (runs + 3):.2f} split")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--split-writes", action="store_true",
                        help="compare against a responder that splits header and body (Nagle on)")
    args = parser.parse_args()
    if args.split_writes:
        with tempfile.TemporaryDirectory() as tmp:
            return split_writes(args.runs, Path(tmp))
    if shutil.which("curl") is None:
        print("curl is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        responder = EstResponder(ResponderConfig(state_dir=Path(tmp) / "lab")).start()
        try:
            t_on, t_off = time_engine(responder, args.runs)
            on, off = statistics.median(t_on), statistics.median(t_off)
            curl = statistics.median(time_curl(responder, args.runs, Path(tmp)))
        finally:
            responder.stop()
    print(f"runs per measurement: {args.runs}")
    print(f"fortishell generate est (trace on):  {on * 1000:8.2f} ms  ratio {on / curl:5.2f}x curl")
    print(f"fortishell generate est (trace off): {off * 1000:8.2f} ms  ratio {off / curl:5.2f}x curl")
    print(f"curl cacerts+csrattrs+simpleenroll:  {curl * 1000:8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
