"""The lab CA material, issuing rules and the persistent serial state."""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID
from labkit import LAB_TIME, make_csr

from fortishell.lab import ca as ca_mod
from fortishell.lab.ca import CsrRejected, LabCA
from fortishell.lab.state import FIRST_SERIAL, LabState


def test_shipped_root_matches_the_guide(lab_ca):
    c = lab_ca.cert
    assert c.subject.rfc4514_string() == "CN=estExampleCA" == c.issuer.rfc4514_string()
    assert c.serial_number == 0xABE832E1F66A6B43
    assert c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert lab_ca.ski.hex(":").upper() == "1A:DF:39:84:C2:56:E6:6C:CF:2A:B4:26:A5:FD:0C:D2:43:F5:3D:3E"
    assert isinstance(lab_ca.key.curve, ec.SECP256R1)
    assert c.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert c.not_valid_before_utc.year <= 2015 and c.not_valid_after_utc.year >= 2045
    c.verify_directly_issued_by(c)
    assert "fixed lab test material" in (ca_mod.MATERIAL / "README").read_text().lower()


def test_server_certificate(lab_ca):
    s = lab_ca.server_cert
    s.verify_directly_issued_by(lab_ca.cert)
    san = s.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["testrfc7030.com", "localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


def test_issue_like_the_reference_server(lab_ca):
    key, csr = make_csr("firewall-portal1", extra_subject=[
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "local"), x509.NameAttribute(NameOID.SERIAL_NUMBER, "FPX1")])
    cert = lab_ca.issue(csr, now=LAB_TIME, serial=FIRST_SERIAL)
    assert [(a.oid, a.value) for a in cert.subject] == [(NameOID.COMMON_NAME, "firewall-portal1"), (NameOID.SERIAL_NUMBER, "FPX1")]
    ext = {e.oid: e for e in cert.extensions}
    assert list(ext) == [ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE, ExtensionOID.SUBJECT_KEY_IDENTIFIER,
                         ExtensionOID.AUTHORITY_KEY_IDENTIFIER]
    assert ext[ExtensionOID.BASIC_CONSTRAINTS].value.ca is False
    ku = ext[ExtensionOID.KEY_USAGE].value
    assert ku.digital_signature and not ku.key_encipherment and not ku.key_cert_sign
    assert ext[ExtensionOID.SUBJECT_KEY_IDENTIFIER].value == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert ext[ExtensionOID.AUTHORITY_KEY_IDENTIFIER].value.key_identifier == lab_ca.ski
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=365)
    assert len(cert.signature) == 70  # stable sizes (the guide's Content-Length: 585)


def test_issue_rejects_bad_signature(lab_ca):
    from cryptography.hazmat.primitives import serialization

    _, csr = make_csr()
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01  # inside the signature
    bad = x509.load_der_x509_csr(bytes(der))
    with pytest.raises(CsrRejected):
        lab_ca.issue(bad, now=LAB_TIME, serial=1)


def test_new_and_regenerate(tmp_path):
    fresh = LabCA.new()
    assert fresh.cert.serial_number != 0xABE832E1F66A6B43
    fresh.save(tmp_path / "a")
    assert LabCA.load(tmp_path / "a").cert == fresh.cert
    regenerated = ca_mod.regenerate(tmp_path / "b")
    assert regenerated.cert.serial_number == 0xABE832E1F66A6B43
    assert (tmp_path / "b" / "ca.key").stat().st_mode & 0o077 == 0


def test_state_serials_persist(tmp_path):
    s = LabState(tmp_path)
    assert [s.next_serial() for _ in range(3)] == [FIRST_SERIAL, FIRST_SERIAL + 1, FIRST_SERIAL + 2]
    s.record(FIRST_SERIAL, subject="CN=a", not_after="x", pem="PEM", op="simpleenroll")
    again = LabState(tmp_path)
    assert again.next_serial() == FIRST_SERIAL + 3
    assert again.issued() == {FIRST_SERIAL: {"subject": "CN=a", "not_after": "x", "op": "simpleenroll"}}
    assert again.issued_pem(FIRST_SERIAL) == "PEM"


def test_state_concurrent_allocation_two_instances(tmp_path):
    """16 threads over two LabState objects sharing one directory (as two processes would)."""
    states = [LabState(tmp_path), LabState(tmp_path)]
    got: list[int] = []
    lock = threading.Lock()

    def work(i):
        for _ in range(5):
            n = states[i % 2].next_serial()
            with lock:
                got.append(n)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(FIRST_SERIAL, FIRST_SERIAL + 80))


def test_memory_state_without_directory():
    s = LabState(None)
    assert s.next_serial() == FIRST_SERIAL and s.issued_pem(FIRST_SERIAL) is None


def test_a_csr_the_est_lab_refuses_uses_no_serial(tmp_path, lab_ca):
    """The EST responder's logic in process: a CSR with no CN is refused (400) before a serial is
    allocated, so the next accepted enrollment gets the very next serial (no gap in the lab's serials)."""
    from labkit import basic, certs_from_reply, csr_b64

    from fortishell.lab.estapp import EstApp, Request
    from fortishell.lab.faults import Faults

    state = LabState(tmp_path / "est-lab")
    app = EstApp(lab_ca, state, Faults(), lambda: LAB_TIME)
    first = state.next_serial()

    def simpleenroll(csr: x509.CertificateSigningRequest):
        headers = [("content-type", "application/pkcs10"), ("authorization", basic())]
        return app.handle(Request("POST", "/.well-known/est/simpleenroll", headers, csr_b64(csr), ("127.0.0.1", 5000)))

    key = ec.generate_private_key(ec.SECP256R1())
    no_cn = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lab")])).sign(key, hashes.SHA256())
    refused = simpleenroll(no_cn)
    assert (refused.status, refused.body) == (400, b"CSR subject has no CN\n")
    accepted = simpleenroll(make_csr("student1")[1])
    assert accepted.status == 200, accepted.body
    assert certs_from_reply(accepted.body)[0].serial_number == first + 1
    assert sorted(LabState(tmp_path / "est-lab").issued()) == [first + 1]
