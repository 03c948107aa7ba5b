"""Our JWS (cryptography's public API) checked by an independent implementation: certbot's acme/josepy."""

from __future__ import annotations

import json

import pytest

from fortishell.acme import jws

jose = pytest.importorskip("josepy", reason="josepy comes with certbot's acme library (a test extra)")
acme_jws = pytest.importorskip("acme.jws")


def test_signed_request_verifies_with_josepy_and_carries_the_acme_headers() -> None:
    key = jws.new_account_key()
    nonce = jws.b64u(b"nonce-1")  # servers send base64url nonces (RFC 8555 6.5.1)
    body = jws.sign(key, "https://ca.test/new-order", nonce, {"identifiers": []}, kid="https://ca.test/a/1")
    parsed = acme_jws.JWS.json_loads(body)
    assert parsed.verify(jose.JWKEC(key=key.public_key()))
    header = parsed.signature.combined
    assert (header.url, header.kid, header.alg) == ("https://ca.test/new-order", "https://ca.test/a/1", jose.ES256)
    assert header.nonce == b"nonce-1"
    assert json.loads(parsed.payload) == {"identifiers": []}


def test_jwk_and_thumbprint_match_josepy() -> None:
    key = jws.new_account_key()
    theirs = jose.JWKEC(key=key.public_key())
    assert jws.jwk(key) == theirs.to_partial_json()
    assert jws.thumbprint(key) == jose.b64encode(theirs.thumbprint()).decode()
    assert jws.key_authorization("tok", key) == f"tok.{jws.thumbprint(key)}"


def test_post_as_get_and_our_own_verification() -> None:
    key = jws.new_account_key()
    body = jws.sign(key, "https://ca.test/authz/1", "n", None)
    protected, payload, pub = jws.verify(body)
    assert payload is None and protected["jwk"] == jws.jwk(key) and pub is not None
    assert jws.check_signature(body, key.public_key())
    assert not jws.check_signature(body, jws.new_account_key().public_key())
    assert json.loads(body)["payload"] == ""


def test_external_account_binding_mac() -> None:
    import hashlib
    import hmac

    key = jws.new_account_key()
    mac_key = b"0123456789abcdef0123456789abcdef"
    binding = jws.eab(key, "kid-1", jws.b64u(mac_key), "https://ca.test/acct")
    assert json.loads(jws.b64u_decode(binding["protected"])) == {"alg": "HS256", "kid": "kid-1",
                                                                "url": "https://ca.test/acct"}
    assert json.loads(jws.b64u_decode(binding["payload"])) == jws.jwk(key)
    expected = hmac.new(mac_key, f"{binding['protected']}.{binding['payload']}".encode(), hashlib.sha256).digest()
    assert binding["signature"] == jws.b64u(expected)
    with pytest.raises(jws.JwsError):
        jws.eab(key, "kid-1", "", "https://ca.test/acct")
