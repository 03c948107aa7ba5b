"""Each fault knob, set from Python and through the loopback admin endpoint."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time

import pytest
from labkit import basic, certs_from_reply, client_context, csr_b64, enroll_headers, make_csr, raw_request, read_reply

from fortishell.errors import LabError
from fortishell.lab.estapp import Request
from fortishell.lab.faults import Faults

EST = "/.well-known/est/"


def _enroll(r, lab_ca):
    _, csr = make_csr()
    return raw_request(r.port, client_context(lab_ca), "POST", EST + "simpleenroll", body=csr_b64(csr),
                       headers=enroll_headers(basic()))


def test_reject_auth(responder, lab_ca):
    responder.faults.set(reject_auth=True)
    assert _enroll(responder, lab_ca).status == 401
    responder.faults.clear()
    assert _enroll(responder, lab_ca).status == 200


def test_status_500(responder, lab_ca):
    responder.faults.set(status_500=True)
    assert _enroll(responder, lab_ca).status == 500
    assert raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts").status == 500


def test_endpoints_limit_http_faults(responder, lab_ca):
    responder.faults.set(status_500=True, endpoints=["simpleenroll"])
    assert raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts").status == 200
    assert _enroll(responder, lab_ca).status == 500


def test_retry_after_then_success(responder, lab_ca):
    responder.faults.set(retry_after=(2, 7))
    for _ in range(2):
        r = _enroll(responder, lab_ca)
        assert r.status == 202
        assert r.header("Retry-After") == "7"
    assert _enroll(responder, lab_ca).status == 200
    assert responder.faults.retry_after is None


def test_delay_seconds(responder, lab_ca):
    responder.faults.set(delay_seconds=0.3)
    start = time.monotonic()
    assert raw_request(responder.port, client_context(lab_ca), "GET", EST + "csrattrs").status == 200
    assert time.monotonic() - start >= 0.3


def test_truncate_body(responder, lab_ca):
    responder.faults.set(truncate_body=True)
    r = raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts")
    assert r.status == 200
    assert len(r.body) < int(r.header("Content-Length"))


def test_garbage_base64(responder, lab_ca):
    responder.faults.set(garbage_base64=True)
    r = _enroll(responder, lab_ca)
    assert r.status == 200 and int(r.header("Content-Length")) == len(r.body)
    with pytest.raises(ValueError):
        base64.b64decode(b"".join(r.body.split()), validate=True)


def test_wrong_content_type(responder, lab_ca):
    responder.faults.set(wrong_content_type=True)
    r = _enroll(responder, lab_ca)
    assert r.status == 200 and r.header("Content-Type") == "text/html"


def test_drop_connection(responder, lab_ca):
    responder.faults.set(drop_connection=True)
    with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
        raw_request(responder.port, client_context(lab_ca), "GET", EST + "csrattrs")


def test_wrong_key_cert(responder, lab_ca):
    responder.faults.set(wrong_key_cert=True)
    key, csr = make_csr()
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll", body=csr_b64(csr),
                    headers=enroll_headers(basic()))
    (cert,) = certs_from_reply(r.body)
    cert.verify_directly_issued_by(lab_ca.cert)
    assert cert.public_key() != key.public_key()


def test_foreign_ca_cert(responder, lab_ca):
    responder.faults.set(foreign_ca_cert=True)
    (cert,) = certs_from_reply(_enroll(responder, lab_ca).body)
    assert cert.issuer == lab_ca.cert.subject  # same name ...
    assert not lab_ca.chains_to_me(cert)  # ... but another key


def test_tls_failure(responder, lab_ca):
    responder.faults.set(tls_failure=True)
    with pytest.raises(ssl.SSLError) as exc:
        raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts")
    assert "HANDSHAKE_FAILURE" in str(exc.value).upper()


# ------------------------------------------------------------------ admin endpoint
def _admin(r, lab_ca, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else b""
    method = "POST" if body is not None else "GET"
    return raw_request(r.port, client_context(lab_ca), method, "/.lab/faults", body=data,
                       headers={"Content-Type": "application/json"})


def test_admin_endpoint_sets_and_clears(responder, lab_ca):
    r = _admin(responder, lab_ca, {"status_500": True, "retry_after": [1, 3]})
    assert r.status == 200
    assert json.loads(r.body)["retry_after"] == [1, 3]
    assert responder.faults.status_500 is True
    assert _admin(responder, lab_ca, {"clear": True}).status == 200
    assert json.loads(_admin(responder, lab_ca).body)["status_500"] is False


@pytest.mark.parametrize("body", [{"no_such_knob": True}, {"delay_seconds": "x"}, {"endpoints": ["nope"]}])
def test_admin_endpoint_rejects_bad_knobs(responder, lab_ca, body):
    assert _admin(responder, lab_ca, body).status == 400


def test_admin_endpoint_only_from_loopback(responder):
    reply = responder.app.handle(Request("POST", "/.lab/faults", [], b'{"status_500": true}', ("192.0.2.7", 5000)))
    assert reply.status == 403
    assert responder.faults.status_500 is False


def test_faults_validation():
    f = Faults()
    with pytest.raises(LabError):
        f.set(bogus=True)
    with pytest.raises(LabError):
        f.set(retry_after=(1,))
    f.set(retry_after=(1, 2))
    assert f.take_retry() == 2 and f.take_retry() is None


def test_keepalive_connection_survives_faults_off(responder, lab_ca):
    with socket.create_connection(("127.0.0.1", responder.port)) as tcp:
        with client_context(lab_ca).wrap_socket(tcp, server_hostname="localhost") as tls:
            tls.sendall(b"GET /.well-known/est/csrattrs HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_reply(tls).status == 200
