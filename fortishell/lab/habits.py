"""Real EST servers' body and framing habits, reproduced by the lab responder.

The reference responder sends base64 in 64-column lines ending ``\\n`` with a
``Content-Transfer-Encoding`` header, PKCS#7 sets in DER (sorted) order and
HTTP/1.1 replies with a ``Content-Length``.  Independent servers differ; a
client as liberal as libcurl + libest copes with all of these, and the knobs
of :mod:`.faults` (the "real-server body habits" block) turn each on:

* ``nul_terminated`` -- a base64 body ends with one NUL byte instead of its
  final line break, counted in ``Content-Length`` (the reference server's
  ``/csrattrs``: 56 characters and a NUL, ``Content-Length: 57``);
* ``wrap_columns`` N -- base64 in N-column lines ending CRLF (64, 76, ...);
* ``pem_armour`` -- PKCS#7 bodies inside ``-----BEGIN PKCS7-----`` armour;
* ``no_transfer_encoding`` -- no ``Content-Transfer-Encoding`` header;
* ``pkcs7_type`` -- ``bare``: every PKCS#7 reply typed ``application/pkcs7-mime``;
  ``certs-only``: every one with ``; smime-type=certs-only``;
* ``chain_order`` -- PKCS#7 certificate sets in chain order (leaf first), not
  DER SET order, and enrollment replies carry the CA certificate after the
  issued one;
* ``chunked`` / ``http10`` / ``connection_close`` -- framing (see
  :mod:`.server`);
* ``csrattrs_example`` -- ``/csrattrs`` answers the example of RFC 7030
  section 4.5.2 (challengePassword, id-ecPublicKey secp384r1, extensionRequest
  macAddress, ecdsa-with-SHA384).

Nothing here touches a socket.
"""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from .faults import FaultState

RFC7030_CSRATTRS_EXAMPLE = (
    "MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw=="
)
CT_PKCS7 = "application/pkcs7-mime"
CT_CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only"


def pkcs7_der(certs: list[x509.Certificate], *, chain_order: bool = False) -> bytes:
    """A certs-only PKCS#7 (RFC 2315 SignedData, no signers) holding ``certs``.

    By default the set is in DER order (cryptography sorts it).  ``chain_order``
    keeps the order given, as many servers send a chain: the SignedData is
    re-encoded with pyasn1's BER encoder, which writes a SET OF as given."""
    der = pkcs7.serialize_certificates(certs, serialization.Encoding.DER)
    if not chain_order or len(certs) < 2:
        return der
    from pyasn1.codec.ber import encoder as ber_encoder  # pyasn1 loads when a knob needs it
    from pyasn1.codec.der import decoder as der_decoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc2315

    from ..est.certsonly import CertsOnlySignedData

    info, _ = der_decoder.decode(der, asn1Spec=rfc2315.ContentInfo())
    signed, _ = der_decoder.decode(bytes(info["content"]), asn1Spec=CertsOnlySignedData())
    ordered = signed["certificates"].clone()
    for index, cert in enumerate(certs):
        ordered[index] = univ.Any(cert.public_bytes(serialization.Encoding.DER))
    signed["certificates"] = ordered
    info["content"] = ber_encoder.encode(signed)
    return bytes(ber_encoder.encode(info))


def base64_body(der: bytes, f: FaultState, *, pem_label: str | None = None) -> bytes:
    """``der`` as a reply body: base64 in 64-column ``\\n`` lines (the reference server),
    or as the habits in ``f`` say."""
    text = base64.b64encode(der)
    width = f.wrap_columns or 64
    eol = b"\r\n" if f.wrap_columns else b"\n"
    body = b"".join(text[i : i + width] + eol for i in range(0, len(text), width))
    if pem_label and f.pem_armour:
        label = pem_label.encode()
        body = b"-----BEGIN " + label + b"-----" + eol + body + b"-----END " + label + b"-----" + eol
    if f.nul_terminated:  # as the reference server's /csrattrs: ``...Ag==\0``, no final line break
        body = body[: -len(eol)] + b"\x00"
    return body


def pkcs7_type(default: str, f: FaultState) -> str:
    """The Content-Type of a PKCS#7 reply (``default`` unless ``pkcs7_type`` says otherwise)."""
    return {"bare": CT_PKCS7, "certs-only": CT_CERTS_ONLY}.get(f.pkcs7_type, default)


def framing_headers(headers: list[tuple[str, str]], f: FaultState) -> list[tuple[str, str]]:
    """Reply headers for the framing habits: no ``Content-Transfer-Encoding``, chunked
    (no ``Content-Length``; h11 then frames the body in chunks), ``Connection: close``."""
    out = [(k, v) for k, v in headers if not (f.no_transfer_encoding and k == "Content-Transfer-Encoding")]
    if f.chunked:
        out = [(k, v) for k, v in out if k != "Content-Length"]
    if f.connection_close or f.http10:
        out.append(("Connection", "close"))
    return out


def add_pop_oid(der: bytes, pop_oid: str) -> bytes:
    """csrattrs (DER) with the challengePassword OID ``pop_oid`` appended unless present
    (``--require-pop``; pyasn1-modules' RFC 7030 CsrAttrs)."""
    from pyasn1.codec.der import decoder as der_decoder  # pyasn1 loads when --require-pop needs it
    from pyasn1.codec.der import encoder as der_encoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc7030

    attrs, _ = der_decoder.decode(der, asn1Spec=rfc7030.CsrAttrs())
    if any(a.getName() == "oid" and str(a["oid"]) == pop_oid for a in attrs):
        return der
    item = rfc7030.AttrOrOID()
    item["oid"] = univ.ObjectIdentifier(pop_oid)
    attrs.append(item)
    return bytes(der_encoder.encode(attrs))
