"""Key pairs and certificate signing requests for ``execute vpn certificate local generate rsa|ec``.

Parameters follow the CLI reference (``<name> <key-size|curve> <subject>
[<country> <state> <city> <org> <unit> <email> <subject-alt-names> ...]``):
``subject`` becomes the CN (the reference calls it "Host-IP/Domain Name/E-Mail"),
the optional fields the C, ST, L, O, OU (several units separated by ``,``)
and emailAddress attributes, in the OpenSSL order ``C, ST, L, O, OU, CN,
emailAddress``.  An empty position (``""``) is skipped.  The CSR is signed with
SHA-256 (SHA-384/512 for P-384/P-521), as the EST path does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from ..est import pki
from . import CertFileError

RSA_SIZES = ("1024", "1536", "2048", "4096")
CURVES = ("secp256r1", "secp384r1", "secp521r1")


@dataclass(frozen=True)
class RequestSpec:
    """What ``generate rsa|ec`` asks for (strings as typed; empty = not given)."""

    kind: str  # "rsa" | "ec"
    size_or_curve: str
    subject: str
    country: str = ""
    state: str = ""
    city: str = ""
    org: str = ""
    unit: str = ""
    email: str = ""
    san: str = ""


def algorithm(kind: str, size_or_curve: str) -> pki.Algorithm:
    name = f"rsa-{size_or_curve}" if kind == "rsa" else f"ec-{size_or_curve}"
    alg = pki.ALGORITHMS.get(name)
    if alg is None:
        raise CertFileError(f"invalid {'key size' if kind == 'rsa' else 'curve name'} '{size_or_curve}'")
    return alg


def subject_name(spec: RequestSpec) -> x509.Name:
    if not spec.subject:
        raise CertFileError("the subject is empty")
    if spec.country and not re.fullmatch(r"[A-Za-z]{2}", spec.country):
        raise CertFileError(f"invalid country code '{spec.country}'")
    attrs: list[x509.NameAttribute[str]] = []
    for oid, value in ((NameOID.COUNTRY_NAME, spec.country.upper()), (NameOID.STATE_OR_PROVINCE_NAME, spec.state),
                       (NameOID.LOCALITY_NAME, spec.city), (NameOID.ORGANIZATION_NAME, spec.org)):
        if value:
            attrs.append(x509.NameAttribute(oid, value))
    attrs += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, u.strip())
              for u in spec.unit.split(",") if u.strip()]
    if len(spec.subject) > 64:
        raise CertFileError("the subject is longer than 64 characters")
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, spec.subject))
    if spec.email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, spec.email))
    return x509.Name(attrs)


def make_request(spec: RequestSpec) -> tuple[pki.PrivateKey, x509.CertificateSigningRequest]:
    """A fresh key pair and its signed CSR.  Raises :class:`CertFileError`."""
    alg = algorithm(spec.kind, spec.size_or_curve)
    name = subject_name(spec)
    try:
        san = pki.parse_san(spec.san) if spec.san else None
    except pki.PkiError as exc:
        raise CertFileError(str(exc)) from None
    key = pki.generate_key(alg)
    return key, pki.build_csr(key, name, san)


def csr_pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_csr(pem: str) -> x509.CertificateSigningRequest:
    try:
        return x509.load_pem_x509_csr(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise CertFileError("invalid certificate request") from exc


def _spki(key: object) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,  # type: ignore[attr-defined, no-any-return]
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_matches_csr(cert: x509.Certificate, csr: x509.CertificateSigningRequest) -> bool:
    """True when ``cert`` certifies the key of ``csr``."""
    return _spki(cert.public_key()) == _spki(csr.public_key())
