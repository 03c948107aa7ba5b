"""Keys, subjects, SANs, CSRs, PKCS#7 and certificate text for EST.

Pure functions over ``cryptography`` and ``pyasn1`` objects: no I/O, no CMDB,
no trace.  Parse errors raise :class:`PkiError` (a ``ValueError``) carrying a
short reason; callers turn it into a FortiOS-style message.  OID names follow
OpenSSL's long names (what FortiOS prints), ``undefined`` when OpenSSL has none.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import secrets
from dataclasses import dataclass
from typing import Any, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AttributeOID, ExtensionOID, NameOID

from ..x509text import extension_name, extension_text, name_compact, serial_colon

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]


class PkiError(ValueError):
    """A malformed subject, SAN, CSR attribute set, PKCS#7 body or certificate."""


# ------------------------------------------------------------------ algorithms
@dataclass(frozen=True)
class Algorithm:
    name: str  # as typed: rsa-2048, ec-secp384r1
    rsa_bits: int = 0  # 0 for EC (est_ctx rsa_keysize)
    curve: str | None = None  # OpenSSL curve name (est_ctx ec_curvename)


ALGORITHMS: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("rsa-1024", 1024), Algorithm("rsa-1536", 1536), Algorithm("rsa-2048", 2048),
        Algorithm("rsa-4096", 4096), Algorithm("ec-secp256r1", curve="secp256r1"),
        Algorithm("ec-secp384r1", curve="secp384r1"), Algorithm("ec-secp521r1", curve="secp521r1"),
    )
}
_CURVES: dict[str, type[ec.SECP256R1 | ec.SECP384R1 | ec.SECP521R1]] = {
    "secp256r1": ec.SECP256R1, "secp384r1": ec.SECP384R1, "secp521r1": ec.SECP521R1}
SignHash = hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512
_CURVE_HASH: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512}


def generate_key(algorithm: Algorithm) -> PrivateKey:
    if algorithm.curve:
        return ec.generate_private_key(_CURVES[algorithm.curve]())
    return rsa.generate_private_key(public_exponent=65537, key_size=algorithm.rsa_bits)


def default_hash(key: PrivateKey) -> SignHash:
    """The CSR signature hash: SHA-256, or the curve's matching hash for P-384/P-521."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return _CURVE_HASH.get(key.curve.name, hashes.SHA256)()
    return hashes.SHA256()


def random_password() -> str:
    """A key password like FortiOS's ``passwd:`` value (62 hex characters)."""
    return secrets.token_hex(31)


def encrypt_key(key: PrivateKey, password: str) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    ).decode()


def load_key(pem: str, password: str | None) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password.encode() if password else None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"cannot load the private key: {exc}") from exc
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise PkiError("unsupported private key type")
    return key


# ------------------------------------------------------------------ subjects and SANs
_SUBJECT_KEYS: dict[str, x509.ObjectIdentifier] = {
    "cn": NameOID.COMMON_NAME, "c": NameOID.COUNTRY_NAME, "st": NameOID.STATE_OR_PROVINCE_NAME,
    "l": NameOID.LOCALITY_NAME, "o": NameOID.ORGANIZATION_NAME, "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "dc": NameOID.DOMAIN_COMPONENT, "emailaddress": NameOID.EMAIL_ADDRESS, "email": NameOID.EMAIL_ADDRESS,
    "e": NameOID.EMAIL_ADDRESS, "serialnumber": NameOID.SERIAL_NUMBER, "uid": NameOID.USER_ID,
    "sn": NameOID.SURNAME, "gn": NameOID.GIVEN_NAME, "title": NameOID.TITLE,
    "street": NameOID.STREET_ADDRESS, "postalcode": NameOID.POSTAL_CODE,
}
# OpenSSL short names for printing names (est_print_x509 / csrattrs)


