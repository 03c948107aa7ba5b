"""JSON Web Signatures for ACME (RFC 8555 6.2, RFC 7515 flattened JSON) on cryptography's public API.

The account key is an EC P-256 key (``ES256``; our choice: FortiOS does not
document its account key type, and P-256 is what ACME clients use by default).
Pure functions: nothing here does I/O.

* :func:`jwk` -- the public key as a JWK (RFC 7517); :func:`thumbprint` its RFC 7638 digest;
* :func:`sign` -- a flattened JWS with ``jwk`` (new account) or ``kid`` (account URL);
* :func:`eab` -- the External Account Binding inner JWS (HS256 over the account JWK);
* :func:`key_authorization` -- ``token.thumbprint`` (RFC 8555 8.1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from fortishell import errors


class JwsError(errors.FortiError):
    """An account key or EAB key that cannot be used."""


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JwsError(f"not base64url: {exc}") from None


def new_account_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def load_account_key(pem: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), None)
    except (ValueError, TypeError) as exc:
        raise JwsError(f"account key is not readable: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise JwsError("account key is not an EC P-256 key")
    return key


def jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": b64u(numbers.x.to_bytes(32, "big")),
            "y": b64u(numbers.y.to_bytes(32, "big"))}


def thumbprint(key: ec.EllipticCurvePrivateKey) -> str:
    """RFC 7638: SHA-256 over the JWK's required members, sorted, without whitespace."""
    canonical = json.dumps(jwk(key), sort_keys=True, separators=(",", ":")).encode("ascii")
    return b64u(hashlib.sha256(canonical).digest())


def key_authorization(token: str, key: ec.EllipticCurvePrivateKey) -> str:
    return f"{token}.{thumbprint(key)}"


def _encode(obj: Any) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def sign(key: ec.EllipticCurvePrivateKey, url: str, nonce: str | None, payload: Any, *,
         kid: str | None = None) -> bytes:
    """The request body: ``payload`` None is POST-as-GET (empty payload string)."""
    protected: dict[str, Any] = {"alg": "ES256", "url": url}
    if nonce is not None:
        protected["nonce"] = nonce
    if kid is not None:
        protected["kid"] = kid
    else:
        protected["jwk"] = jwk(key)
    p64 = _encode(protected)
    body = "" if payload is None else _encode(payload)
    der = key.sign(f"{p64}.{body}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = utils.decode_dss_signature(der)
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return json.dumps({"protected": p64, "payload": body, "signature": b64u(sig)}).encode("utf-8")


def eab(key: ec.EllipticCurvePrivateKey, key_id: str, hmac_b64: str, url: str) -> dict[str, str]:
    """RFC 8555 7.3.4: the account JWK signed with the CA's MAC key (HS256)."""
    mac_key = b64u_decode(hmac_b64.strip())
    if not mac_key:
        raise JwsError("EAB HMAC key is empty")
    p64 = _encode({"alg": "HS256", "kid": key_id, "url": url})
    payload = _encode(jwk(key))
    mac = hmac.HMAC(mac_key, hashes.SHA256())
    mac.update(f"{p64}.{payload}".encode("ascii"))
    return {"protected": p64, "payload": payload, "signature": b64u(mac.finalize())}


def verify(body: bytes) -> tuple[dict[str, Any], Any, ec.EllipticCurvePublicKey | None]:
    """Parse a flattened JWS: (protected header, payload or None for POST-as-GET, the jwk's key if
    the header carries one).  The signature is checked by :func:`check_signature` (the server side)."""
    try:
        outer = json.loads(body)
        protected = json.loads(b64u_decode(outer["protected"]))
        payload = json.loads(b64u_decode(outer["payload"])) if outer["payload"] else None
    except (ValueError, KeyError, TypeError) as exc:
        raise JwsError(f"malformed JWS: {exc}") from None
    if not isinstance(protected, dict):
        raise JwsError("malformed JWS: protected header is not an object")
    key = public_key_of(protected["jwk"]) if isinstance(protected.get("jwk"), dict) else None
    return protected, payload, key


def public_key_of(j: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    if j.get("kty") != "EC" or j.get("crv") != "P-256":
        raise JwsError("only EC P-256 account keys are supported")
    try:
        x = int.from_bytes(b64u_decode(str(j["x"])), "big")
        y = int.from_bytes(b64u_decode(str(j["y"])), "big")
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except (KeyError, ValueError) as exc:
        raise JwsError(f"bad JWK: {exc}") from None


def public_jwk(pub: ec.EllipticCurvePublicKey) -> dict[str, str]:
    n = pub.public_numbers()
    return {"crv": "P-256", "kty": "EC", "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}


def check_signature(body: bytes, pub: ec.EllipticCurvePublicKey) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        outer = json.loads(body)
        sig = b64u_decode(outer["signature"])
        signing_input = f"{outer['protected']}.{outer['payload']}".encode("ascii")
    except (ValueError, KeyError, TypeError):
        return False
    if len(sig) != 64:
        return False
    der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        pub.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
