"""``/serverkeygen`` (RFC 7030 4.4) of the lab responder, fetched by curl over real TLS and read with
Python's MIME parser and cryptography: a multipart/mixed reply, the key (application/pkcs8) first,
then the certificate for that key (application/pkcs7-mime; smime-type=certs-only)."""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from labkit import basic, client_context, csr_b64, enroll_headers, make_csr, raw_request

PATH = "/.well-known/est/serverkeygen"


def _curl_post(responder, ca_file: Path, body_file: Path, *auth: str) -> tuple[str, bytes]:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    port = responder.port
    proc = subprocess.run(
        ["curl", "-sS", "--max-time", "20", "--cacert", str(ca_file), "--resolve",
         f"testrfc7030.com:{port}:127.0.0.1", "-D", "-", *auth, "-H", "Content-Type: application/pkcs10",
         "--data-binary", f"@{body_file}", f"https://testrfc7030.com:{port}{PATH}"],
        capture_output=True, timeout=30, check=True)
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def _parts(head: str, body: bytes):
    ctype = next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("content-type:"))
    msg = email.message_from_bytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body, policy=email.policy.HTTP)
    assert msg.get_content_type() == "multipart/mixed"
    return list(msg.iter_parts())


@pytest.mark.parametrize("kind", ["ec384", "rsa"])
def test_serverkeygen_returns_key_and_certificate(responder, lab_ca, ca_file, tmp_path, kind):
    key = ec.generate_private_key(ec.SECP384R1()) if kind == "ec384" else rsa.generate_private_key(65537, 2048)
    own_key, csr = make_csr("keygen-client", key=key)
    body = tmp_path / "csr.b64"
    body.write_bytes(csr_b64(csr))
    head, raw = _curl_post(responder, ca_file, body, "-u", "estuser:estpwd")
    assert head.startswith("HTTP/1.1 200 OK")
    key_part, cert_part = _parts(head, raw)
    assert key_part.get_content_type() == "application/pkcs8"
    assert key_part["Content-Transfer-Encoding"] == "base64"
    assert cert_part.get_content_type() == "application/pkcs7-mime"
    assert cert_part.get_param("smime-type") == "certs-only"
    server_key = serialization.load_der_private_key(key_part.get_payload(decode=True), None)
    (cert,) = pkcs7.load_der_pkcs7_certificates(cert_part.get_payload(decode=True))
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    assert cert.public_key().public_bytes(der, spki) == server_key.public_key().public_bytes(der, spki)
    assert cert.public_key().public_bytes(der, spki) != own_key.public_key().public_bytes(der, spki)
    assert type(server_key) is type(own_key)  # the kind of key the request named
    if kind == "ec384":
        assert server_key.curve.name == "secp384r1"
    assert cert.issuer == lab_ca.cert.subject
    cert.verify_directly_issued_by(lab_ca.cert)


def test_serverkeygen_needs_authentication_and_post(responder, lab_ca):
    _, csr = make_csr()
    refused = raw_request(responder.port, client_context(lab_ca), "POST", PATH, body=csr_b64(csr),
                          headers=enroll_headers())
    assert refused.status == 401 and refused.header("WWW-Authenticate")
    assert raw_request(responder.port, client_context(lab_ca), "GET", PATH).status == 405
    ok = raw_request(responder.port, client_context(lab_ca), "POST", PATH, body=csr_b64(csr),
                     headers=enroll_headers(basic()))
    assert ok.status == 200 and ok.header("Content-Type").startswith("multipart/mixed; boundary=")
