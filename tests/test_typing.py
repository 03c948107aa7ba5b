"""mypy --strict over fortishell/ (configuration in pyproject.toml [tool.mypy])."""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy is in the test extras")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(600)
def test_mypy_strict_passes() -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--no-incremental",
                                "--cache-dir", "/dev/null", str(ROOT / "fortishell")])
    assert status == 0, f"mypy --strict found problems:\n{out}{err}"
