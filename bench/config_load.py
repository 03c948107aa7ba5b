#!/usr/bin/env python3
"""Configuration load speed against a named peer, and start-up time to the first prompt.

    .venv/bin/python bench/config_load.py [--lines 100000] [--repeat 3]

1. Builds a configuration of about ``--lines`` lines (many ``vpn certificate local``
   entries with several ``set`` lines each).
2. Loads it with fortishell (parse, validate, build the CMDB: ``cmdb.store.loads``)
   and parses the same text with the regex parser of the PyPI package
   ``anyconfig-fortios-backend`` (``parse_show_config_itr``), in the same run;
   prints the best of ``--repeat`` times for each and the ratio (target <= 1.0).
3. Starts the installed ``fortishell`` in a pseudo-terminal and prints the time
   from process start to the first prompt (target <= 0.3 s).
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ENTRY_LINES = 9  # lines per entry in make_config


def make_config(lines: int) -> str:
    out = ["#config-version=FPXVM64-7.6.1-FW-build0197-241107:opmode=0:vdom=0:user=admin", "config vpn certificate local"]
    n = max(1, (lines - 3) // ENTRY_LINES)
    for i in range(n):
        out += [
            f'    edit "cert-{i:06d}"',
            f'        set comments "bench entry {i}"',
            "        set enroll-protocol est",
            f'        set est-server "https://est{i % 97}.example.com:8443"',
            f'        set est-ca-id "label{i % 13}"',
            '        set est-http-username "estuser"',
            f"        set auto-regenerate-days {i % 365}",
            f"        set source-ip 10.{i % 256}.{(i // 256) % 256}.1",
            "    next",
        ]
    out.append("end")
    return "\n".join(out) + "\n"


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def time_to_prompt(state_dir: Path) -> float | None:
    exe = shutil.which("fortishell") or str(Path(sys.executable).parent / "fortishell")
    if not Path(exe).exists():
        return None
    import pexpect

    env = dict(os.environ, FORTISHELL_STATE_DIR=str(state_dir), TERM="dumb")
    # first start creates the configuration; measure the second (normal) start
    for attempt in range(2):
        t0 = time.perf_counter()
        child = pexpect.spawn(exe, env=env, encoding="utf-8", timeout=30)
        child.expect(r"FortiProxy #")
        elapsed = time.perf_counter() - t0
        child.sendline("exit")
        child.expect(pexpect.EOF)
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from anyconfig_fortios_backend.fortios.parser import parse_show_config_itr

    from fortishell.cmdb import store

    text = make_config(args.lines)
    nlines = text.count("\n")

    def peer() -> None:
        for _ in parse_show_config_itr(io.StringIO(text)):
            pass

    def ours() -> None:
        store.loads(text)

    # correctness first: the load must really have built every entry
    cmdb = store.loads(text)
    entries = len(cmdb.keys(("vpn", "certificate", "local")))
    t_peer = best_of(args.repeat, peer)
    t_ours = best_of(args.repeat, ours)
    print(f"config lines:                      {nlines}")
    print(f"entries loaded by fortishell:      {entries}")
    print(f"anyconfig-fortios-backend parse:   {t_peer:.3f} s")
    print(f"fortishell full load:              {t_ours:.3f} s")
    print(f"ratio fortishell/peer:             {t_ours / t_peer:.2f}  (target <= 1.0)")

    with tempfile.TemporaryDirectory() as tmp:
        t_prompt = time_to_prompt(Path(tmp))
    if t_prompt is None:
        print("time to first prompt:              (fortishell command not installed)")
    else:
        print(f"time to first prompt:              {t_prompt:.3f} s  (target <= 0.3 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
