"""Fixtures of the SCEP tests: a fresh device and session (as in tests/shell), the independent
``scepserver`` (``scep_helpers.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from scep_helpers import scepserver

from fortishell.clock import Clock
from fortishell.shell.device import Device
from fortishell.shell.session import Session

__all__ = ["device", "scepserver", "session"]


@pytest.fixture()
def device(tmp_path: Path) -> Iterator[Device]:
    """A device on a fixed clock at the real time (an independent server issues on the real time)."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    dev = Device.open(tmp_path / "fortishell.conf", tmp_path / "state", Clock(fixed=now))
    yield dev
    dev.close()


@pytest.fixture()
def session(device: Device) -> Session:
    return Session(device)
