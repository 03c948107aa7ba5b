"""csrattrs (RFC 7030 4.5.2, RFC 8951): decode the server's CSR attributes and honour them.

Pure functions over pyasn1: a plainly shaped body is read without a schema, any other by
pyasn1-modules' ``CsrAttrs`` (see :func:`decode_csrattrs`).  What is honoured, and why,
is written down in ARCHITECTURE.md ("Server habits and csrattrs"): the
challengePassword (proof-of-possession), the signature hash, the curve of a new
EC key; extension requests are traced, not filled.  OID names follow OpenSSL's
long names (what FortiOS prints), ``undefined`` when OpenSSL has none.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import univ

from .pki import ALGORITHMS, Algorithm, PkiError, SignHash, b64decode_body

OID_NAMES: dict[str, str] = {
    "1.2.840.113549.1.9.1": "emailAddress", "1.2.840.113549.1.9.7": "challengePassword",
    "1.2.840.113549.1.9.14": "Extension Request", "2.5.4.3": "commonName", "2.5.4.5": "serialNumber",
    "2.5.4.6": "countryName", "2.5.4.7": "localityName", "2.5.4.8": "stateOrProvinceName",
    "2.5.4.10": "organizationName", "2.5.4.11": "organizationalUnitName",
    "0.9.2342.19200300.100.1.25": "domainComponent", "1.2.840.10045.2.1": "id-ecPublicKey",
    "1.2.840.10045.3.1.7": "prime256v1", "1.3.132.0.34": "secp384r1", "1.3.132.0.35": "secp521r1",
    "1.2.840.113549.1.1.1": "rsaEncryption", "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384", "2.16.840.1.101.3.4.2.3": "sha512", "1.3.14.3.2.26": "sha1",
    "1.2.840.113549.1.1.11": "sha256WithRSAEncryption", "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
    "1.2.840.113549.1.1.13": "sha512WithRSAEncryption", "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
    "1.2.840.10045.4.3.3": "ecdsa-with-SHA384", "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
    "2.5.29.17": "X509v3 Subject Alternative Name", "2.5.29.15": "X509v3 Key Usage",
    "2.5.29.37": "X509v3 Extended Key Usage", "2.5.29.19": "X509v3 Basic Constraints",
    "2.5.29.14": "X509v3 Subject Key Identifier", "2.5.29.35": "X509v3 Authority Key Identifier",
    "2.5.29.31": "X509v3 CRL Distribution Points", "2.5.29.32": "X509v3 Certificate Policies",
    "1.3.6.1.5.5.7.1.1": "Authority Information Access",
    "1.3.6.1.5.5.7.3.1": "TLS Web Server Authentication", "1.3.6.1.5.5.7.3.2": "TLS Web Client Authentication",
}
_HASH_OIDS: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256, "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512}
_SIGNATURE_HASH_OIDS: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "1.2.840.10045.4.3.2": hashes.SHA256, "1.2.840.10045.4.3.3": hashes.SHA384,
    "1.2.840.10045.4.3.4": hashes.SHA512, "1.2.840.113549.1.1.11": hashes.SHA256,
    "1.2.840.113549.1.1.12": hashes.SHA384, "1.2.840.113549.1.1.13": hashes.SHA512}
_CURVE_OIDS = {"1.2.840.10045.3.1.7": "secp256r1", "1.3.132.0.34": "secp384r1", "1.3.132.0.35": "secp521r1"}
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"
CHALLENGE_PASSWORD_OID = "1.2.840.113549.1.9.7"


def oid_name(oid: str) -> str:
    return OID_NAMES.get(oid, "undefined")


@dataclass(frozen=True)
class CsrAttr:
    oid: str
    is_attribute: bool = False  # an Attribute (with values) rather than a bare OID
    values: tuple[str, ...] = ()  # dotted OIDs among the attribute values, if any

    @property
    def name(self) -> str:
        return oid_name(self.oid)


def decode_csrattrs(body: bytes) -> list[CsrAttr]:
    """Decode a base64 ``CsrAttrs`` body (RFC 7030 4.5.2 / RFC 8951).

    An ``Attribute`` keeps the dotted OIDs among its ``attrValues`` (a curve for
    ``id-ecPublicKey``, extension types for ``extensionRequest``); values of other
    types (a DirectoryString, an Extensions list) are skipped, never an error."""
    der = b64decode_body(body)
    if not der:
        return []
    known = _decode_schemaless(der)
    return known if known is not None else decode_with_schema(der)


def _decode_schemaless(der: bytes) -> list[CsrAttr] | None:
    """The ``CsrAttrs`` read by pyasn1's decoder without a schema, or ``None`` when the body is
    not plainly that shape (a SEQUENCE of OIDs and of SEQUENCE {OID, SET}), which
    :func:`decode_with_schema` then judges.  pyasn1-modules' ``rfc7030`` schema imports the
    CMS and attribute-certificate modules: ~0.15 s of CPU in every enrolling process, for a
    structure this simple."""
    if der == b"\x30\x00":  # an empty SEQUENCE: no attributes
        return []
    try:
        value, rest = der_decoder.decode(der)
    except PyAsn1Error:
        return None
    if rest or value is None or value.tagSet != univ.Sequence.tagSet:
        return None
    out: list[CsrAttr] = []
    for i in range(len(value)):
        item = value.getComponentByPosition(i)
        if item.tagSet == univ.ObjectIdentifier.tagSet:
            out.append(CsrAttr(str(item)))
            continue
        if item.tagSet != univ.Sequence.tagSet or len(item) != 2:
            return None
        attr_type, values = item.getComponentByPosition(0), item.getComponentByPosition(1)
        if attr_type.tagSet != univ.ObjectIdentifier.tagSet or values.tagSet != univ.Set.tagSet:
            return None
        found = (values.getComponentByPosition(j) for j in range(len(values)))
        oids = tuple(str(v) for v in found if v.tagSet == univ.ObjectIdentifier.tagSet)
        out.append(CsrAttr(str(attr_type), True, oids))
    return out


def decode_with_schema(der: bytes) -> list[CsrAttr]:
    """``CsrAttrs`` decoded with pyasn1-modules' RFC 7030 schema (loaded on first use)."""
    from pyasn1_modules import rfc7030

    try:
        value, rest = der_decoder.decode(der, asn1Spec=rfc7030.CsrAttrs())
    except PyAsn1Error as exc:
        raise PkiError("the csrattrs response cannot be decoded") from exc
    if rest:
        raise PkiError("trailing data after the csrattrs structure")
    out: list[CsrAttr] = []
    for item in value:
        if item.getName() == "oid":
            out.append(CsrAttr(str(item["oid"])))
            continue
        attr = item["attribute"]
        vals: list[str] = []
        for raw in attr["attrValues"]:
            try:
                inner, _ = der_decoder.decode(bytes(raw), asn1Spec=univ.ObjectIdentifier())
            except PyAsn1Error:
                continue
            vals.append(str(inner))
        out.append(CsrAttr(str(attr["attrType"]), True, tuple(vals)))
    return out


