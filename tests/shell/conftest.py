"""Fixtures for the shell tests: a fresh device in a temporary state directory, on a fixed clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.shell.device import Device
from fortishell.shell.session import Session

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)


@pytest.fixture()
def device(tmp_path: Path) -> Device:
    dev = Device.open(tmp_path / "fortishell.conf", tmp_path / "state", Clock(fixed=LAB_TIME))
    yield dev
    dev.close()


@pytest.fixture()
def session(device: Device) -> Session:
    return Session(device)
