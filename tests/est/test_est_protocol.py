"""The sans-IO flows driven with plain objects: no sockets, no clock."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from fortishell.est import pki, protocol
from fortishell.est.protocol import EstRequest, EstResponse, FlowConfig, TlsInfo, Wait
from fortishell.lab.ca import LabCA

GUIDE_CSRATTRS = b"MCYGBysGAQEBARYGCSqGSIb3DQEJAQYFK4EEACIGCWCGSAFlAwQCAg==\n"
CFG = FlowConfig(url="https://testrfc7030.com:8443")


class Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def emit(self, point, **values) -> None:
        self.lines.append(point.render(values))

    def raw(self, text: str) -> None:
        self.lines.append(text)


def certs_body(wrap: bool = True) -> bytes:
    der = pkcs7.serialize_certificates([LabCA.shipped().cert], serialization.Encoding.DER)
    b64 = base64.b64encode(der).decode()
    if wrap:
        b64 = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return (b64 + "\n").encode()


def ok(ctype: str, body: bytes, **kw) -> EstResponse:
    return EstResponse(200, "OK", headers=(("Content-Type", ctype),), body=body, **kw)


def run(flow, responses):
    """Drive ``flow``: each request/wait gets the next item of ``responses``; returns (result, steps)."""
    steps, reply, it = [], None, iter(responses)
    try:
        while True:
            step = flow.send(reply)
            steps.append(step)
            reply = None if isinstance(step, Wait) else next(it)
    except StopIteration as stop:
        return stop.value, steps


@pytest.mark.parametrize("wrap", [True, False])
def test_cacerts(wrap):
    out = Out()
    certs, steps = run(protocol.get_cacerts(CFG, out), [ok("application/pkcs7-mime", certs_body(wrap))])
    assert steps == [EstRequest("GET", "/.well-known/est/cacerts")]
    assert certs[0].subject.rfc4514_string() == "CN=estExampleCA"
    assert out.lines[:3] == ["[2075] __est_get_ca_certs: ============STARTED============",
                             "[1191] save_pkcs7_certs: Saving pkcs7 response",
                             "[505] est_print_pkcs7: Certs: (1 in total)"]
    assert "        Serial Number:\n            ab:e8:32:e1:f6:6a:6b:43" in out.lines[4]
    assert out.lines[-1] == ("[1228] save_pkcs7_certs: Saving cert(s):\n\tis_global:1\n"
                             "\test_url:https://testrfc7030.com:8443\n\tsource_ip:NULL\n\tca_identifier:NULL\n")


def test_csrattrs_guide_value():
    out = Out()
    tls = TlsInfo("TLSv1.2", "X", b"\x01" * 12)
    (attrs, got_tls), _ = run(protocol.get_csrattrs(CFG, out),
                              [ok("application/csrattrs", GUIDE_CSRATTRS, tls=tls)])
    assert got_tls is tls
    assert out.lines[1:] == [
        "[1439] decode_csrattrs_callback: Decoding csrattrs, resp->len: 57",
        "[1474] decode_csrattrs_callback: Object: 1.3.6.1.1.1.1.22 undefined",
        "[1474] decode_csrattrs_callback: Object: 1.2.840.113549.1.9.1 emailAddress",
        "[1474] decode_csrattrs_callback: Object: 1.3.132.0.34 secp384r1",
        "[1474] decode_csrattrs_callback: Object: 2.16.840.1.101.3.4.2.2 sha384",
    ]
    assert pki.hash_from_attrs(attrs).name == "sha384" and not pki.wants_pop(attrs)


@pytest.mark.parametrize("status", [204, 404])
def test_csrattrs_none(status):
    (attrs, _), _ = run(protocol.get_csrattrs(CFG, Out()), [EstResponse(status)])
    assert attrs == []


def test_csrattrs_label_path():
    cfg = FlowConfig(url="https://h:1", ca_id="arbitrary")
    _, steps = run(protocol.get_csrattrs(cfg, Out()), [EstResponse(204)])
    assert steps[0].path == "/.well-known/est/arbitrary/csrattrs"


def _issued():
    key = pki.generate_key(pki.ALGORITHMS["ec-secp256r1"])
    return key, pki.build_csr(key, pki.parse_subject("CN=x")), None


def test_enroll_flow_with_202_retry():
    key, csr, _ = _issued()
    out = Out()
    body = certs_body()
    accepted = EstResponse(202, "Accepted", headers=(("Retry-After", "7"),))
    outcome, steps = run(
        protocol.enroll_flow(CFG, out, lambda attrs, tls: csr),
        [ok("application/pkcs7-mime", body), EstResponse(204), accepted,
         ok("application/pkcs7-mime; smime-type=certs-only", body)])
    kinds = [(s.method, s.path.rsplit("/", 1)[1]) if isinstance(s, EstRequest) else s for s in steps]
    assert kinds == [("GET", "cacerts"), ("GET", "csrattrs"), ("POST", "simpleenroll"), Wait(7.0),
                     ("POST", "simpleenroll")]
    post = steps[2]
    assert dict(post.headers)["Content-Type"] == "application/pkcs10"
    assert pki.b64decode_body(post.body) == csr.public_bytes(serialization.Encoding.DER)
    assert max(len(l) for l in post.body.decode().splitlines()) == 64
    assert outcome.issued and outcome.csr is csr
    assert "[2226] __est_simple_post: Request accepted, retry after 7 seconds (1/3)" in out.lines


def test_retry_bounded_by_budget():
    _, csr, _ = _issued()
    cfg = FlowConfig(url="https://h:1", retry_limit=5, retry_budget=10)
    accepted = EstResponse(202, "Accepted", headers=(("Retry-After", "6"),))
    with pytest.raises(protocol.FlowFailure, match="still pending after 1 retries"):
        run(protocol.simple_post(cfg, "simpleenroll", "QUJD", Out()), [accepted, accepted, accepted])


@pytest.mark.parametrize("resp,match", [
    (EstResponse(500, "Internal Server Error"), "HTTP error 500"),
    (EstResponse(401, "Unauthorized"), "HTTP error 401"),
    (EstResponse(200, "OK", headers=(("Content-Type", "text/html"),), body=b"<html>"), "Content-Type"),
    (EstResponse(200, "OK", headers=(("Content-Type", "application/pkcs7-mime"),), body=b"@@@"), "base64"),
    (EstResponse(200, "OK", headers=(("Content-Type", "application/pkcs7-mime"),), body=b"QUJD"), "PKCS#7"),
])
def test_post_failures(resp, match):
    with pytest.raises(protocol.FlowFailure, match=match):
        run(protocol.simple_post(CFG, "simpleenroll", "QUJD", Out()), [resp])


def test_reenroll_skips_cacerts():
    _, csr, _ = _issued()
    _, steps = run(protocol.reenroll_flow(CFG, Out(), lambda a, t: csr),
                   [EstResponse(204), ok("application/pkcs7-mime", certs_body())])
    assert [s.path for s in steps] == ["/.well-known/est/csrattrs", "/.well-known/est/simplereenroll"]


def test_retry_after_http_date():
    assert protocol.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 10, now=1445412470.0) == 10.0
    assert protocol.retry_after_seconds("soon", 4) == 4
