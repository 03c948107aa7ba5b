"""Fixtures for the ACME tests: a device on a fixed clock that trusts the lab CA, pebble when present."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.lab.ca import LabCA
from fortishell.shell.device import Device
from fortishell.shell.session import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pebblerun import AVAILABLE as PEBBLE_AVAILABLE  # noqa: E402
from pebblerun import Pebble  # noqa: E402

from acmekit import LAB_TIME, trust  # noqa: E402


@pytest.fixture()
def device(tmp_path: Path) -> Iterator[Device]:
    dev = Device.open(tmp_path / "fortishell.conf", tmp_path / "state", Clock(fixed=LAB_TIME))
    dev.acme.sleep = lambda _s: None  # polls do not wait on the fixed clock
    trust(dev, "LabCA", LabCA.shipped().cert_pem)
    yield dev
    dev.close()


@pytest.fixture()
def session(device: Device) -> Session:
    return Session(device)


@pytest.fixture()
def pebble_for(tmp_path: Path) -> Iterator[object]:
    """``pebble_for(http_port)`` -> a started :class:`Pebble` validating on that port."""
    if not PEBBLE_AVAILABLE:
        if os.environ.get("CI"):
            pytest.fail("pebble is not installed (.ci/run installs the Debian package pebble)")
        pytest.skip("pebble / pebble-challtestsrv not installed (Debian package pebble; CI installs it)")
    started: list[Pebble] = []

    def make(http_port: int, **kw: object) -> Pebble:
        peb = Pebble(tmp_path / f"pebble{len(started)}", http_port, **kw).start()  # type: ignore[arg-type]
        started.append(peb)
        return peb

    yield make
    for peb in started:
        peb.stop()
