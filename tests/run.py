#!/usr/bin/env python3
"""Run the test suite: ``python3 tests/run.py [pytest args]``.

Needs only python3 (3.11+): on first use it creates ``.venv`` in the checkout and
installs the project with its test extras there, then runs pytest inside it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fortishell import _bootstrap  # noqa: E402  (standard library only)

_bootstrap.ensure_venv(  # requirements: pyproject.toml's dependencies and the test extras
    [str(Path(__file__).resolve()), *sys.argv[1:]],
    extras="test",
    require_venv=True,
)

import compileall  # noqa: E402

import pytest  # noqa: E402

# the package compiled once here: the many fortishell processes the tests start read the .pyc
# files instead of compiling every module again (where PYTHONDONTWRITEBYTECODE is set, nothing
# else writes them)
compileall.compile_dir(str(ROOT / "fortishell"), quiet=2)
# and the workers keep pytest's rewritten test modules for the next run
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

args = sys.argv[1:]
# parallel workers (pytest-xdist), two per core: many tests wait on subprocesses, sockets and
# fsync, so a core has work while another test waits; unless the caller chose (-n N, -n 0, -p no:xdist)
chosen = any(a == "-n" or a.startswith("-n") or a.startswith("--numprocesses") or "xdist" in a for a in args)
cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
# worksteal: an idle worker takes tests queued on a busy one (a few tests run for tens of seconds)
workers = [] if chosen else ["-n", str(2 * cores), "--dist", "worksteal"]
# paths given: run those; otherwise the whole suite
targets = [] if any(Path(a.split("::")[0]).exists() for a in args if not a.startswith("-")) else [str(ROOT / "tests")]
sys.exit(pytest.main(["-p", "no:cacheprovider", "--rootdir", str(ROOT), *workers, *targets, *args]))
