"""x509text: the serial spellings a trainer copies, and the one fingerprint format."""

from __future__ import annotations

import pytest

from fortishell.lab.ca import LabCA
from fortishell.shell.commands.certs_est import sha256_fingerprint as device_fingerprint
from fortishell.x509text import serial_colon, serial_readings, sha256_fingerprint


@pytest.mark.parametrize(("text", "readings"), [
    ("07:46:9a", (0x7469A,)), ("7:46:9A", (0x7469A,)), (" 07:46:9a\n", (0x7469A,)),
    ("7469a", (0x7469A,)), ("0x7469a", (0x7469A,)), ("0X7469A", (0x7469A,)),
    ("476826", (476826, 0x476826)), ("9", (9,)), ("00", (0,)),
    ("", ()), ("zz", ()), ("07:46:", ()), (":07", ()), ("07::46", ()), ("074:69", ()), ("0x", ()), ("-5", ()),
    ("1e3", (0x1E3,)),
])
def test_serial_readings(text: str, readings: tuple[int, ...]) -> None:
    assert serial_readings(text) == readings


def test_colon_form_round_trips() -> None:
    for serial in (0, 1, 0x74697, 0x7469A, 476826, 2**159 + 12345):
        assert serial_readings(serial_colon(serial)) == (serial,)
    assert serial_colon(0x7469A) == "07:46:9a"


def test_fingerprint_is_the_devices() -> None:
    cert = LabCA.shipped().cert
    assert sha256_fingerprint(cert) == device_fingerprint(cert)
    assert len(sha256_fingerprint(cert)) == 32 * 3 - 1 and sha256_fingerprint(cert).isupper()
