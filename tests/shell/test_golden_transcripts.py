"""Golden transcripts: tests/golden/<name>.cli replayed on a fresh device == <name>.out, byte for byte.

Set FORTISHELL_UPDATE_GOLDEN=1 to rewrite the .out files (then review the diff).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from fortishell.replay import run_scripts

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.cli"))


@pytest.mark.parametrize("name", CASES)
def test_golden_transcript(name: str, device) -> None:
    out = io.StringIO()
    run_scripts([str(GOLDEN / f"{name}.cli")], device, keep_going=True, out=out)
    expected_path = GOLDEN / f"{name}.out"
    if os.environ.get("FORTISHELL_UPDATE_GOLDEN"):
        expected_path.write_text(out.getvalue(), encoding="utf-8")
    assert out.getvalue() == expected_path.read_text(encoding="utf-8")
