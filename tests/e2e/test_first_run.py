"""First run from a fresh clone without a package index: progress, then one line saying what
failed and how to retry, exit 1, no traceback (``python3 -m fortishell`` on a copy of the tree)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def _base_python() -> str:
    """An interpreter of the same version outside .venv (run with -S: no site packages)."""
    return getattr(sys, "_base_executable", None) or sys.executable


def test_no_package_index_one_line_and_retry_hint(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("fortishell", "grammar", "sample-configs"):
        shutil.copytree(ROOT / name, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, clone / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS="", PIP_CONFIG_FILE=os.devnull, HOME=str(tmp_path))
    proc = subprocess.run([_base_python(), "-S", "-m", "fortishell", "run", "-"], cwd=clone, env=env, input="",
                          capture_output=True, text=True, timeout=280)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout == ""  # progress goes to standard error: a captured transcript stays clean
    err = proc.stderr.strip().splitlines()
    assert err[0] == "fortishell: first run: creating .venv (a private Python environment in the checkout) ..."
    assert any(line.startswith("fortishell: installing . and its dependencies into .venv") for line in err)
    assert err[-1] == ("fortishell: set-up failed: installing the dependencies into .venv failed (pip's messages "
                       "above; is the package index reachable?); run python3 -m fortishell again once it is")
    assert "Traceback" not in proc.stderr
    assert not (clone / ".venv" / ".fortishell-installed").exists()  # the next run retries
