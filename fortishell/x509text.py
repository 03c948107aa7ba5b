"""OpenSSL-style text for X.509 names and extensions.

One place for what both the `get` certificate details (cmdb/certdetails.py)
and the EST debug dumps (est/pki.py ``est_print_x509``) print: colon hex,
distinguished names, general names, extension names and values as OpenSSL's
``X509V3_EXT_print`` writes them.  Pure functions over cryptography objects.
"""

from __future__ import annotations

import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

SHORT_NAMES: dict[x509.ObjectIdentifier, str] = {
    NameOID.COUNTRY_NAME: "C", NameOID.STATE_OR_PROVINCE_NAME: "ST", NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O", NameOID.ORGANIZATIONAL_UNIT_NAME: "OU", NameOID.COMMON_NAME: "CN",
    NameOID.EMAIL_ADDRESS: "emailAddress", NameOID.DOMAIN_COMPONENT: "DC", NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.SURNAME: "SN", NameOID.GIVEN_NAME: "GN", NameOID.TITLE: "title", NameOID.USER_ID: "UID",
    NameOID.STREET_ADDRESS: "street", NameOID.POSTAL_CODE: "postalCode",
}

EXTENSION_NAMES: dict[x509.ObjectIdentifier, str] = {
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

EKU_NAMES: dict[x509.ObjectIdentifier, str] = {
    ExtendedKeyUsageOID.SERVER_AUTH: "TLS Web Server Authentication",
    ExtendedKeyUsageOID.CLIENT_AUTH: "TLS Web Client Authentication",
    ExtendedKeyUsageOID.CODE_SIGNING: "Code Signing",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "E-mail Protection",
    ExtendedKeyUsageOID.TIME_STAMPING: "Time Stamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSP Signing",
}

_KEY_USAGES = (
    ("digital_signature", "Digital Signature"), ("content_commitment", "Non Repudiation"),
    ("key_encipherment", "Key Encipherment"), ("data_encipherment", "Data Encipherment"),
    ("key_agreement", "Key Agreement"), ("key_cert_sign", "Certificate Sign"), ("crl_sign", "CRL Sign"),
)


def colon_hex(data: bytes, upper: bool = True) -> str:
    """``1A:DF:39`` (upper, key identifiers, fingerprints) or ``07:46:a5`` (lower, serials)."""
    text = data.hex()
    text = text.upper() if upper else text
    return ":".join(text[i:i + 2] for i in range(0, len(text), 2))


def serial_colon(serial: int) -> str:
    """A serial number as lower-case colon hex (``07:46:a5``), as OpenSSL and FortiOS print it."""
    return colon_hex(serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big"), upper=False)


_COLON_SERIAL = re.compile(r"[0-9a-f]{1,2}(?::[0-9a-f]{1,2})+")
_HEX = re.compile(r"(?:0x)?[0-9a-f]+")


def serial_readings(text: str) -> tuple[int, ...]:
    """The serial numbers ``text`` can mean, as a trainer copies one: the device's colon hex
    (``07:46:9a``), hex (``7469a``, ``0x7469a``) or decimal (``476826``).  Digits alone read
    both ways (decimal first) unless that is the same number; () when it is no serial."""
    t = text.strip().lower()
    if _COLON_SERIAL.fullmatch(t):
        return (int("".join(group.zfill(2) for group in t.split(":")), 16),)
    if not _HEX.fullmatch(t):
        return ()
    if t.isdigit():
        decimal, hexadecimal = int(t, 10), int(t, 16)
        return (decimal,) if decimal == hexadecimal else (decimal, hexadecimal)
    return (int(t, 16),)


def sha256_fingerprint(cert: x509.Certificate) -> str:
    """``AB:12:...`` (32 bytes, upper-case colon hex), as ``ca import est`` shows a CA certificate."""
    return colon_hex(cert.fingerprint(hashes.SHA256()))


def name_compact(name: x509.Name) -> str:
    """``CN=estExampleCA`` / ``C=US,O=Fortinet,CN=x`` (certificate order; the debug dumps)."""
    return ",".join("+".join(_attr(a, "=") for a in rdn) for rdn in name.rdns)


def name_spaced(name: x509.Name) -> str:
    """``CN = firewall-portal1`` / ``C = US, O = Fortinet, CN = x`` (the `get` details)."""
    return ", ".join(" + ".join(_attr(a, " = ") for a in rdn) for rdn in name.rdns)


def _attr(a: x509.NameAttribute[Any], eq: str) -> str:
    return f"{SHORT_NAMES.get(a.oid, a.oid.dotted_string)}{eq}{a.value!s}"


def general_name(gn: x509.GeneralName) -> str:
    if isinstance(gn, x509.DNSName):
        return f"DNS:{gn.value}"
    if isinstance(gn, x509.IPAddress):
        return f"IP Address:{gn.value}"
    if isinstance(gn, x509.RFC822Name):
        return f"email:{gn.value}"
    if isinstance(gn, x509.UniformResourceIdentifier):
        return f"URI:{gn.value}"
    if isinstance(gn, x509.DirectoryName):
        return f"DirName:{name_spaced(gn.value)}"
    return "othername:<unsupported>"


def extension_name(ext: x509.Extension[Any]) -> str:
    return EXTENSION_NAMES.get(ext.oid, ext.oid.dotted_string)


def extension_text(ext: x509.Extension[Any]) -> str:
    """OpenSSL's one-line text of an extension value."""
    v = ext.value
    if isinstance(v, x509.BasicConstraints):
        text = "CA:TRUE" if v.ca else "CA:FALSE"
        return text + (f", pathlen:{v.path_length}" if v.ca and v.path_length is not None else "")
    if isinstance(v, x509.KeyUsage):
        names = [label for attr, label in _KEY_USAGES if getattr(v, attr)]
        if v.key_agreement:
            names += ["Encipher Only"] if v.encipher_only else []
            names += ["Decipher Only"] if v.decipher_only else []
        return ", ".join(names)
    if isinstance(v, x509.SubjectKeyIdentifier):
        return colon_hex(v.digest)
    if isinstance(v, x509.AuthorityKeyIdentifier):
        return colon_hex(v.key_identifier) if v.key_identifier else ""
    if isinstance(v, (x509.SubjectAlternativeName, x509.IssuerAlternativeName)):
        return ", ".join(general_name(g) for g in v)
    if isinstance(v, x509.ExtendedKeyUsage):
        return ", ".join(EKU_NAMES.get(o, o.dotted_string) for o in v)
    if isinstance(v, x509.UnrecognizedExtension):
        return colon_hex(v.value)
    return colon_hex(v.public_bytes()) if hasattr(v, "public_bytes") else ""
