"""The certificate files that travel over TFTP: PEM/DER certificates, bundles, PKCS#12.

Choices where FortiOS is undocumented: a ``cer`` export is the PEM certificate
(what ``openssl x509`` reads by default); a ``csr`` export the PEM request; a
``p12`` export is PKCS#12 with the key, the certificate and the CA
certificates of the device that issued it, encrypted with the password given
(AES-256 / PBKDF2, which ``openssl pkcs12`` reads).  Imports accept PEM or DER
and, for CA files and bundles, PEM files with several certificates or a
PKCS#7 certs-only file.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from ..est import pki
from . import CertFileError

P12_ALIAS_MAX = 64


def read_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM file, a DER certificate or a PKCS#7 certs-only file."""
    if not data.strip():
        raise CertFileError("the file is empty")
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            return x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise CertFileError("the file holds a damaged certificate") from exc
    if b"-----BEGIN PKCS7-----" in data:
        try:
            return list(pkcs7.load_pem_pkcs7_certificates(data))
        except ValueError as exc:
            raise CertFileError("the file holds a damaged PKCS#7 structure") from exc
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    try:
        return list(pkcs7.load_der_pkcs7_certificates(data))
    except ValueError as exc:
        raise CertFileError("the file is not a certificate") from exc


def looks_like_p12(data: bytes) -> bool:
    """A DER SEQUENCE that is not a certificate: how a PKCS#12 file starts."""
    if not data.startswith(b"\x30") or b"-----BEGIN" in data:
        return False
    try:
        x509.load_der_x509_certificate(data)
    except ValueError:
        return True
    return False


def export_p12(name: str, key: pki.PrivateKey, cert: x509.Certificate, cas: list[x509.Certificate],
               password: str) -> bytes:
    if not password:
        raise CertFileError("a PKCS#12 export needs a password")
    return pkcs12.serialize_key_and_certificates(
        name.encode("utf-8")[:P12_ALIAS_MAX], key, cert, cas or None,
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )


def load_p12(data: bytes, password: str) -> tuple[pki.PrivateKey, x509.Certificate, list[x509.Certificate]]:
    """Key, certificate and extra certificates of a PKCS#12 file; a wrong password fails."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode("utf-8") if password else None)
    except ValueError as exc:
        text = str(exc).lower()
        if "password" in text or "mac" in text or "decrypt" in text:
            raise CertFileError("wrong password for the PKCS#12 file") from exc
        raise CertFileError("the file is not a PKCS#12 file") from exc
    if key is None or cert is None:
        raise CertFileError("the PKCS#12 file holds no key and certificate")
    if not pki.cert_matches_key(cert, key):  # type: ignore[arg-type]
        raise CertFileError("the PKCS#12 key does not match its certificate")
    return key, cert, list(extra)  # type: ignore[return-value]
