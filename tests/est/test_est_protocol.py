"""The sans-IO flows driven with plain objects: no sockets, no clock."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from fortishell.est import attrs as csr_attrs
from fortishell.est import pki, protocol
from fortishell.est import flows
from fortishell.certs.trust import Anchors
from fortishell.est.cancel import Cancelled
from fortishell.est.events import Interim, StoreCaCerts, StoreLocal, Stored, Trace, WireFailure
from fortishell.est.protocol import EstRequest, EstResponse, FlowConfig, TlsInfo, Wait
from fortishell.est.settings import EstSettings
from fortishell.lab.ca import LabCA

GUIDE_CSRATTRS = b"MCYGBysGAQEBARYGCSqGSIb3DQEJAQYFK4EEACIGCWCGSAFlAwQCAg==\n"
CFG = FlowConfig(url="https://testrfc7030.com:8443")


def certs_body(wrap: bool = True) -> bytes:
    der = pkcs7.serialize_certificates([LabCA.shipped().cert], serialization.Encoding.DER)
    b64 = base64.b64encode(der).decode()
    if wrap:
        b64 = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return (b64 + "\n").encode()


def ok(ctype: str, body: bytes, **kw) -> EstResponse:
    return EstResponse(200, "OK", headers=(("Content-Type", ctype),), body=body, **kw)


class Driver:
    """Drives a flow with scripted replies: traces rendered, each request/store gets the next reply."""

    def __init__(self, replies) -> None:
        self.replies, self.lines, self.steps = iter(replies), [], []

    def run(self, flow, cancel_at=None):
        reply, pending = None, None
        try:
            while True:
                step = flow.throw(pending) if pending else flow.send(reply)
                reply, pending = None, None
                if isinstance(step, Trace):
                    self.lines.append(step.text if step.point is None else step.point.render(dict(step.values)))
                    continue
                self.steps.append(step)
                if cancel_at is not None and len(self.steps) == cancel_at:
                    pending = Cancelled("cancelled")
                elif isinstance(step, (StoreCaCerts, StoreLocal)):
                    reply = Stored()
                elif not isinstance(step, Wait):
                    reply = next(self.replies)
        except StopIteration as stop:
            return stop.value


def run(flow, responses):
    """Drive ``flow``; returns (result, steps) where steps are the requests and waits."""
    d = Driver(responses)
    result = d.run(flow)
    return result, d.steps


def run_lines(flow, responses):
    d = Driver(responses)
    d.run(flow)
    return d.lines


@pytest.mark.parametrize("wrap", [True, False])
def test_cacerts(wrap):
    d = Driver([ok("application/pkcs7-mime", certs_body(wrap))])
    certs = d.run(protocol.cacerts(CFG))
    assert d.steps == [EstRequest("GET", "/.well-known/est/cacerts")]
    assert certs[0].subject.rfc4514_string() == "CN=estExampleCA"
    lines = [l for l in d.lines if "curl_header_debug_func" not in l]
    assert lines[:5] == ["[2075] __est_get_ca_certs: ============STARTED============",
                         "[1728] est_curl_req: URL: https://testrfc7030.com:8443/.well-known/est/cacerts",
                         "[1776] est_curl_req: HTTP GET",
                         "[1787] est_curl_req: Response 200"] + lines[4:5]
    start = lines.index("[1191] save_pkcs7_certs: Saving pkcs7 response")
    assert lines[start + 1] == "[505] est_print_pkcs7: Certs: (1 in total)"
    assert "        Serial Number:\n            ab:e8:32:e1:f6:6a:6b:43" in lines[start + 3]
    assert lines[-1] == ("[1228] save_pkcs7_certs: Saving cert(s):\n\tis_global:1\n"
                             "\test_url:https://testrfc7030.com:8443\n\tsource_ip:NULL\n\tca_identifier:NULL\n")


def test_csrattrs_guide_value():
    tls = TlsInfo("TLSv1.2", "X", b"\x01" * 12)
    d = Driver([ok("application/csrattrs", GUIDE_CSRATTRS, tls=tls)])
    attrs, got_tls = d.run(protocol.csrattrs(CFG))
    assert got_tls is tls
    assert d.lines[-5:] == [
        "[1439] decode_csrattrs_callback: Decoding csrattrs, resp->len: 57",
        "[1474] decode_csrattrs_callback: Object: 1.3.6.1.1.1.1.22 undefined",
        "[1474] decode_csrattrs_callback: Object: 1.2.840.113549.1.9.1 emailAddress",
        "[1474] decode_csrattrs_callback: Object: 1.3.132.0.34 secp384r1",
        "[1474] decode_csrattrs_callback: Object: 2.16.840.1.101.3.4.2.2 sha384",
    ]
    assert csr_attrs.hash_from_attrs(attrs).name == "sha384" and not csr_attrs.wants_pop(attrs)


@pytest.mark.parametrize("status", [204, 404])
def test_csrattrs_none(status):
    (attrs, _), _ = run(protocol.csrattrs(CFG), [EstResponse(status)])
    assert attrs == []


def test_csrattrs_label_path():
    cfg = FlowConfig(url="https://h:1", ca_id="arbitrary")
    _, steps = run(protocol.csrattrs(cfg), [EstResponse(204)])
    assert steps[0].path == "/.well-known/est/arbitrary/csrattrs"


def _issued():
    key = pki.generate_key(pki.ALGORITHMS["ec-secp256r1"])
    return key, pki.build_csr(key, pki.parse_subject("CN=x")), None


def _job(**kw) -> flows.Job:
    settings = EstSettings(name="c1", url=CFG.url, algorithm="ec-secp256r1", subject="CN=x", **kw)
    return flows.Job(settings, CFG, Anchors.store([LabCA.shipped().cert]))


def test_enroll_flow_with_202_retry():
    """The composite enroll: cacerts, CA import, csrattrs, POST, 202 wait, POST again."""
    accepted = EstResponse(202, "Accepted", headers=(("Retry-After", "7"),))
    # the last reply is the lab root, which does not match the CSR's key: the flow fails on the leaf
    d = Driver([ok("application/pkcs7-mime", certs_body()), EstResponse(204), accepted,
                ok("application/pkcs7-mime", certs_body())])
    with pytest.raises(protocol.FlowFailure, match="does not match the private key"):
        d.run(flows.enroll(_job()))
    kinds = [(s.method, s.path.rsplit("/", 1)[1]) if isinstance(s, EstRequest) else s for s in d.steps]
    assert kinds[0] == ("GET", "cacerts") and isinstance(kinds[1], StoreCaCerts)
    assert kinds[2:] == [("GET", "csrattrs"), ("POST", "simpleenroll"), Wait(7.0), ("POST", "simpleenroll")]
    post = d.steps[3]
    assert dict(post.headers)["Content-Type"] == "application/pkcs10"
    csr = x509.load_der_x509_csr(pki.b64decode_body(post.body))
    assert csr.is_signature_valid and csr.subject.rfc4514_string() == "CN=x"
    assert max(len(l) for l in post.body.decode().splitlines()) == 64
    assert "[2226] __est_simple_post: Request accepted, retry after 7 seconds (1/3)" in d.lines
    assert d.lines[-2:] == ["[2408] est_simple_enroll: POST ret:-1", "[592] est_ctx_clear_tmp_data: trace"]


def test_retry_bounded_by_budget():
    _, csr, _ = _issued()
    cfg = FlowConfig(url="https://h:1", retry_limit=5, retry_budget=10)
    accepted = EstResponse(202, "Accepted", headers=(("Retry-After", "6"),))
    with pytest.raises(protocol.FlowFailure, match="still pending after 1 retries"):
        run(protocol.simple_post(cfg, "simpleenroll", csr), [accepted, accepted, accepted])


@pytest.mark.parametrize("resp,match", [
    (EstResponse(500, "Internal Server Error"), "HTTP error 500"),
    (EstResponse(401, "Unauthorized"), "HTTP error 401"),
    (EstResponse(200, "OK", headers=(("Content-Type", "text/html"),), body=b"<html>"), "Content-Type"),
    (EstResponse(200, "OK", headers=(("Content-Type", "application/pkcs7-mime"),), body=b"@@@"), "base64"),
    (EstResponse(200, "OK", headers=(("Content-Type", "application/pkcs7-mime"),), body=b"QUJD"), "PKCS#7"),
])
def test_post_failures(resp, match):
    _, csr, _ = _issued()
    with pytest.raises(protocol.FlowFailure, match=match) as info:
        run(protocol.simpleenroll(CFG, csr), [resp])
    assert info.value.stage == "post"


def test_reenroll_skips_cacerts():
    key = pki.generate_key(pki.ALGORITHMS["ec-secp256r1"])
    lab = LabCA.shipped()
    settings = EstSettings(name="c1", url=CFG.url, from_cmdb=True)
    job = flows.Job(settings, CFG, Anchors.store([lab.cert]), lab.cert, key, lab.cert)
    d = Driver([EstResponse(204), ok("application/pkcs7-mime", certs_body())])
    with pytest.raises(protocol.FlowFailure):  # the lab root does not match the key: fails after the POST
        d.run(flows.reenroll(job))
    assert [s.path for s in d.steps] == ["/.well-known/est/csrattrs", "/.well-known/est/simplereenroll"]
    assert d.lines[-2:] == ["[2477] est_simple_reenroll: POST ret:-1", "[592] est_ctx_clear_tmp_data: trace"]


# ------------------------------------------------------------------ one request, one place for its lines
def test_ssl_ctx_lines_only_when_the_request_opened_a_connection():
    fresh = EstResponse(204, "No Content", tls=TlsInfo(new_connection=True))
    reused = EstResponse(204, "No Content", tls=TlsInfo(new_connection=False))
    first = run_lines(protocol.csrattrs(CFG), [fresh])
    second = run_lines(protocol.csrattrs(CFG), [reused])
    assert first[3:5] == ["[143] __curl_ssl_ctx_finalizer: global CAs are loaded.",
                          "[165] __curl_ssl_ctx_finalizer: SSL_CTX ex data is set."]
    assert not any("__curl_ssl_ctx_finalizer" in l for l in second)
    labelled = run_lines(protocol.csrattrs(FlowConfig(url=CFG.url, trust_label="lab-root")), [fresh])
    assert "[151] __curl_ssl_ctx_finalizer: CA cert lab-root is loaded." in labelled
    srp = run_lines(protocol.csrattrs(FlowConfig(url=CFG.url, srp=True)), [fresh])
    assert not any("__curl_ssl_ctx_finalizer" in l for l in srp)


def test_interim_responses_traced_in_wire_order():
    challenge = Interim(401, "Unauthorized", headers=(("WWW-Authenticate", 'Digest realm="x"'),))
    resp = EstResponse(204, "No Content", headers=(("Server", "lab"),), interim=(challenge,))
    lines = run_lines(protocol.csrattrs(CFG), [resp])
    headers = [l.split("Header received:", 1)[1] for l in lines if "Header received:" in l]
    assert headers == ["HTTP/1.1 401 Unauthorized", 'WWW-Authenticate: Digest realm="x"', "",
                       "HTTP/1.1 204 No Content", "Server: lab", ""]


def test_wire_failure_is_traced_by_the_flow():
    d = Driver([WireFailure("SSL certificate problem: self-signed certificate in certificate chain",
                            connected=True)])
    with pytest.raises(protocol.FlowFailure) as info:
        d.run(flows.enroll(_job()))
    assert info.value.stage == "cacerts"
    assert d.lines[-5:] == [
        "[143] __curl_ssl_ctx_finalizer: global CAs are loaded.",
        "[165] __curl_ssl_ctx_finalizer: SSL_CTX ex data is set.",
        "[1795] est_curl_req: Error buf: SSL certificate problem: self-signed certificate in certificate chain,",
        "[2402] est_simple_enroll: Failed to get ca certs: -1.",
        "[592] est_ctx_clear_tmp_data: trace",
    ]


def test_ca_certs_imported_only_after_the_store():
    d = Driver([ok("application/pkcs7-mime", certs_body()), EstResponse(500, "Internal Server Error")])
    with pytest.raises(protocol.FlowFailure):
        d.run(flows.enroll(_job()))
    assert isinstance(d.steps[1], StoreCaCerts)
    assert "[1288] save_pkcs7_certs: CA certs imported!" in d.lines


def test_cancel_ends_the_trace_with_clear_tmp():
    d = Driver([ok("application/pkcs7-mime", certs_body())])
    with pytest.raises(Cancelled):
        d.run(flows.enroll(_job()), cancel_at=1)  # cancelled while the cacerts request is out
    assert d.lines[-1] == "[592] est_ctx_clear_tmp_data: trace"
    assert not any(isinstance(s, (StoreCaCerts, StoreLocal)) for s in d.steps)


def test_fetch_cacerts_stores_nothing():
    d = Driver([ok("application/pkcs7-mime", certs_body())])
    certs = d.run(flows.fetch_cacerts(_job()))
    assert [c.subject.rfc4514_string() for c in certs] == ["CN=estExampleCA"]
    assert d.steps == [EstRequest("GET", "/.well-known/est/cacerts")]


def test_retry_after_http_date():
    assert protocol.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 10, now=1445412470.0) == 10.0
    assert protocol.retry_after_seconds("soon", 4) == 4


# ------------------------------------------------------------------ trust of what is issued
def _reenroll_with_reply(issuer: LabCA, sent_along: list) -> Driver:
    lab = LabCA.shipped()
    key = pki.generate_key(pki.ALGORITHMS["ec-secp256r1"])
    import datetime as dt

    now = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    current = lab.issue(pki.build_csr(key, pki.parse_subject("CN=c1")), now=now, serial=1)
    new = issuer.issue(pki.build_csr(key, pki.parse_subject("CN=c1")), now=now, serial=2)
    body = base64.b64encode(pkcs7.serialize_certificates([new, *sent_along], serialization.Encoding.DER)) + b"\n"
    settings = EstSettings(name="c1", url=CFG.url, from_cmdb=True)
    store = Anchors.store([lab.cert])
    job = flows.Job(settings, CFG, store, current, key, current, issuers=store, clock=lambda: now)
    d = Driver([EstResponse(204), ok("application/pkcs7-mime", body)])
    d.result = None
    try:
        d.result = d.run(flows.reenroll(job))
    except protocol.FlowFailure as exc:
        d.failure = exc
    return d


def test_reenroll_does_not_trust_roots_sent_with_the_certificate():
    """Issue 18 item 6: a reply [leaf by R, R] must not make R an anchor of its own check."""
    rogue = LabCA.new(common_name="estRogueRootCA")
    d = _reenroll_with_reply(rogue, [rogue.cert])
    assert d.result is None and "does not chain to a trusted CA" in d.failure.reason
    assert "[1261] save_pkcs7_certs: Failed to verify the cert: unable to get local issuer certificate" in d.lines
    assert not any(isinstance(s, StoreLocal) for s in d.steps)
    good = _reenroll_with_reply(LabCA.shipped(), [])
    assert good.result is not None and any(isinstance(s, StoreLocal) for s in good.steps)
