#!/usr/bin/env python3
"""Memory over many EST enrollments in one process.

Runs N enrollments (default 10,000) with :class:`EstEngine` against an
in-process lab responder on 127.0.0.1 (ec-secp256r1, debug off), either
deleting each new certificate entry right after it was stored (``--mode
delete``: the steady state should be flat) or keeping them all (``--mode
keep``: the CMDB grows by one entry per enrollment, which is expected).  Prints
the process RSS every ``--every`` enrollments and the growth after warm-up.

    python bench/enroll_memory.py                   # 10,000, delete
    python bench/enroll_memory.py -n 2000 --mode keep
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fortishell.clock import Clock  # noqa: E402
from fortishell.cmdb.model import Cmdb  # noqa: E402
from fortishell.est.args import CA, LOCAL, parse_generate_args  # noqa: E402
from fortishell.est.engine import EstEngine  # noqa: E402
from fortishell.lab.ca import LabCA  # noqa: E402
from fortishell.lab.server import EstResponder, ResponderConfig  # noqa: E402
from fortishell.trace import Tracer  # noqa: E402

LAB_HOST = "testrfc7030.com"


class _HostMap:
    def __init__(self, addr: tuple[str, int]) -> None:
        self.addr = addr

    def resolve(self, host: str, port: int) -> tuple[str, int] | None:
        return self.addr if host == LAB_HOST else None


def rss_kib() -> int:
    """Resident set size of this process (Linux /proc; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Rig:
    """A CMDB trusting the lab CA, an engine with debug off, a responder on loopback."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self.clock = Clock()
        self.responder = EstResponder(ResponderConfig(state_dir=state_dir, clock=self.clock)).start()
        self.cmdb = Cmdb()
        with self.cmdb.transaction() as tx:
            tx.put(CA, "G_CA_Cert_1", {"ca": LabCA.shipped().cert_pem})
        self.tracer = Tracer(self.clock)  # debug off: nothing is rendered
        self.engine = EstEngine(self.cmdb, self.clock, self.tracer,
                                _HostMap((self.responder.host, self.responder.port)), timeout=10.0)
        self.url = f"https://{LAB_HOST}:{self.responder.port}"

    def enroll(self, name: str) -> None:
        words = [name, "ec-secp256r1", self.url, "CN=firewall-portal1,DC=local,DC=COM",
                 "DNS:firewall-portal1.local.ca,IP:172.18.60.184", "estuser", "estpwd", "G_CA_Cert_1"]
        out = self.engine.generate(parse_generate_args(words, self.cmdb))
        if out != ["Done."]:
            raise RuntimeError(out)

    def delete(self, name: str) -> None:
        with self.cmdb.transaction() as tx:
            tx.delete(LOCAL, name)

    def close(self) -> None:
        self.responder.stop()


def run(n: int, mode: str, every: int, warmup: int, state_dir: Path | None, out=print) -> dict[str, float]:
    rig = Rig(state_dir)
    samples: list[tuple[int, int]] = []
    t0 = time.monotonic()
    try:
        for i in range(1, n + 1):
            name = f"est-bench{i}"
            rig.enroll(name)
            if mode == "delete":
                rig.delete(name)
            if i % every == 0 or i == n:
                gc.collect()
                samples.append((i, rss_kib()))
                rate = i / (time.monotonic() - t0)
                out(f"{i:7d} enrollments  RSS {samples[-1][1] / 1024:8.1f} MiB  ({rate:.0f}/s)")
    finally:
        rig.close()
    base = next((kib for i, kib in samples if i >= warmup), samples[0][1])
    last = samples[-1][1]
    after = max(1, n - warmup)
    result = {"warmup_rss_mib": base / 1024, "final_rss_mib": last / 1024,
              "growth_mib": (last - base) / 1024, "bytes_per_enrollment": (last - base) * 1024 / after,
              "seconds": time.monotonic() - t0}
    out(f"mode={mode}: RSS after warm-up ({warmup}) {result['warmup_rss_mib']:.1f} MiB, final "
        f"{result['final_rss_mib']:.1f} MiB, growth {result['growth_mib']:+.1f} MiB "
        f"({result['bytes_per_enrollment']:+.0f} bytes per enrollment over {after}), {result['seconds']:.0f} s")
    return result


def traced_growth(n: int, warmup: int) -> int:
    """Python-heap growth (tracemalloc, bytes) over ``n`` enroll+delete cycles after ``warmup``."""
    rig = Rig(None)
    try:
        for i in range(warmup):
            rig.enroll(f"w{i}")
            rig.delete(f"w{i}")
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for i in range(n):
            rig.enroll(f"e{i}")
            rig.delete(f"e{i}")
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    finally:
        rig.close()
    return sum(s.size_diff for s in after.compare_to(before, "filename"))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-n", type=int, default=10_000)
    p.add_argument("--mode", choices=("delete", "keep", "both"), default="delete")
    p.add_argument("--every", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--state-dir", type=Path, default=None, help="responder state on disk (default: in memory)")
    args = p.parse_args(argv)
    modes = ("delete", "keep") if args.mode == "both" else (args.mode,)
    for mode in modes:
        run(args.n, mode, args.every, min(args.warmup, args.n), args.state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
