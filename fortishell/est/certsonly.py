"""Certs-only PKCS#7 (RFC 2315 SignedData without signers), read as BER.

The device's OpenSSL reads PKCS#7 as BER: a certificate set in chain order (as
many EST servers send it) is not DER, whose SET OF is sorted.  pyasn1 reads the
structure; each certificate keeps its own bytes (re-encoding one could change
them and so break its signature) and cryptography loads it.  The lab responder
writes chain-order sets with the same specification (``lab/habits.py``).
"""

from __future__ import annotations

from cryptography import x509
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, tag, univ

from .pki import PkiError

SIGNED_DATA = univ.ObjectIdentifier("1.2.840.113549.1.7.2")  # RFC 2315 signedData


class ContentInfo(univ.Sequence):  # type: ignore[misc]  # pyasn1 ships no type hints
    """RFC 2315 ContentInfo, declared as pyasn1-modules' ``rfc2315.ContentInfo`` declares it
    (its content kept as the bytes inside ``[0] EXPLICIT``).  Declared here, beside the
    SignedData: importing ``rfc2315`` loads the X.509 schema modules too, ~0.18 s of CPU in
    every enrolling process (tests/est/test_est_certsonly_schema.py reads replies with both)."""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("contentType", univ.ObjectIdentifier()),
        namedtype.OptionalNamedType("content", univ.Any().subtype(
            explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0))),
    )


class CertsOnlySignedData(univ.Sequence):  # type: ignore[misc]  # pyasn1 ships no type hints
    """RFC 2315 SignedData with each certificate (and CRL) kept as its own bytes."""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("digestAlgorithms", univ.SetOf(componentType=univ.Any())),
        namedtype.NamedType("contentInfo", univ.Any()),
        namedtype.OptionalNamedType("certificates", univ.SetOf(componentType=univ.Any()).subtype(
            implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0))),
        namedtype.OptionalNamedType("crls", univ.SetOf(componentType=univ.Any()).subtype(
            implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 1))),
        namedtype.NamedType("signerInfos", univ.SetOf(componentType=univ.Any())),
    )


def certificates(der: bytes) -> list[x509.Certificate]:
    """The certificates of a (BER or DER) PKCS#7 SignedData, in encoding order (extended
    certificates, ``[0]``, are passed over)."""
    try:
        info, _ = ber_decoder.decode(der, asn1Spec=ContentInfo())
        if info["contentType"] != SIGNED_DATA:
            raise PkiError("the response is not a PKCS#7 certs-only structure")
        signed, _ = ber_decoder.decode(bytes(info["content"]), asn1Spec=CertsOnlySignedData())
        items = signed["certificates"] if signed["certificates"].isValue else []
        return [x509.load_der_x509_certificate(bytes(item)) for item in items
                if bytes(item)[:1] == b"\x30"]  # a Certificate (a SEQUENCE)
    except (PyAsn1Error, ValueError) as exc:
        if isinstance(exc, PkiError):
            raise
        raise PkiError("the response is not a PKCS#7 certs-only structure") from exc
