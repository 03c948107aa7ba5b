"""Our SCEP client against an independent server (Debian's ``scepserver``, micromdm/scep), through
the shell: ``ca import auto``, enrollment, the FAILURE path of a wrong challenge, renewal."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fortishell.shell.device import Device
from fortishell.shell.session import Session

from scep_helpers import CHALLENGE, ScepServer

LOCAL = ("vpn", "certificate", "local")
CA = ("vpn", "certificate", "ca")


def _pin(server: ScepServer) -> str:
    return hashlib.sha256(server.ca.public_bytes(serialization.Encoding.DER)).hexdigest()


def _generate(name: str, url: str, challenge: str) -> str:
    return (f'execute vpn certificate local generate rsa {name} 2048 {name}.lab "" "" "" "" "" "" "" '
            f'{url} {challenge}')


def _import(session: Session, server: ScepServer) -> None:
    result = session.execute(f'execute vpn certificate ca import auto {server.url} "" "" {_pin(server)}')
    assert result.rc == 0 and result.lines[-2:] == ["CA certificate imported as 'G_CA_Cert_1'.", "Done."], result.lines


def _cert(device: Device, name: str) -> x509.Certificate:
    entry = device.cmdb.entry(LOCAL, name)
    assert entry is not None and entry.get("certificate"), name
    return x509.load_pem_x509_certificate(str(entry.get("certificate")).encode())


def test_ca_import_auto_asks_and_stores_the_servers_ca(session: Session, device: Device,
                                                       scepserver: ScepServer) -> None:
    asked = session.execute(f"execute vpn certificate ca import auto {scepserver.url}")
    assert asked.question is not None, asked.lines
    assert asked.question.text[0] == f"Received 1 CA certificate(s) from {scepserver.url}:"
    assert asked.question.text[-1] == "Do you want to continue? (y/n)"
    assert asked.question.answer(True).lines[-2:] == ["CA certificate imported as 'G_CA_Cert_1'.", "Done."]
    entry = device.cmdb.entry(CA, "G_CA_Cert_1")
    assert entry is not None and entry.get("scep-url") == scepserver.url
    assert x509.load_pem_x509_certificate(str(entry.get("ca")).encode()) == scepserver.ca


def test_enroll_then_renew_against_scepserver(session: Session, device: Device, scepserver: ScepServer) -> None:
    _import(session, scepserver)
    trace: list[str] = []
    device.set_sink(trace.append)
    assert session.execute("diagnose debug application scep -1").rc == 0
    assert session.execute("diagnose debug enable").rc == 0
    result = session.execute(_generate("dev1", scepserver.url, CHALLENGE))
    assert result.rc == 0 and result.lines == [], result.lines
    first = _cert(device, "dev1")
    assert first.issuer == scepserver.ca.subject
    assert first.subject.rfc4514_string() == "CN=dev1.lab"
    entry = device.cmdb.entry(LOCAL, "dev1")
    assert entry is not None and entry.get("enroll-protocol") == "scep" and entry.get("scep-url") == scepserver.url
    assert "__read_ca_cert_cb: loaded CA" in trace and "pkcs7_wrap:1120 creating inner PKCS#7" in trace
    assert "pkcs7_unwrap: pkistatus: SUCCESS" in trace

    # renewal on the device clock (KB 420924's settings): RenewalReq, since the server offers Renewal,
    # signed with the current certificate; this server wants the challenge in a renewal too
    trace.clear()
    for line in ("config vpn certificate local", "edit dev1", f"set scep-password {CHALLENGE}",
                 "set auto-regenerate-days 400", "end"):
        assert session.execute(line).rc == 0, line
    outcomes = device.poll_renewals(force=True)
    renewed = _cert(device, "dev1")
    assert renewed.serial_number != first.serial_number and renewed.issuer == scepserver.ca.subject
    assert renewed.public_key().public_numbers() != first.public_key().public_numbers()  # a new key
    assert any("sending RENEWAL_REQ" in line for line in trace), trace
    log = session.execute("execute log display").lines
    assert any('msg="Certificate dev1 was renewed with SCEP"' in line for line in log), log


def test_wrong_challenge_is_the_failure_path(session: Session, device: Device, scepserver: ScepServer) -> None:
    _import(session, scepserver)
    before = device.config_path.read_bytes()
    result = session.execute(_generate("dev2", scepserver.url, "not-the-challenge"))
    assert result.rc == -1
    assert result.lines == ["SCEP enrollment of certificate 'dev2' failed: request failed, failInfo badRequest "
                            "(transaction not permitted or supported)", "Command fail. Return code -1"]
    assert device.cmdb.entry(LOCAL, "dev2") is None and device.config_path.read_bytes() == before


def test_enrollment_refuses_a_ca_the_device_does_not_trust(session: Session, device: Device,
                                                          scepserver: ScepServer) -> None:
    result = session.execute(_generate("dev3", scepserver.url, CHALLENGE))
    assert result.rc == -1 and "is not trusted: self-signed certificate (import it first" in result.lines[0]
    assert f"execute vpn certificate ca import auto {scepserver.url}" in result.lines[0]
    assert device.cmdb.entry(LOCAL, "dev3") is None


def test_ec_key_fails_as_the_device_does(session: Session, device: Device, scepserver: ScepServer) -> None:
    _import(session, scepserver)
    result = session.execute(f'execute vpn certificate local generate ec dev4 secp256r1 dev4.lab "" "" "" "" "" '
                             f'"" "" {scepserver.url} {CHALLENGE}')
    assert result.rc == -1 and result.lines[0].startswith("Couldn't read inner PKCS#7")
    assert device.cmdb.entry(LOCAL, "dev4") is None
