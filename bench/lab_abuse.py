#!/usr/bin/env python3
"""The lab EST responder under a loopback flood of bad requests.

Starts an in-process responder on 127.0.0.1, runs ``--workers`` threads that
each send ``--per-worker`` bad requests (wrong passwords, no auth, garbage
CSRs, hostile paths, oversized bodies, raw non-TLS bytes, half-open and
slow-loris connections), and meanwhile enrolls with the right credentials once
every ``--good-every`` seconds.  Prints the counts per kind and outcome, the
connections the cap refused, and the good-request latency (min/median/max).

    python bench/lab_abuse.py --workers 16 --per-worker 200
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "hardening"))

import ssl  # noqa: E402

from test_lab_abuse import BAD_KINDS, Client, _bad, enroll, lab  # noqa: E402  (the test's raw client)


def slow_loris(port: int, seconds: float) -> None:
    c = Client(port, timeout=seconds + 5)
    try:
        for byte in b"GET /.well-known/est/cacerts HTTP/1.1\r\nX-Slow: " + b"s" * 1000:
            c.sock.sendall(bytes([byte]))
            time.sleep(0.05)
    finally:
        c.close()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--per-worker", type=int, default=200)
    p.add_argument("--good-every", type=float, default=0.2)
    p.add_argument("--max-connections", type=int, default=64)
    p.add_argument("--io-timeout", type=float, default=1.0)
    p.add_argument("--slow-loris", type=int, default=8, help="extra trickling connections")
    args = p.parse_args(argv)

    kinds = (*BAD_KINDS, "slow-loris")
    outcomes: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    with lab(Path("."), io_timeout=args.io_timeout, max_connections=args.max_connections) as r:
        def worker(seed: int) -> None:
            for i in range(args.per_worker):
                kind = kinds[(seed + i) % len(kinds)]
                try:
                    if kind == "slow-loris":
                        slow_loris(r.port, args.io_timeout)
                    else:
                        _bad(r.port, kind)
                    result = "answered as expected"
                except AssertionError:
                    result = "WRONG ANSWER"
                except (ConnectionError, ssl.SSLError, OSError) as exc:
                    result = "cut off/refused" if kind in ("slow-loris", "half-open", "not-tls", "oversized") \
                        else f"refused ({type(exc).__name__})"
                with lock:
                    outcomes[(kind, result)] += 1

        threads = [threading.Thread(target=worker, args=(n * 3,), daemon=True) for n in range(args.workers)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        latencies: list[float] = []
        failures = 0
        while any(t.is_alive() for t in threads):
            start = time.monotonic()
            try:
                ok = enroll(r.port) == 200
            except (ConnectionError, ssl.SSLError, OSError):
                ok = False
            if ok:
                latencies.append(time.monotonic() - start)
            else:
                failures += 1
            time.sleep(args.good_every)
        elapsed = time.monotonic() - t0
        after = enroll(r.port)
        refused = r.refused

    total = sum(outcomes.values())
    print(f"{total} bad requests from {args.workers} workers in {elapsed:.1f} s ({total / elapsed:.0f}/s)")
    for (kind, result), count in sorted(outcomes.items()):
        print(f"  {kind:15s} {result:28s} {count:6d}")
    print(f"connections refused by the cap ({args.max_connections}): {refused}")
    wrong = sum(c for (_, res), c in outcomes.items() if res == "WRONG ANSWER")
    print(f"wrong answers: {wrong}")
    if latencies:
        print(f"good enrollments during the flood: {len(latencies)} ok, {failures} failed; latency "
              f"min {min(latencies) * 1000:.0f} ms, median {statistics.median(latencies) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms")
    else:
        print(f"good enrollments during the flood: 0 ok, {failures} failed")
    print(f"good enrollment after the flood: {'ok' if after == 200 else after}")
    return 0 if wrong == 0 and after == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
