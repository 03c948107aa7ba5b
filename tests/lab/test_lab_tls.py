"""Client certificates (simplereenroll), tls-unique PoP and TLS-SRP against the responder."""

from __future__ import annotations

import base64
import datetime as dt
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from labkit import (
    basic,
    certs_from_reply,
    client_context,
    csr_b64,
    enroll_headers,
    make_csr,
    raw_request,
    read_reply,
    write_pem,
)

from fortishell.lab.ca import LabCA
from fortishell.lab.state import FIRST_SERIAL
from fortishell.lab.tlsio import client_hello_offers_srp

EST = "/.well-known/est/"


def _client_files(tmp_path, key, cert, name="client"):
    return (write_pem(tmp_path / f"{name}.crt", cert), write_pem(tmp_path / f"{name}.key", key=key))


# ------------------------------------------------------------------ simplereenroll
def test_reenroll_with_lab_issued_certificate(responder, lab_ca, enroll, tmp_path):
    key, cert = enroll("firewall-portal1")
    ctx = client_context(lab_ca, cert=_client_files(tmp_path, key, cert))
    _, csr = make_csr("firewall-portal1", key=key)  # same subject (and key: no rekey)
    r = raw_request(responder.port, ctx, "POST", EST + "simplereenroll", body=csr_b64(csr),
                    headers=enroll_headers())
    assert r.status == 200
    (new,) = certs_from_reply(r.body)
    assert new.serial_number == FIRST_SERIAL + 1
    assert new.subject == cert.subject
    assert responder.state.issued()[FIRST_SERIAL + 1]["op"] == "simplereenroll"


def test_reenroll_subject_must_match(responder, lab_ca, enroll, tmp_path):
    key, cert = enroll("firewall-portal1")
    ctx = client_context(lab_ca, cert=_client_files(tmp_path, key, cert))
    _, csr = make_csr("someone-else")
    r = raw_request(responder.port, ctx, "POST", EST + "simplereenroll", body=csr_b64(csr), headers=enroll_headers())
    assert r.status == 400


def test_reenroll_without_certificate_is_refused(responder, lab_ca):
    _, csr = make_csr()
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simplereenroll", body=csr_b64(csr),
                    headers=enroll_headers(basic()))
    assert r.status == 403


def test_reenroll_with_expired_certificate_is_refused(responder, lab_ca, enroll, tmp_path, clock):
    key, cert = enroll("firewall-portal1")
    ctx = client_context(lab_ca, cert=_client_files(tmp_path, key, cert))
    clock.advance(dt.timedelta(days=366))  # the responder's clock passes notAfter
    _, csr = make_csr("firewall-portal1", key=key)
    r = raw_request(responder.port, ctx, "POST", EST + "simplereenroll", body=csr_b64(csr), headers=enroll_headers())
    assert r.status == 403


def test_reenroll_with_foreign_certificate_is_refused_in_tls(responder, lab_ca, tmp_path):
    other = LabCA.new()
    key, csr = make_csr("firewall-portal1")
    cert = other.issue(csr, now=dt.datetime.now(dt.timezone.utc), serial=5)
    ctx = client_context(lab_ca, cert=_client_files(tmp_path, key, cert))
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        raw_request(responder.port, ctx, "POST", EST + "simplereenroll", body=csr_b64(csr), headers=enroll_headers())


def test_valid_client_certificate_also_authorises_simpleenroll(responder, lab_ca, enroll, tmp_path):
    key, cert = enroll("firewall-portal1")
    ctx = client_context(lab_ca, cert=_client_files(tmp_path, key, cert))
    _, csr = make_csr("new-host")
    r = raw_request(responder.port, ctx, "POST", EST + "simpleenroll", body=csr_b64(csr), headers=enroll_headers())
    assert r.status == 200


