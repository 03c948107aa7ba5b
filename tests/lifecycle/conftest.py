"""Fixtures for the lifecycle tests: a device booted from a lab configuration on a fixed clock.

The configuration is the factory default plus the shipped lab root CA as
``G_CA_Cert_1`` (what the guide's Example 1 names); the lab EST responder runs
in-process on 127.0.0.1 and issues on the device clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_helpers import LAB_TIME

from fortishell.clock import Clock
from fortishell.cmdb import factory, store
from fortishell.cmdb.schema import CA
from fortishell.lab.ca import LabCA
from fortishell.shell.device import Device


@pytest.fixture()
def config_path(tmp_path: Path) -> Path:
    cmdb = factory.factory_cmdb()
    with cmdb.transaction() as tx:
        tx.put(CA, "G_CA_Cert_1", {"ca": LabCA.shipped().cert_pem, "source": "user", "range": "global"})
    path = tmp_path / "fortishell.conf"
    store.save(cmdb, path)
    return path


@pytest.fixture()
def device(tmp_path: Path, config_path: Path) -> Iterator[Device]:
    dev = Device.open(config_path, tmp_path / "state", Clock(fixed=LAB_TIME))
    yield dev
    dev.close()

