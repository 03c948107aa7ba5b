"""Digest nonces expire: a right answer for an expired nonce gets a fresh challenge with stale=true."""

from __future__ import annotations

import hashlib
import re

from labkit import client_context, csr_b64, enroll_headers, make_csr, raw_request

ENROLL = "/.well-known/est/simpleenroll"


def h(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest(nonce: str, password: str = "estpwd") -> str:
    ha1, ha2 = h(f"estuser:estrealm:{password}"), h(f"POST:{ENROLL}")
    resp = h(f"{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}")
    return (f'Digest username="estuser", realm="estrealm", nonce="{nonce}", uri="{ENROLL}", '
            f'algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee", response="{resp}"')


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def post(port: int, lab_ca, auth: str | None):
    _, csr = make_csr()
    return raw_request(port, client_context(lab_ca), "POST", ENROLL, body=csr_b64(csr), headers=enroll_headers(auth))


def nonce_of(challenge: str) -> str:
    m = re.search(r'nonce="([^"]+)"', challenge)
    assert m, challenge
    return m.group(1)


def test_expired_nonce_gets_stale_challenge_and_new_nonce_works(make_responder, lab_ca):
    r = make_responder(auth="digest", digest_nonce_lifetime=60.0)
    r.app.nonce_time = clock = FakeTime()
    first = post(r.port, lab_ca, None)
    assert first.status == 401 and "stale" not in first.header("WWW-Authenticate")
    nonce = nonce_of(first.header("WWW-Authenticate"))
    assert post(r.port, lab_ca, digest(nonce)).status == 200  # fresh: accepted

    clock.now += 61
    stale = post(r.port, lab_ca, digest(nonce))
    assert stale.status == 401
    challenge = stale.header("WWW-Authenticate")
    assert challenge.endswith(", stale=true"), challenge
    fresh = nonce_of(challenge)
    assert fresh != nonce
    assert post(r.port, lab_ca, digest(fresh)).status == 200


def test_expired_nonce_with_wrong_password_is_not_stale(make_responder, lab_ca):
    r = make_responder(auth="digest", digest_nonce_lifetime=60.0)
    r.app.nonce_time = clock = FakeTime()
    nonce = nonce_of(post(r.port, lab_ca, None).header("WWW-Authenticate"))
    clock.now += 61
    reply = post(r.port, lab_ca, digest(nonce, password="wrong"))
    assert reply.status == 401
    assert "stale" not in reply.header("WWW-Authenticate")


def test_nonce_within_lifetime_is_accepted(make_responder, lab_ca):
    r = make_responder(auth="digest", digest_nonce_lifetime=60.0)
    r.app.nonce_time = clock = FakeTime()
    nonce = nonce_of(post(r.port, lab_ca, None).header("WWW-Authenticate"))
    clock.now += 59
    assert post(r.port, lab_ca, digest(nonce)).status == 200
