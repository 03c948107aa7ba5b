"""The client against every real-server habit of the lab responder (issue 18): ``ca import est``
with a pinned fingerprint, enrollment, regeneration and rekey, through the real shell grammar and
the embedded responder over TLS; the debug trace shows the habit was on the wire."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fortishell.clock import Clock
from fortishell.est.args import CA, LOCAL
from fortishell.lab.ca import LabCA
from fortishell.replay import transcript
from fortishell.shell.device import Device

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
URL = "https://testrfc7030.com:8443"
DEBUG = "diagnose debug application est -1\ndiagnose debug enable\n"

# knobs -> a text the trace must show (the habit really was on the wire); a NUL does not show in
# the trace (the buffer prints as a C string): tests/lab/test_lab_habits.py checks those bytes
HABITS: dict[str, tuple[dict[str, object], str | None]] = {
    "nul_terminated": ({"nul_terminated": True}, None),
    "crlf_64": ({"wrap_columns": 64}, "Content-Length: 58"),
    "crlf_76": ({"wrap_columns": 76}, "Content-Length: 58"),
    "crlf_13": ({"wrap_columns": 13}, "Content-Length: 64"),
    "pem_armour": ({"pem_armour": True}, "-----BEGIN PKCS7-----"),
    "no_transfer_encoding": ({"no_transfer_encoding": True}, "Content-Type: application/csrattrs"),
    "pkcs7_bare": ({"pkcs7_type": "bare"}, "Content-Type: application/pkcs7-mime"),
    "pkcs7_certs_only": ({"pkcs7_type": "certs-only"}, "Content-Type: application/pkcs7-mime; smime-type=certs-only"),
    "chain_order": ({"chain_order": True}, "Certs: (2 in total)"),
    "chunked": ({"chunked": True}, "Transfer-Encoding: chunked"),
    "http10": ({"http10": True}, "HTTP/1.0 200 OK"),
    "connection_close": ({"connection_close": True}, "Connection: close"),
    "csrattrs_example": ({"csrattrs_example": True}, "Attribute: 1.2.840.10045.2.1 id-ecPublicKey"),
}


def test_the_matrix_covers_every_habit_knob() -> None:
    """A habit added to the responder without a row here fails this test."""
    from fortishell.lab.faults import HABIT_KNOBS, KNOBS

    assert {k for knobs, _ in HABITS.values() for k in knobs} == set(HABIT_KNOBS) <= set(KNOBS)


@pytest.fixture()
def device(tmp_path: Path) -> Iterator[Device]:
    dev = Device.open(tmp_path / "fortishell.conf", tmp_path / "state", Clock(fixed=LAB_TIME))
    yield dev
    dev.close()


def _fingerprint() -> str:
    return hashlib.sha256(LabCA.shipped().cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _cert(device: Device, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(device.cmdb.entry(LOCAL, name).get("certificate").encode())


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _run(device: Device, script: str) -> str:
    rc, text = transcript(script, device, keep_going=False)
    assert rc == 0, text
    assert "Warning:" not in text.replace("set_auth: Warning: cert", "") and "Traceback" not in text, text
    assert "\0" not in text, text
    return text


@pytest.mark.parametrize("habit", list(HABITS))
def test_every_operation_succeeds_against_each_real_server_habit(device: Device, habit: str) -> None:
    knobs, evidence = HABITS[habit]
    device.network.resolve("testrfc7030.com", 8443)  # starts the embedded responder
    device.network.responder.faults.set(**knobs)
    text = _run(device, DEBUG + f'execute vpn certificate ca import est {URL} "" "" "" "" "" "" "" {_fingerprint()}\n')
    assert device.cmdb.entry(CA, "G_CA_Cert_1") is not None
    text += _run(device, "execute vpn certificate local generate est c1 ec-secp256r1 "
                         f'{URL} "CN=c1" "" estuser estpwd G_CA_Cert_1\n')
    first = _cert(device, "c1")
    assert "Done." in text
    text += _run(device, "execute vpn certificate local generate est c1\ny\n")
    regenerated = _cert(device, "c1")
    assert regenerated.serial_number != first.serial_number and _spki(regenerated) == _spki(first)
    text += _run(device, "config vpn certificate local\nedit c1\nset est-regeneration-method create-new-key\n"
                         "next\nend\nexecute vpn certificate local generate est c1\ny\n")
    rekeyed = _cert(device, "c1")
    assert rekeyed.serial_number != regenerated.serial_number and _spki(rekeyed) != _spki(regenerated)
    assert evidence is None or evidence in text, text[-3000:]
