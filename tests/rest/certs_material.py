"""Certificates, keys, CSR signatures, PKCS#12 files and CRLs the REST certificate tests send
(made with ``cryptography``; a small EC CA so each test stays cheap)."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.timezone.utc)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class MiniCa:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def make(cls, cn: str = "REST Test Root") -> "MiniCa":
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(days=1))
                .not_valid_after(NOW + dt.timedelta(days=365))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    def sign(self, public_key: object, cn: str) -> x509.Certificate:
        return (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(self.cert.subject).public_key(public_key)  # type: ignore[arg-type]
                .serial_number(x509.random_serial_number()).not_valid_before(NOW - dt.timedelta(days=1))
                .not_valid_after(NOW + dt.timedelta(days=90))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
                .sign(self.key, hashes.SHA256()))

    def sign_csr(self, csr_pem: bytes) -> x509.Certificate:
        csr = x509.load_pem_x509_csr(csr_pem)
        return self.sign(csr.public_key(), "issued from a CSR")

    def leaf(self, cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        return key, self.sign(key.public_key(), cn)

    def crl(self, revoked_serial: int = 4242) -> bytes:
        entry = (x509.RevokedCertificateBuilder().serial_number(revoked_serial)
                 .revocation_date(NOW - dt.timedelta(hours=1)).build())
        crl = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
               .last_update(NOW - dt.timedelta(hours=1)).next_update(NOW + dt.timedelta(days=7))
               .add_revoked_certificate(entry).sign(self.key, hashes.SHA256()))
        return crl.public_bytes(serialization.Encoding.DER)


def p12(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, password: str) -> bytes:
    return pkcs12.serialize_key_and_certificates(b"rest", key, cert, None,
                                                 serialization.BestAvailableEncryption(password.encode()))


def key_pem(key: ec.EllipticCurvePrivateKey, password: str) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(password.encode()))
