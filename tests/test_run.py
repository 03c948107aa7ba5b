"""tests/run.py: two workers per core the suite may use (CPU affinity, and a container's quota)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("suite_run", Path(__file__).resolve().parent / "run.py")
assert _spec is not None and _spec.loader is not None
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)  # defines only: the suite runs under __main__


def test_affinity_without_a_quota() -> None:
    assert run.usable_cores(2, None) == 2
    assert run.usable_cores(8, "max 100000\n") == 8
    assert run.usable_cores(0, None) == 1


def test_a_cgroup_quota_caps_the_cores() -> None:
    assert run.usable_cores(16, "200000 100000\n") == 2  # docker --cpus 2 on a 16-core host
    assert run.usable_cores(16, "150000 100000\n") == 2  # 1.5 cores: rounded up
    assert run.usable_cores(16, "50000 100000\n") == 1
    assert run.usable_cores(2, "800000 100000\n") == 2  # a quota above the cores it may run on


def test_an_unreadable_quota_is_ignored() -> None:
    assert run.usable_cores(4, "garbage") == 4
    assert run.usable_cores(4, "100000 0") == 4
