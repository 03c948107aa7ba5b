"""Server-side key generation (RFC 7030 section 4.4) for the lab responder.

``POST /serverkeygen`` carries a PKCS#10 request like ``/simpleenroll``; the
server makes the key pair itself and answers ``multipart/mixed`` (RFC 7030
4.4.2) with two parts, each base64 (RFC 8951):

1. the private key, ``application/pkcs8`` (an unencrypted PKCS#8
   PrivateKeyInfo: the request asked for no additional encryption, and the
   TLS channel protects it);
2. the certificate, ``application/pkcs7-mime; smime-type=certs-only``.

The new key is of the kind of the key in the request (same curve, or same RSA
size), so a client gets what it would have made itself.  The FortiOS client
never calls this operation (the device makes its own keys); the lab offers it
because libest and other servers do and their clients use it.
"""

from __future__ import annotations

import base64
import secrets
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .habits import CT_CERTS_ONLY


ServerKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]


def key_like(csr: x509.CertificateSigningRequest) -> ServerKey:
    """A new key of the same kind as the request's public key (EC P-256 when it is neither)."""
    try:
        public = csr.public_key()
    except ValueError:
        public = None
    if isinstance(public, rsa.RSAPublicKey):
        return rsa.generate_private_key(public_exponent=65537, key_size=max(2048, public.key_size))
    curve = public.curve if isinstance(public, ec.EllipticCurvePublicKey) else ec.SECP256R1()
    return ec.generate_private_key(curve)


def multipart(key: ServerKey, pkcs7_der: bytes) -> tuple[str, bytes]:
    """(Content-Type, body) of the ``multipart/mixed`` reply (RFC 2046 framing, CRLF lines):
    the key part, then the certificate part, each base64 in 76-column lines."""
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    boundary = "est-" + secrets.token_hex(12)
    body = b""
    for ctype, der in (("application/pkcs8", pkcs8), (CT_CERTS_ONLY, pkcs7_der)):
        body += (f"--{boundary}\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n\r\n".encode()
                 + base64.encodebytes(der).replace(b"\n", b"\r\n"))
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/mixed; boundary={boundary}", body
