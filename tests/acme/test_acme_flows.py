"""The sans-IO ACME order, driven by hand with scripted server replies (no sockets)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Generator
from typing import Any

import pytest

from fortishell.acme import flows, jws
from fortishell.acme.events import (
    FlowFailure, Request, Response, Serve, StoreAccount, StoreCertificate, Trace, Wait, WireFailure, Withdraw,
)
from fortishell.acme.settings import AcmeSettings

NOW = dt.datetime(2026, 1, 10, tzinfo=dt.timezone.utc)
D = "https://ca.test/dir"
DIRECTORY = {"newNonce": "https://ca.test/nonce", "newAccount": "https://ca.test/acct",
             "newOrder": "https://ca.test/order"}


def _job(**kw: Any) -> flows.Job:
    settings = AcmeSettings("c1", D, "fgt.example.com", email="a@example.com")
    return flows.Job(settings, NOW, new_account_id="ACME-.test-0000", **kw)


def _json(status: int, obj: Any, *headers: tuple[str, str], nonce: str = "n") -> Response:
    return Response(status, (("Content-Type", "application/json"), ("Replay-Nonce", nonce), *headers),
                    json.dumps(obj).encode())


def _problem(status: int, kind: str, detail: str, *headers: tuple[str, str]) -> Response:
    return Response(status, (("Content-Type", "application/problem+json"), ("Replay-Nonce", "fresh"), *headers),
                    json.dumps({"type": "urn:ietf:params:acme:error:" + kind, "detail": detail}).encode())


class Script:
    """Answers the flow's requests from a list of (method, url) -> response; records the rest."""

    def __init__(self, replies: list[tuple[str, str, Response | WireFailure]]) -> None:
        self.replies = list(replies)
        self.events: list[Any] = []

    def drive(self, flow: Generator[Any, Any, Any]) -> Any:
        reply: Any = None
        while True:
            try:
                event = flow.send(reply)
            except StopIteration as stop:
                return stop.value
            self.events.append(event)
            reply = None
            if isinstance(event, Request):
                method, url, response = self.replies.pop(0)
                assert (event.method, event.url) == (method, url)
                reply = response

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def test_not_an_acme_directory() -> None:
    script = Script([("GET", D, Response(200, (("Content-Type", "text/html"),), b"<html>"))])
    with pytest.raises(FlowFailure, match="is not an ACME directory"):
        script.drive(flows.order(_job()))


def test_an_unreachable_directory_is_one_reason() -> None:
    script = Script([("GET", D, WireFailure("Connection refused"))])
    with pytest.raises(FlowFailure) as info:
        script.drive(flows.order(_job()))
    assert info.value.reason == f"cannot connect to {D}: Connection refused"


def test_bad_nonce_is_retried_with_the_fresh_nonce_then_given_up() -> None:
    replies: list[tuple[str, str, Response | WireFailure]] = [("GET", D, _json(200, DIRECTORY))]
    replies += [("POST", DIRECTORY["newAccount"], _problem(400, "badNonce", "stale"))] * 3
    replies += [("POST", DIRECTORY["newAccount"], _problem(403, "unauthorized", "EAB required"))]
    script = Script(replies)
    with pytest.raises(FlowFailure) as info:
        script.drive(flows.order(_job(nonce_retries=2)))
    # the directory's nonce, then the nonce of each badNonce reply; the third badNonce is final
    nonces = [json.loads(jws.b64u_decode(json.loads(r.body)["protected"]))["nonce"]
              for r in script.of(Request) if r.method == "POST"]
    assert nonces == ["n", "fresh", "fresh"]
    assert info.value.reason == "stale (badNonce)" and info.value.problem == "badNonce"


def test_rate_limited_order_and_eab_required() -> None:
    script = Script([("GET", D, _json(200, dict(DIRECTORY, meta={"externalAccountRequired": True})))])
    with pytest.raises(FlowFailure, match="requires External Account Binding"):
        script.drive(flows.order(_job()))
    script = Script([
        ("GET", D, _json(200, DIRECTORY)),
        ("POST", DIRECTORY["newAccount"], _json(201, {"status": "valid"}, ("Location", "https://ca.test/a/1"))),
        ("POST", DIRECTORY["newOrder"], _problem(429, "rateLimited", "too many certificates", ("Retry-After", "60"))),
    ])
    with pytest.raises(FlowFailure) as info:
        script.drive(flows.order(_job()))
    assert info.value.reason == "too many certificates (rateLimited)"
    account = script.of(StoreAccount)[0]  # the account is kept although the order failed
    assert (account.account_id, account.url, account.status) == ("ACME-.test-0000", "https://ca.test/a/1", "valid")


AUTHZ = "https://ca.test/authz/1"
PENDING = {"status": "pending", "identifier": {"type": "dns", "value": "fgt.example.com"},
           "challenges": [{"type": "http-01", "url": "https://ca.test/ch/1", "token": "tok"}]}


