"""``execute vpn certificate ca import est`` (real TLS to the lab responder) and the CA-name check of generate est."""


import hashlib

import pytest
from cryptography.hazmat.primitives import serialization

from disk_faults import config_save_fails
from fortishell.cmdb import store
from fortishell.lab.ca import LabCA
from fortishell.shell.device import Device
from fortishell.shell.session import Session

URL = "https://testrfc7030.com:8443"
GUIDE = ("execute vpn certificate local generate est est-test101 ec-secp256r1 https://testrfc7030.com:8443 "
         "CN=firewall-portal1,DC=local,DC=COM DNS:firewall-portal1.local.ca,IP:172.18.60.184 estuser estpwd "
         "G_CA_Cert_1")
CA = ("vpn", "certificate", "ca")


def _fingerprint() -> str:
    der = LabCA.shipped().cert.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def test_import_with_a_pinned_fingerprint_then_the_guides_command(session: Session, device: Device) -> None:
    result = session.execute(f'execute vpn certificate ca import est {URL} "" "" "" "" "" "" "" {_fingerprint()}')
    assert result.rc == 0, result.lines
    assert result.lines[0] == f"Received 1 CA certificate(s) from {URL}:"
    assert result.lines[1] == "        Subject:     CN = estExampleCA"
    fp = ":".join(_fingerprint().upper()[i:i + 2] for i in range(0, 64, 2))
    assert result.lines[3] == f"        SHA-256 Fingerprint: {fp}"
    assert result.lines[-2:] == ["CA certificate imported as 'G_CA_Cert_1'.", "Done."]
    entry = device.cmdb.entry(CA, "G_CA_Cert_1")
    assert entry.get("est-url") == URL and entry.get("range") == "global"
    enrolled = session.execute(GUIDE)
    assert enrolled.rc == 0 and enrolled.lines == ["Done."]
    assert device.cmdb.entry(CA, "G_CA_Cert_2") is None  # the enrollment found its CA already there


def test_question_without_fingerprint(session: Session, device: Device) -> None:
    before = device.config_path.read_bytes()
    asked = session.execute(f"execute vpn certificate ca import est {URL}")
    assert asked.question is not None and asked.question.text[-1] == "Do you want to continue? (y/n)"
    assert asked.question.answer(False).lines == []
    assert device.cmdb.entry(CA, "G_CA_Cert_1") is None and device.config_path.read_bytes() == before
    again = session.execute(f"execute vpn certificate ca import est {URL}")
    assert again.question is not None
    assert again.question.answer(True).lines[-1] == "Done."
    assert device.cmdb.entry(CA, "G_CA_Cert_1") is not None


def test_fingerprint_mismatch_refuses_and_changes_nothing(session: Session, device: Device) -> None:
    before = device.config_path.read_bytes()
    wrong = "00" * 32
    result = session.execute(f'execute vpn certificate ca import est {URL} "" "" "" "" "" "" "" {wrong}')
    assert result.rc == -1 and result.lines[0].startswith("CA certificate fingerprint mismatch: received ")
    assert result.lines[1:] == ["Command fail. Return code -1"]
    assert device.cmdb.entry(CA, "G_CA_Cert_1") is None and device.config_path.read_bytes() == before


def test_port_without_service_is_refused(session: Session) -> None:
    result = session.execute("execute vpn certificate ca import est https://testrfc7030.com:9999")
    assert result.rc == -1
    assert "Failed to connect to testrfc7030.com port 9999 after " in result.lines[0]
    assert result.lines[0].endswith("Connection refused")


def test_a_ca_name_that_is_not_a_ca_certificate_is_said(session: Session, device: Device) -> None:
    result = session.execute(GUIDE)  # factory configuration: no G_CA_Cert_1
    assert result.rc == -1
    assert result.lines[-3].endswith("SSL certificate problem: self-signed certificate in certificate chain")
    assert result.lines[-2] == ("'G_CA_Cert_1' is not a CA certificate on this device (it was sent as the CA "
                                "identifier).")


def test_a_ca_name_in_the_wrong_case_gets_the_warning(session: Session, device: Device) -> None:
    """Issue 22 item 7: ``G_CA_cert_1`` (a CA name mistyped) gets the warning ``G_CA_Cert_2`` gets."""
    imported = session.execute(f'execute vpn certificate ca import est {URL} "" "" "" "" "" "" "" {_fingerprint()}')
    assert imported.rc == 0, imported.lines
    enrolled = session.execute(GUIDE.replace("G_CA_Cert_1", "G_CA_cert_1"))
    assert enrolled.rc == 0, enrolled.lines
    assert enrolled.lines == ["Warning: 'G_CA_cert_1' is not a CA certificate on this device (did you mean "
                              "'G_CA_Cert_1'? CA names are case-sensitive; it was sent as the CA identifier).",
                              "Done."]


def test_an_import_whose_save_fails_is_kept_and_the_save_failure_shown(session: Session, device: Device,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The CA certificate stored when the configuration file then cannot be written (the disk is
    full) is kept, as after ``end``: the import succeeds and shows the save failure before its own
    lines (it failed with the save failure alone while the CA store held the certificate)."""
    failed = config_save_fails(monkeypatch, device.config_path)
    result = session.execute(f'execute vpn certificate ca import est {URL} "" "" "" "" "" "" "" {_fingerprint()}')
    assert result.rc == 0 and result.lines[0] == f"Received 1 CA certificate(s) from {URL}:"
    assert result.lines[-3:] == [failed, "CA certificate imported as 'G_CA_Cert_1'.", "Done."]
    assert device.cmdb.entry(CA, "G_CA_Cert_1") is not None
