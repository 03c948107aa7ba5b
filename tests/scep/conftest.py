"""Fixtures of the SCEP tests (the independent ``scepserver``: ``scep_helpers.py``)."""

from __future__ import annotations

from scep_helpers import scepserver

__all__ = ["scepserver"]
