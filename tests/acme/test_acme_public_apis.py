"""Every private name used under fortishell/acme is the package's own (the EST package's check, reused)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import fortishell.acme

ACME = Path(fortishell.acme.__file__).parent
_spec = importlib.util.spec_from_file_location(
    "est_public_apis", Path(__file__).resolve().parents[1] / "est" / "test_est_public_apis.py")
assert _spec is not None and _spec.loader is not None
_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_check)


def test_no_private_library_names_in_acme() -> None:
    sources = {p.name: p.read_text() for p in sorted(ACME.glob("*.py"))}
    assert _check.private_uses(sources) == []
