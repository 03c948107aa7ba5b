#!/usr/bin/env python3
"""REPL memory over a long session: RSS at intervals and the growth after warm-up.

``python bench/repl_memory.py [--commands 20000] [--entries 300] [--every 2000]``

Runs the real prompt_toolkit REPL (``fortishell.repl.run_repl`` with a history
file) on pipe input: a typist thread types ``--commands`` lines -- ``get`` and
``show`` of a local-certificate table of ``--entries`` entries, ``show
full-configuration | grep``, edits with commits (each saves the file), ``?``-free
mistakes -- and samples the process RSS every ``--every`` lines.  Target: flat
(< 5 MB growth after the warm-up sample).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from prompt_toolkit.input import create_pipe_input  # noqa: E402
from prompt_toolkit.output import DummyOutput  # noqa: E402

from fortishell.clock import Clock  # noqa: E402
from fortishell.repl import run_repl  # noqa: E402
from fortishell.shell.device import Device  # noqa: E402
from fortishell.shell.session import Session  # noqa: E402

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE / 2**20


def setup_lines(entries: int) -> list[str]:
    out = ["config system console", "set output standard", "end", "config vpn certificate local"]
    for i in range(entries):
        out += [f"edit bulk-{i:04d}", f'set comments "bulk entry {i} for the memory bench"',
                "set est-http-username estuser", f"set est-http-password pw-{i}", "next"]
    return out + ["end"]


def session_lines(n: int, entries: int) -> list[str]:
    cycle = [
        "get vpn certificate local",
        "show vpn certificate local",
        "show full-configuration | grep -c bulk",
        "get vpn certificate local | grep bulk-00",
        "config vpn certificate local",
        "get",
        "edit bulk-0001",
        "get",
        "show",
        "set comments \"changed again\"",
        "next",
        "end",
        "show vpn certificate local bulk-0002",
        "nosuch command here",
        "config vpn certificate local",
        "edit bulk-0003",
        "set nosuch 1",
        "abort",
        "diagnose debug info",
        "execute time",
    ]
    return [cycle[i % len(cycle)] for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commands", type=int, default=20_000)
    ap.add_argument("--entries", type=int, default=300)
    ap.add_argument("--every", type=int, default=2_000)
    ap.add_argument("--limit-mb", type=float, default=5.0)
    args = ap.parse_args(argv)

    samples: list[tuple[int, float, float]] = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="repl-mem-") as tmp:
        dev = Device.open(Path(tmp) / "fortishell.conf", Path(tmp) / "state", Clock(fixed=LAB_TIME))
        setup = setup_lines(args.entries)
        body = session_lines(args.commands, args.entries)
        done = [0]
        real_execute = Session.execute

        def counted(self: Session, text: str):  # type: ignore[no-untyped-def]
            result = real_execute(self, text)
            done[0] += 1
            i = done[0] - len(setup)
            if i > 0 and i % args.every == 0:  # sampled in the REPL thread, after the command ran
                samples.append((i, rss_mb(), time.monotonic() - start))
                print(f"  {i:6d} commands  RSS {samples[-1][1]:7.1f} MB  {samples[-1][2]:6.1f} s", flush=True)
            return result

        Session.execute = counted  # type: ignore[method-assign]
        try:
            with create_pipe_input() as inp:

                def typist() -> None:
                    for line in setup + body:
                        inp.send_text(line + "\r")  # blocks while the REPL is behind (pipe back-pressure)
                    inp.send_text("end\rend\rexit\r")

                thread = threading.Thread(target=typist, daemon=True)
                thread.start()
                rc = run_repl(dev, history_path=Path(tmp) / "state" / "history", input=inp, output=DummyOutput())
                thread.join(timeout=10)
        finally:
            Session.execute = real_execute  # type: ignore[method-assign]
        dev.close()
    if len(samples) < 2:
        print("too few samples; raise --commands or lower --every")
        return 2
    warm = samples[0][1]
    peak_after = max(s[1] for s in samples[1:])
    growth = samples[-1][1] - warm
    print(f"repl_memory: {args.commands} commands on {args.entries} entries in {time.monotonic() - start:.1f} s "
          f"(repl rc {rc})")
    print(f"  RSS after warm-up ({samples[0][0]} commands): {warm:.1f} MB; at the end: {samples[-1][1]:.1f} MB; "
          f"peak after warm-up: {peak_after:.1f} MB")
    print(f"  growth after warm-up: {growth:+.1f} MB (limit {args.limit_mb:.1f} MB)")
    return 0 if growth < args.limit_mb else 1


if __name__ == "__main__":
    sys.exit(main())