def _to_challenge_ready() -> list[Any]:
    """The script of an order up to the challenge-ready POST (one pending http-01 authorization)."""
    return [
        ("GET", D, _json(200, DIRECTORY)),
        ("POST", DIRECTORY["newAccount"], _json(201, {"status": "valid"}, ("Location", "https://ca.test/a/1"))),
        ("POST", DIRECTORY["newOrder"], _json(201, {"status": "pending", "authorizations": [AUTHZ],
                                                    "finalize": "https://ca.test/fin"},
                                              ("Location", "https://ca.test/o/1"))),
        ("POST", AUTHZ, _json(200, PENDING)),
        ("POST", "https://ca.test/ch/1", _json(200, {"status": "processing"})),
    ]


def test_retry_after_is_respected_while_polling() -> None:
    assert flows.retry_after("7", NOW) == 7.0
    assert flows.retry_after("Sat, 10 Jan 2026 00:00:30 GMT", NOW) == 30.0
    assert flows.retry_after("yesterday", NOW) is None
    invalid = dict(PENDING, status="invalid", challenges=[dict(PENDING["challenges"][0], error={
        "type": "urn:ietf:params:acme:error:connection", "detail": "Connection refused"})])
    script = Script([
        *_to_challenge_ready(),
        ("POST", AUTHZ, _json(200, PENDING, ("Retry-After", "3"))),
        ("POST", AUTHZ, _json(200, PENDING)),
        ("POST", AUTHZ, _json(200, invalid)),
    ])
    with pytest.raises(FlowFailure) as info:
        script.drive(flows.order(_job(poll_interval=0.5)))
    assert [w.seconds for w in script.of(Wait)] == [3.0, 0.5]
    assert info.value.reason == ("the http-01 challenge for fgt.example.com failed: Connection refused "
                                 "(connection)")
    served, withdrawn = script.of(Serve), script.of(Withdraw)
    assert served[0].token == "tok" and served[0].key_authorization.startswith("tok.")
    assert withdrawn == [Withdraw("tok")]  # the answer is removed even when validation failed
    assert not script.of(StoreCertificate)


def test_check_chain_refuses_a_foreign_key_and_a_missing_name() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key, other = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca")])

    def leaf(pub_key: Any, dns: str) -> x509.Certificate:
        return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pub_key)
                .serial_number(1).not_valid_before(NOW - dt.timedelta(days=1))
                .not_valid_after(NOW + dt.timedelta(days=90))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
                .sign(other, hashes.SHA256()))

    flows.check_chain([leaf(key.public_key(), "fgt.example.com")], key, "fgt.example.com", NOW)
    with pytest.raises(FlowFailure, match="does not match the private key"):
        flows.check_chain([leaf(other.public_key(), "fgt.example.com")], key, "fgt.example.com", NOW)
    with pytest.raises(FlowFailure, match="does not name fgt.example.com"):
        flows.check_chain([leaf(key.public_key(), "www.example.com")], key, "fgt.example.com", NOW)
    with pytest.raises(FlowFailure, match="not valid now"):
        flows.check_chain([leaf(key.public_key(), "fgt.example.com")], key, "fgt.example.com",
                          NOW + dt.timedelta(days=91))
    with pytest.raises(FlowFailure, match="chain is broken"):
        flows.check_chain([leaf(key.public_key(), "fgt.example.com"), leaf(key.public_key(), "x.example.com")],
                          key, "fgt.example.com", NOW)


def test_trace_events_use_the_catalogue() -> None:
    from fortishell.acme import catalogue as C

    script = Script([("GET", D, WireFailure("Connection refused"))])
    with pytest.raises(FlowFailure):
        script.drive(flows.order(_job()))
    assert [t.point for t in script.of(Trace)] == [C.DIRECTORY, C.HTTP_ERROR]


def test_the_certificate_key_is_made_while_the_ca_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The RSA key (the costly computation of an order) is generated between the challenge-ready
    POST and the first authorization poll, while the CA fetches the answer, not after validation."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    script = Script([
        *_to_challenge_ready(),
        ("POST", AUTHZ, _json(200, dict(PENDING, status="valid"))),
        ("POST", "https://ca.test/fin", _problem(403, "orderNotReady", "stop here")),
    ])
    real = rsa.generate_private_key
    made: list[rsa.RSAPrivateKey] = []

    def generate(exponent: int, bits: int) -> rsa.RSAPrivateKey:
        script.events.append("key generated")
        made.append(real(exponent, bits))
        return made[-1]

    monkeypatch.setattr(rsa, "generate_private_key", generate)
    with pytest.raises(FlowFailure):
        script.drive(flows.order(_job()))
    requests = [(e.method, e.url) if isinstance(e, Request) else e for e in script.events
                if isinstance(e, Request) or e == "key generated"]
    assert requests[-4:] == [("POST", "https://ca.test/ch/1"), "key generated", ("POST", AUTHZ),
                             ("POST", "https://ca.test/fin")]
    assert len(made) == 1
