#!/usr/bin/env python3
"""A commit costs what it changes: one commit on a 20,000-entry configuration against one on
the factory configuration, measured in the same run.

    .venv/bin/python bench/commit_cost.py [--entries 20000] [--commits 300]

Each device is opened as the shell opens it (journal on, ``Device.open(...,
journal=True)``) and driven through a :class:`~fortishell.shell.session.Session`, so a
command's whole cost counts: parsing, the commit, the journal record made durable, and
the hooks every command runs after it (renewal and ACME checks).  Both devices are open at
once and their commits interleaved; two commits are timed, ``--commits`` times each after a
warm-up, and the median printed with the ratio of the large configuration to the factory
one (target <= 1.2, issue 22):

* ``config system global`` / ``set admintimeout N`` / ``end``;
* ``config vpn certificate local`` / ``edit cert-000007`` / ``set comments ...`` /
  ``next`` / ``end`` (an entry of the large table; on the factory configuration the entry
  is made by the warm-up).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fortishell.clock import Clock  # noqa: E402
from fortishell.shell.device import Device  # noqa: E402
from fortishell.shell.session import Session  # noqa: E402

TARGET = 1.2
LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)


def make_config(entries: int) -> str:
    out = ["config vpn certificate local"]
    for i in range(entries):
        out += [f'    edit "cert-{i:06d}"', f'        set comments "bench entry {i}"', "        set enroll-protocol est",
                f'        set est-server "https://est{i % 97}.example.com:8443"', f"        set auto-regenerate-days {i % 365}",
                "    next"]
    out.append("end")
    return "\n".join(out) + "\n"


def run(session: Session, lines: list[str]) -> None:
    for line in lines:
        result = session.execute(line)
        if result.rc != 0:
            raise SystemExit(f"{line}: {' '.join(result.lines)}")


def global_commit(i: int) -> list[str]:
    return ["config system global", f"set admintimeout {5 + i % 50}", "end"]


def entry_commit(i: int) -> list[str]:
    return ["config vpn certificate local", "edit cert-000007", f'set comments "changed {i}"', "next", "end"]


def medians_ms(sessions: list[Session], commits: int, lines: Callable[[int], list[str]]) -> list[float]:
    """Median time of ``lines(i)`` on each session, the sessions' commits interleaved (a load
    that comes and goes on the machine weighs on both alike)."""
    for session in sessions:
        for i in range(10):  # warm-up (and the entry made on the factory configuration)
            run(session, lines(i))
    times: list[list[float]] = [[] for _ in sessions]
    gc.collect()
    for i in range(commits):
        for session, kept in zip(sessions, times):
            t0 = time.perf_counter()
            run(session, lines(i))
            kept.append(time.perf_counter() - t0)
    return [statistics.median(kept) * 1000 for kept in times]


def measure(entries: int, commits: int) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory(prefix="fortishell-commit-") as tmp:
        devices = []
        try:
            for name, config in (("factory", None), ("large", make_config(entries))):
                path = Path(tmp) / name / "fortishell.conf"
                path.parent.mkdir()
                if config is not None:
                    path.write_text(config)
                devices.append(Device.open(path, Path(tmp) / name / "state", Clock(fixed=LAB_TIME), journal=True))
            sessions = [Session(device) for device in devices]
            out = []
            for what, lines in (("system global admintimeout", global_commit),
                                ("one certificate entry's comments", entry_commit)):
                small, big = medians_ms(sessions, commits, lines)
                out.append((what, small, big))
            return out
        finally:
            for device in devices:
                device.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=20_000, help="certificate entries of the large configuration")
    ap.add_argument("--commits", type=int, default=300, help="timed commits of each kind (default: 300)")
    args = ap.parse_args()
    rows = measure(args.entries, args.commits)
    print(f"median of {args.commits} commits, journal on, session commands (parse, commit, durable, hooks)")
    for what, small, big in rows:
        ratio = big / small
        verdict = "ok" if ratio <= TARGET else f"over the {TARGET}x target"
        print(f"  {what:34s} factory {small:6.2f} ms   {args.entries:,} entries {big:6.2f} ms   "
              f"{ratio:4.2f}x  ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
