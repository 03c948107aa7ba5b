"""The certificate detail block of ``get`` (Subject, Issuer, ..., Extensions).

Owns the text FortiOS prints under ``certificate :`` (local) and ``ca :`` (CA)
and the run-time ``state`` of a local certificate.  Layout from the guide's
Example 3: 8-space indent for the fields, 16 spaces for the serial number and
the extension blocks, a blank line after each extension and one more at the
end.  Names are printed the OpenSSL "oneline" way (``CN = x, O = y``, in
certificate order), the fingerprint is the MD5 of the DER encoding (16 bytes,
as in the guide), extension names and contents follow OpenSSL's texts.
The guide shows a trailing space after one extension value; that is a
copy artefact (the same line has none in the debug dump) and is not reproduced.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

I1 = " " * 8
I2 = " " * 16

_SHORT = {
    NameOID.COUNTRY_NAME: "C", NameOID.STATE_OR_PROVINCE_NAME: "ST", NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O", NameOID.ORGANIZATIONAL_UNIT_NAME: "OU", NameOID.COMMON_NAME: "CN",
    NameOID.EMAIL_ADDRESS: "emailAddress", NameOID.DOMAIN_COMPONENT: "DC", NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.SURNAME: "SN", NameOID.GIVEN_NAME: "GN", NameOID.TITLE: "title", NameOID.USER_ID: "UID",
    NameOID.STREET_ADDRESS: "street", NameOID.POSTAL_CODE: "postalCode",
}

_EXT_NAMES = {
    ExtensionOID.BASIC_CONSTRAINTS: "X509v3 Basic Constraints",
    ExtensionOID.KEY_USAGE: "X509v3 Key Usage",
    ExtensionOID.SUBJECT_KEY_IDENTIFIER: "X509v3 Subject Key Identifier",
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER: "X509v3 Authority Key Identifier",
    ExtensionOID.SUBJECT_ALTERNATIVE_NAME: "X509v3 Subject Alternative Name",
    ExtensionOID.ISSUER_ALTERNATIVE_NAME: "X509v3 Issuer Alternative Name",
    ExtensionOID.EXTENDED_KEY_USAGE: "X509v3 Extended Key Usage",
    ExtensionOID.CRL_DISTRIBUTION_POINTS: "X509v3 CRL Distribution Points",
    ExtensionOID.CERTIFICATE_POLICIES: "X509v3 Certificate Policies",
    ExtensionOID.AUTHORITY_INFORMATION_ACCESS: "Authority Information Access",
    ExtensionOID.NAME_CONSTRAINTS: "X509v3 Name Constraints",
}

_EKU = {
    ExtendedKeyUsageOID.SERVER_AUTH: "TLS Web Server Authentication",
    ExtendedKeyUsageOID.CLIENT_AUTH: "TLS Web Client Authentication",
    ExtendedKeyUsageOID.CODE_SIGNING: "Code Signing",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "E-mail Protection",
    ExtendedKeyUsageOID.TIME_STAMPING: "Time Stamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSP Signing",
}

_KU = (("digital_signature", "Digital Signature"), ("content_commitment", "Non Repudiation"),
       ("key_encipherment", "Key Encipherment"), ("data_encipherment", "Data Encipherment"),
       ("key_agreement", "Key Agreement"), ("key_cert_sign", "Certificate Sign"), ("crl_sign", "CRL Sign"))


def load(pem: str) -> x509.Certificate | None:
    """The certificate of a PEM value, or None when it does not parse."""
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None


def colon_hex(data: bytes, upper: bool = True) -> str:
    text = data.hex()
    text = text.upper() if upper else text
    return ":".join(text[i:i + 2] for i in range(0, len(text), 2))


def oneline(name: x509.Name) -> str:
    """``CN = firewall-portal1`` / ``C = US, O = Fortinet, CN = x`` (certificate order)."""
    parts = []
    for rdn in name.rdns:
        parts.append(" + ".join(f"{_SHORT.get(a.oid, a.oid.dotted_string)} = {a.value}" for a in rdn))
    return ", ".join(parts)


def serial_hex(serial: int) -> str:
    data = serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")
    return colon_hex(data, upper=False)


def _general_name(gn: x509.GeneralName) -> str:
    if isinstance(gn, x509.DNSName):
        return f"DNS:{gn.value}"
    if isinstance(gn, x509.IPAddress):
        return f"IP Address:{gn.value}"
    if isinstance(gn, x509.RFC822Name):
        return f"email:{gn.value}"
    if isinstance(gn, x509.UniformResourceIdentifier):
        return f"URI:{gn.value}"
    if isinstance(gn, x509.DirectoryName):
        return f"DirName:{oneline(gn.value)}"
    return f"othername:{gn.value!r}"


def extension_content(ext: x509.Extension[Any]) -> str:
    """OpenSSL's one-line text of an extension value."""
    v = ext.value
    if isinstance(v, x509.BasicConstraints):
        text = "CA:TRUE" if v.ca else "CA:FALSE"
        return text + (f", pathlen:{v.path_length}" if v.ca and v.path_length is not None else "")
    if isinstance(v, x509.KeyUsage):
        names = [label for attr, label in _KU if getattr(v, attr)]
        if v.key_agreement:
            names += [label for attr, label in (("encipher_only", "Encipher Only"),
                                                ("decipher_only", "Decipher Only")) if getattr(v, attr)]
        return ", ".join(names)
    if isinstance(v, x509.SubjectKeyIdentifier):
        return colon_hex(v.digest)
    if isinstance(v, x509.AuthorityKeyIdentifier):
        return colon_hex(v.key_identifier) if v.key_identifier else ""
    if isinstance(v, (x509.SubjectAlternativeName, x509.IssuerAlternativeName)):
        return ", ".join(_general_name(g) for g in v)
    if isinstance(v, x509.ExtendedKeyUsage):
        return ", ".join(_EKU.get(o, o.dotted_string) for o in v)
    if isinstance(v, x509.UnrecognizedExtension):
        return colon_hex(v.value)
    return colon_hex(v.public_bytes()) if hasattr(v, "public_bytes") else ""


