#!/usr/bin/env python3
"""Run the test suite: ``python3 tests/run.py [pytest args]``.

Needs only python3 (3.11+): on first use it creates ``.venv`` in the checkout and
installs the project with its test extras there, then runs pytest inside it.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def usable_cores(affinity: int, cpu_max: str | None) -> int:
    """The cores this process may use: those it may run on (``sched_getaffinity``), fewer when
    a cgroup v2 quota (``/sys/fs/cgroup/cpu.max``: ``QUOTA PERIOD`` or ``max PERIOD``) allows
    less, as in a container started with ``--cpus 2`` on a large host; at least one."""
    cores = max(1, affinity)
    words = (cpu_max or "").split()
    if len(words) == 2 and words[0].isdigit() and words[1].isdigit() and int(words[1]) > 0:
        cores = min(cores, max(1, math.ceil(int(words[0]) / int(words[1]))))
    return cores


def _cpu_max() -> str | None:
    try:
        return Path("/sys/fs/cgroup/cpu.max").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from fortishell import _bootstrap  # standard library only

    _bootstrap.ensure_venv(  # requirements: pyproject.toml's dependencies and the test extras
        [str(Path(__file__).resolve()), *sys.argv[1:]],
        extras="test",
        require_venv=True,
    )

    import compileall

    import pytest

    # the package compiled once here: the many fortishell processes the tests start read the .pyc
    # files instead of compiling every module again (where PYTHONDONTWRITEBYTECODE is set, nothing
    # else writes them)
    compileall.compile_dir(str(ROOT / "fortishell"), quiet=2)
    # and the workers keep pytest's rewritten test modules for the next run
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False

    args = sys.argv[1:]
    # parallel workers (pytest-xdist), two per usable core: many tests wait on subprocesses, sockets
    # and fsync, so a core has work while another test waits; unless the caller chose (-n N, -n 0,
    # -p no:xdist)
    chosen = any(a == "-n" or a.startswith("-n") or a.startswith("--numprocesses") or "xdist" in a for a in args)
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cores = usable_cores(affinity, _cpu_max())
    # worksteal: an idle worker takes tests queued on a busy one (a few tests run for tens of seconds)
    workers = [] if chosen else ["-n", str(2 * cores), "--dist", "worksteal"]
    # paths given: run those; otherwise the whole suite
    targets = [] if any(Path(a.split("::")[0]).exists() for a in args if not a.startswith("-")) else [str(ROOT / "tests")]
    return int(pytest.main(["-p", "no:cacheprovider", "--rootdir", str(ROOT), *workers, *targets, *args]))


if __name__ == "__main__":
    sys.exit(main())