def hash_from_attrs(attrs: list[CsrAttr]) -> SignHash | None:
    """The signature hash the server asks for: a bare hash OID (``sha384``) or a signature
    algorithm OID (``ecdsa-with-SHA384``, ``sha384WithRSAEncryption``) in csrattrs."""
    for attr in attrs:
        if attr.is_attribute:
            continue
        if attr.oid in _HASH_OIDS:
            return _HASH_OIDS[attr.oid]()
        if attr.oid in _SIGNATURE_HASH_OIDS:
            return _SIGNATURE_HASH_OIDS[attr.oid]()
    return None


def curve_from_attrs(attrs: list[CsrAttr]) -> str | None:
    """The curve the server asks for (``id-ecPublicKey`` attribute valued with a curve FortiOS
    offers: secp256r1, secp384r1, secp521r1), if any."""
    for attr in attrs:
        if attr.is_attribute and attr.oid == EC_PUBLIC_KEY_OID:
            for value in attr.values:
                if value in _CURVE_OIDS:
                    return _CURVE_OIDS[value]
    return None


def algorithm_for(algorithm: Algorithm, attrs: list[CsrAttr]) -> Algorithm:
    """The key algorithm of a new key: the administrator's, except that an EC key takes the
    curve the server names in csrattrs (RFC 7030 4.5.2; a server that names one refuses others).
    An RSA choice is kept: FortiOS never turns a key type it was given into another."""
    curve = curve_from_attrs(attrs)
    if algorithm.curve and curve and curve != algorithm.curve:
        return ALGORITHMS[f"ec-{curve}"]
    return algorithm


def wants_pop(attrs: list[CsrAttr]) -> bool:
    return any(a.oid == CHALLENGE_PASSWORD_OID for a in attrs)
