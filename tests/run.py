#!/usr/bin/env python3
"""Run the test suite: ``python3 tests/run.py [pytest args]``.

Needs only python3 (3.11+): on first use it creates ``.venv`` in the checkout and
installs the project with its test extras there, then runs pytest inside it.
"""

from __future__ import annotations

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

import pytest  # noqa: E402

args = sys.argv[1:]
# parallel workers, one per core (pytest-xdist), unless the caller chose (-n N, -n 0, -p no:xdist)
workers = [] if any(a == "-n" or a.startswith("-n") or a.startswith("--numprocesses") or "xdist" in a for a in args) else ["-n", "auto"]
# paths given: run those; otherwise the whole suite
targets = [] if any(Path(a.split("::")[0]).exists() for a in args if not a.startswith("-")) else [str(ROOT / "tests")]
sys.exit(pytest.main(["-p", "no:cacheprovider", "--rootdir", str(ROOT), *workers, *targets, *args]))
