"""Pure certificate building blocks: CSRs, certificate files, PKCS#12, the CRL detail block."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from fortishell.certs import CertFileError, files, request
from fortishell.cmdb import certdetails
from fortishell.lab.ca import LabCA
from fortishell.lab.crl import build_crl, crl_pem

NOW = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)


def test_request_subject_order_and_san() -> None:
    spec = request.RequestSpec("ec", "secp384r1", "fw1.lab", country="de", state="BY", city="Munich", org="Lab",
                               unit="net, sec", email="pki@lab.example", san="DNS:fw1.lab,IP:192.0.2.1")
    key, csr = request.make_request(spec)
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == ("1.2.840.113549.1.9.1=pki@lab.example,CN=fw1.lab,OU=sec,OU=net,O=Lab,"
                                            "L=Munich,ST=BY,C=DE")
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["fw1.lab"]
    assert request.load_csr(request.csr_pem(csr)) == csr
    cert = LabCA.shipped().issue(csr, now=NOW, serial=7)
    assert request.cert_matches_csr(cert, csr)
    _, other = request.make_request(request.RequestSpec("rsa", "2048", "other"))
    assert not request.cert_matches_csr(cert, other)


@pytest.mark.parametrize("spec, reason", [
    (request.RequestSpec("rsa", "512", "x"), "invalid key size '512'"),
    (request.RequestSpec("ec", "prime256v1", "x"), "invalid curve name 'prime256v1'"),
    (request.RequestSpec("ec", "secp256r1", ""), "the subject is empty"),
    (request.RequestSpec("ec", "secp256r1", "x", country="USA"), "invalid country code 'USA'"),
    (request.RequestSpec("ec", "secp256r1", "x", san="FOO:bar"), "unknown subject alternative name type 'FOO'"),
])
def test_request_refusals(spec: request.RequestSpec, reason: str) -> None:
    with pytest.raises(CertFileError, match=reason):
        request.make_request(spec)


def test_certificate_files_in_every_encoding() -> None:
    ca, other = LabCA.shipped(), LabCA.new()
    pem = (ca.cert_pem + other.cert_pem).encode()
    assert files.read_certificates(pem) == [ca.cert, other.cert]
    der = ca.cert.public_bytes(serialization.Encoding.DER)
    assert files.read_certificates(der) == [ca.cert]
    p7 = pkcs7.serialize_certificates([ca.cert, other.cert], serialization.Encoding.DER)
    assert files.read_certificates(p7) == [ca.cert, other.cert]
    for bad in (b"", b"hello", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with pytest.raises(CertFileError):
            files.read_certificates(bad)
    assert not files.looks_like_p12(der) and not files.looks_like_p12(pem)


def test_pkcs12_round_trip_and_wrong_password() -> None:
    key, csr = request.make_request(request.RequestSpec("ec", "secp256r1", "p12.lab"))
    ca = LabCA.shipped()
    cert = ca.issue(csr, now=NOW, serial=9)
    data = files.export_p12("p12", key, cert, [ca.cert], "pw")
    assert files.looks_like_p12(data)
    got_key, got_cert, extra = files.load_p12(data, "pw")
    assert got_cert == cert and extra == [ca.cert]
    assert got_key.private_numbers() == key.private_numbers()  # type: ignore[union-attr]
    with pytest.raises(CertFileError, match="wrong password"):
        files.load_p12(data, "nope")
    with pytest.raises(CertFileError):
        files.export_p12("p12", key, cert, [], "")


def test_crl_detail_block() -> None:
    ca = LabCA.shipped()
    pem = crl_pem(build_crl(ca, {476823: "2023-04-06T22:40:00+00:00"}, NOW))
    assert certdetails.detail_lines(pem) == [
        "        Issuer:      CN = estExampleCA",
        "        Last update: 2023-04-06 22:37:34  GMT",
        "        Next update: 2023-04-13 22:37:34  GMT",
        "        Revoked:     1",
        "                Serial Num: 07:46:97",
        "                Revoked at: 2023-04-06 22:40:00  GMT",
        "",
    ]
