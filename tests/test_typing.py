"""mypy --strict over fortishell/ (configuration in pyproject.toml [tool.mypy]).

Incremental, with its cache in the checkout's ``.venv`` (``.venv/.mypy_cache``, one SQLite
file): a clean clone checks everything once (~15 s of CPU), later runs recheck only the
modules whose source changed and the ones depending on them (well under a second when
nothing changed).  mypy keys its cache on each file's hash, the options and its own
version, and a module with errors is checked again on every run, so a cached run reports
what a full run reports.  Outside the checkout's ``.venv`` (no place of ours to keep a
cache) the check runs in full every time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy is in the test extras")

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"


def _cache_args() -> list[str]:
    if VENV.is_dir() and Path(sys.prefix).resolve() == VENV.resolve():
        return ["--cache-dir", str(VENV / ".mypy_cache"), "--sqlite-cache"]
    return ["--no-incremental", "--cache-dir", "/dev/null"]


@pytest.mark.timeout(600)
def test_mypy_strict_passes() -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), *_cache_args(), str(ROOT / "fortishell")])
    assert status == 0, f"mypy --strict found problems:\n{out}{err}"