# ------------------------------------------------------------------ PoP (tls-unique)
def _pop_request(port, lab_ca, *, tamper=False, challenge=True):
    def before_send(tls, body, hdrs):
        unique = tls.get_channel_binding("tls-unique")
        value = base64.b64encode(unique) if challenge else None
        if tamper:
            value = base64.b64encode(b"\x00" * len(unique))
        _, csr = make_csr("pop-host", challenge=value)
        body = csr_b64(csr)
        hdrs["Content-Length"] = str(len(body))
        return body, hdrs

    return raw_request(port, client_context(lab_ca, tls12=True), "POST", EST + "simpleenroll",
                       headers=enroll_headers(basic()), before_send=before_send)


def test_pop_csrattrs_lists_challenge_password(make_responder, lab_ca):
    from pyasn1.codec.der import decoder
    from pyasn1_modules import rfc7030

    r = make_responder(require_pop=True)
    reply = raw_request(r.port, client_context(lab_ca), "GET", EST + "csrattrs")
    attrs, _ = decoder.decode(base64.b64decode(reply.body), asn1Spec=rfc7030.CsrAttrs())
    oids = [str(a["oid"]) for a in attrs]
    assert oids == ["1.3.6.1.1.1.1.22", "1.2.840.113549.1.9.1", "1.3.132.0.34", "2.16.840.1.101.3.4.2.2",
                    "1.2.840.113549.1.9.7"]


def test_pop_linked_csr_is_accepted(make_responder, lab_ca):
    r = make_responder(require_pop=True)
    assert _pop_request(r.port, lab_ca).status == 200


@pytest.mark.parametrize("kw", [{"tamper": True}, {"challenge": False}])
def test_pop_unlinked_csr_is_refused(make_responder, lab_ca, kw):
    r = make_responder(require_pop=True)
    assert _pop_request(r.port, lab_ca, **kw).status == 400


def test_pop_mode_caps_tls_at_1_2(make_responder, lab_ca):
    r = make_responder(require_pop=True)
    with socket.create_connection(("127.0.0.1", r.port)) as tcp:
        with client_context(lab_ca).wrap_socket(tcp, server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.2"


def test_tls_below_1_2_is_refused(responder, lab_ca):
    ctx = client_context(lab_ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, OSError)):
        raw_request(responder.port, ctx, "GET", EST + "cacerts")


# ------------------------------------------------------------------ TLS-SRP (tlslite-ng client)
def _srp_enroll(port, user, pwd, path=EST + "simpleenroll", auth=None):
    from tlslite.api import HandshakeSettings, TLSConnection

    _, csr = make_csr("srp-host")
    body = csr_b64(csr)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = TLSConnection(sock)
    try:
        settings = HandshakeSettings()
        settings.maxVersion = (3, 3)  # tlslite's SRP client would otherwise offer a TLS 1.3 it cannot do
        conn.handshakeClientSRP(user, pwd, settings=settings)
        head = (f"POST {path} HTTP/1.1\r\nHost: testrfc7030.com\r\nContent-Type: application/pkcs10\r\n"
                + (f"Authorization: {auth}\r\n" if auth else "")
                + f"Content-Length: {len(body)}\r\n\r\n")
        conn.sendall(head.encode() + body)
        return read_reply(conn)
    finally:
        conn.close()


def test_srp_enrollment_without_http_auth(responder):
    r = _srp_enroll(responder.port, "srpuser", "srppwd")
    assert r.status == 200
    assert certs_from_reply(r.body)[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "srp-host"


def test_srp_wrong_password_fails_handshake(responder):
    with pytest.raises(Exception) as exc:
        _srp_enroll(responder.port, "srpuser", "wrong")
    assert "TLS" in type(exc.value).__name__ or isinstance(exc.value, OSError)


def test_srp_unknown_user_fails_handshake(responder):
    with pytest.raises(Exception):
        _srp_enroll(responder.port, "nobody", "srppwd")


def test_srp_users_from_config(make_responder):
    r = make_responder(srp_users={"alice": "s3cret"})
    assert _srp_enroll(r.port, "alice", "s3cret").status == 200


def test_client_hello_classifier():
    assert client_hello_offers_srp(b"\x16\x03") is None
    assert client_hello_offers_srp(b"GET / HTTP/1.1\r\n\r\n") is False
    assert client_hello_offers_srp(b"\x16\x03\x01\x00\x10" + b"\x00" * 4) is None  # incomplete record