def _split_unescaped(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` except where escaped with a backslash; unescape ``\\,``."""
    parts, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i + 1])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def parse_subject(text: str) -> x509.Name:
    """``CN=a,DC=local,O=Org`` -> Name (fields in the order given)."""
    attrs: list[x509.NameAttribute[Any]] = []
    for part in _split_unescaped(text):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key or not value:
            raise PkiError(f"invalid subject field '{part}'")
        oid = _SUBJECT_KEYS.get(key.lower())
        if oid is None:
            raise PkiError(f"unknown subject field '{key}'")
        if oid == NameOID.COUNTRY_NAME and not re.fullmatch(r"[A-Za-z]{2}", value):
            raise PkiError(f"invalid country code '{value}'")
        if len(value) > 64 and oid == NameOID.COMMON_NAME:
            raise PkiError("common name longer than 64 characters")
        attrs.append(x509.NameAttribute(oid, value))
    return x509.Name(attrs)


_DNS_RE = re.compile(r"(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?")


def parse_san(text: str) -> list[x509.GeneralName]:
    """``DNS:a.b,IP:1.2.3.4,email:x@y,URI:https://...`` -> general names."""
    names: list[x509.GeneralName] = []
    for part in (p.strip() for p in text.split(",")):
        kind, colon, value = part.partition(":")
        kind_l = kind.strip().lower()
        if not colon or not value:
            raise PkiError(f"invalid subject alternative name '{part}'")
        if kind_l == "dns":
            if not _DNS_RE.fullmatch(value):
                raise PkiError(f"invalid DNS name '{value}'")
            names.append(x509.DNSName(value))
        elif kind_l in ("ip", "ip address"):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(value)))
            except ValueError as exc:
                raise PkiError(f"invalid IP address '{value}'") from exc
        elif kind_l == "email":
            if not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
                raise PkiError(f"invalid email address '{value}'")
            names.append(x509.RFC822Name(value))
        elif kind_l == "uri":
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", value):
                raise PkiError(f"invalid URI '{value}'")
            names.append(x509.UniformResourceIdentifier(value))
        else:
            raise PkiError(f"unknown subject alternative name type '{kind}'")
    return names


name_oneline = name_compact  # ``CN=estExampleCA`` (the debug dumps)


# ------------------------------------------------------------------ CSR
def build_csr(
    key: PrivateKey,
    subject: x509.Name,
    san: list[x509.GeneralName] | None = None,
    *,
    challenge_password: str | None = None,
    extensions: list[x509.Extension[Any]] | None = None,
    hash_alg: SignHash | None = None,
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    for ext in extensions or []:
        if san and ext.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME:
            continue
        builder = builder.add_extension(ext.value, ext.critical)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if challenge_password is not None:
        builder = builder.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge_password.encode())
    return builder.sign(key, hash_alg or default_hash(key))


# Extensions a CA sets for the certificate it issues: never requested back in a CSR.  The key
# identifiers above all: a rekey CSR must not claim the old key's SubjectKeyIdentifier, and the
# AuthorityKeyIdentifier names whichever CA key signs the new certificate.
CA_OWNED_EXTENSIONS = frozenset({
    ExtensionOID.SUBJECT_KEY_IDENTIFIER, ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS, ExtensionOID.CRL_DISTRIBUTION_POINTS,
})


def csr_from_cert(
    cert: x509.Certificate, key: PrivateKey, *, challenge_password: str | None = None,
    hash_alg: SignHash | None = None,
) -> x509.CertificateSigningRequest:
    """A re-enrollment CSR: the certificate's subject and extensions (not those the CA owns), ``key``."""
    kept = [ext for ext in cert.extensions if ext.oid not in CA_OWNED_EXTENSIONS]
    return build_csr(key, cert.subject, None, challenge_password=challenge_password,
                     extensions=kept, hash_alg=hash_alg)


def csr_der_base64(csr: x509.CertificateSigningRequest) -> str:
    """Base64 of the DER CSR wrapped at 64 columns (the compatible form, RFC 8951)."""
    b64 = base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode()
    return "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))


def tls_unique_password(tls_unique: bytes) -> str:
    return base64.b64encode(tls_unique).decode()


# ------------------------------------------------------------------ bodies
def b64decode_body(body: bytes) -> bytes:
    """A base64 body as liberally as libcurl + libest read it.

    Tolerated: line breaks at any width (LF or CRLF, RFC 8951), other ASCII
    whitespace, trailing NUL bytes (the reference server counts a terminating
    ``\\0`` in its ``Content-Length``) and PEM armour.  Anything else that is not
    base64 is refused."""
    text = body.decode("ascii", errors="strict") if isinstance(body, bytes) else body
    text = text.rstrip("\x00 \t\r\n\f\v")
    text = re.sub(r"-----(BEGIN|END) [A-Z0-9 ]+-----", "", text)
    compact = "".join(text.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PkiError("the response is not valid base64") from exc


def parse_pkcs7_certs(body: bytes) -> list[x509.Certificate]:
    """The certificates of a base64 certs-only PKCS#7 body, in the order sent.

    The structure is read as BER, as the device's OpenSSL reads it: a set in chain
    order (as many servers send it) is not DER, whose SET OF is sorted, and
    cryptography's PKCS#7 loader would read it only with a UserWarning.  pyasn1
    reads the SignedData (:func:`pkcs7_certs_ber`) and cryptography each
    certificate, from its own bytes."""
    try:
        der = b64decode_body(body)
    except UnicodeDecodeError as exc:
        raise PkiError("the response is not valid base64") from exc
    certs = pkcs7_certs_ber(der)
    if not certs:
        raise PkiError("the PKCS#7 structure holds no certificate")
    return certs


def pkcs7_certs_ber(der: bytes) -> list[x509.Certificate]:
    """The certificates of a (BER or DER) PKCS#7 SignedData, in encoding order
    (``certsonly.py``: pyasn1 loads on the first reply, not at start-up)."""
    from .certsonly import certificates

    return certificates(der)


# ------------------------------------------------------------------ certificates
def load_cert(pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    except ValueError as exc:
        raise PkiError("invalid certificate") from exc


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def cert_matches_key(cert: x509.Certificate, key: PrivateKey) -> bool:
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return cert.public_key().public_bytes(der, fmt) == key.public_key().public_bytes(der, fmt)


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def has_client_auth_usage(cert: x509.Certificate) -> bool:
    """Whether the key usage / extended key usage allow TLS client authentication."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
            return False
    except x509.ExtensionNotFound:
        return False
    return True


def x509_text(cert: x509.Certificate) -> str:
    """The ``est_print_x509`` block (OpenSSL X509_print without header, validity, key, signature).

    Serial numbers that fit a signed long print as ``N (0xN)``; larger ones as
    colon hex on their own line, as OpenSSL does.  Ends with an empty line.
    """
    ind = " " * 8
    lines = [f"{ind}Version: {cert.version.value + 1} (0x{cert.version.value:x})"]
    serial = cert.serial_number
    if 0 <= serial < 2**63:
        lines.append(f"{ind}Serial Number: {serial} (0x{serial:x})")
    else:
        lines += [f"{ind}Serial Number:", f"{ind}    {serial_colon(serial)}"]
    lines += [f"{ind}Issuer: {name_oneline(cert.issuer)}", f"{ind}Subject: {name_oneline(cert.subject)}"]
    try:
        exts = list(cert.extensions)
    except ValueError:
        exts = []
    if exts:
        lines.append(f"{ind}X509v3 extensions:")
        for ext in exts:
            lines.append(f"{ind}    {extension_name(ext)}:{' critical' if ext.critical else ''}")
            lines.append(f"{ind}        {extension_text(ext)}")
    return "\n".join(lines) + "\n"