def detail_lines(pem: str) -> list[str]:
    """The lines printed under ``certificate :`` for ``pem`` (each with its indent)."""
    cert = load(pem)
    if cert is None:
        return [f"{I1}(unreadable certificate)", ""]
    der = cert.public_bytes(serialization.Encoding.DER)
    fmt = "%Y-%m-%d %H:%M:%S"
    lines = [
        f"{I1}Subject:     {oneline(cert.subject)}",
        f"{I1}Issuer:      {oneline(cert.issuer)}",
        f"{I1}Valid from:  {cert.not_valid_before_utc.strftime(fmt)}  GMT",
        f"{I1}Valid to:    {cert.not_valid_after_utc.strftime(fmt)}  GMT",
        f"{I1}Fingerprint: {colon_hex(hashlib.md5(der).digest())}",
        f"{I1}Root CA:     {'Yes' if cert.subject == cert.issuer else 'No'}",
        f"{I1}Version:     {cert.version.value + 1}",
        f"{I1}Serial Num:",
        f"{I2}{serial_hex(cert.serial_number)}",
        f"{I1}Extensions:",
    ]
    for ext in cert.extensions:
        lines += [
            f"{I2}Name:     {_EXT_NAMES.get(ext.oid, ext.oid.dotted_string)}",
            f"{I2}Critical: {'yes' if ext.critical else 'no'}",
            f"{I2}Content:",
            f"{I2}{extension_content(ext)}",
            "",
        ]
    lines.append("")
    return lines


def effective_state(entry: Any, now: _dt.datetime) -> str:
    """The ``state`` shown by ``get`` for a local certificate entry.

    ``OK`` for a certificate in its validity period, ``EXPIRED`` once the clock
    is past its Valid-to date, else what the EST engine stored (``PENDING`` while
    a CSR waits, ``FAILED``), else ``PENDING`` when only a CSR exists.
    """
    pem = entry.get("certificate")
    stored = entry.get("state")
    if pem:
        cert = load(pem)
        if cert is not None and now > cert.not_valid_after_utc:
            return "EXPIRED"
        return "OK"
    if stored:
        return str(stored)
    return "PENDING" if entry.get("csr") else ""
