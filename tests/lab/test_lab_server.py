"""The responder over real TLS on 127.0.0.1: endpoints, header bytes, auth, labels, errors."""

from __future__ import annotations

import base64
import datetime as dt
import socket
import ssl
import threading

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fortishell.lab.server import EstResponder, ResponderConfig
from fortishell.lab.state import FIRST_SERIAL

from labkit import (
    LAB_TIME,
    basic,
    certs_from_reply,
    client_context,
    csr_b64,
    enroll_headers,
    make_csr,
    raw_request,
)

CSRATTRS = "MCYGBysGAQEBARYGCSqGSIb3DQEJAQYFK4EEACIGCWCGSAFlAwQCAg=="
EST = "/.well-known/est/"


# ------------------------------------------------------------------ exact bytes
def test_csrattrs_bytes_exactly_as_the_guide(responder, lab_ca):
    r = raw_request(responder.port, client_context(lab_ca), "GET", EST + "csrattrs")
    assert r.raw_head == (
        b"HTTP/1.1 200 OK\r\nStatus: 200 OK\r\nContent-Type: application/csrattrs\r\n"
        b"Content-Transfer-Encoding: base64\r\nContent-Length: 57\r\n\r\n"
    )
    assert r.body == CSRATTRS.encode() + b"\n"


def test_cacerts_is_the_lab_root(responder, lab_ca):
    r = raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts")
    assert r.status == 200
    assert [k for k, _ in r.headers] == ["Status", "Content-Type", "Content-Transfer-Encoding", "Content-Length"]
    assert r.header("Content-Type") == "application/pkcs7-mime"
    assert int(r.header("Content-Length")) == len(r.body)
    assert all(len(line) <= 64 for line in r.body.decode().split("\n"))
    assert r.body.endswith(b"\n")
    (cert,) = certs_from_reply(r.body)
    assert cert == lab_ca.cert
    assert cert.serial_number == 0xABE832E1F66A6B43


def test_simpleenroll_reply_like_the_guide(responder, lab_ca):
    key, csr = make_csr("firewall-portal1", extra_subject=[
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "local"), x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "COM")])
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll",
                    body=csr_b64(csr), headers=enroll_headers(basic()))
    assert r.raw_head == (
        b"HTTP/1.1 200 OK\r\nStatus: 200 OK\r\n"
        b"Content-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
        b"Content-Transfer-Encoding: base64\r\nContent-Length: 585\r\n\r\n"
    )
    lines = r.body.decode().split("\n")
    # the guide's first two lines of the Buffer (same structure, serial 476823, issuer estExampleCA)
    assert lines[0] == "MIIBqwYJKoZIhvcNAQcCoIIBnDCCAZgCAQExADALBgkqhkiG9w0BBwGgggGAMIIB"
    assert lines[1] == "fDCCASOgAwIBAgIDB0aXMAoGCCqGSM49BAMCMBcxFTATBgNVBAMTDGVzdEV4YW1w"
    (cert,) = certs_from_reply(r.body)
    assert cert.serial_number == FIRST_SERIAL
    assert cert.subject.rfc4514_string() == "CN=firewall-portal1"
    assert cert.not_valid_before_utc == LAB_TIME
    assert cert.not_valid_after_utc == LAB_TIME + dt.timedelta(days=365)
    assert cert.public_key() == key.public_key()
    cert.verify_directly_issued_by(lab_ca.cert)


def test_no_date_or_server_header_and_keepalive(responder, lab_ca):
    with socket.create_connection(("127.0.0.1", responder.port)) as tcp:
        with client_context(lab_ca).wrap_socket(tcp, server_hostname="testrfc7030.com") as tls:
            from labkit import read_reply

            for _ in range(3):  # three requests on one connection
                tls.sendall(b"GET /.well-known/est/csrattrs HTTP/1.1\r\nHost: x\r\n\r\n")
                r = read_reply(tls)
                assert r.status == 200
                assert {k.lower() for k, _ in r.headers} == {
                    "status", "content-type", "content-transfer-encoding", "content-length"}


def test_server_certificate_names(responder, lab_ca):
    ctx = client_context(lab_ca)
    for name in ("testrfc7030.com", "localhost"):
        assert raw_request(responder.port, ctx, "GET", EST + "csrattrs", server_hostname=name).status == 200
    with pytest.raises(ssl.SSLCertVerificationError):
        raw_request(responder.port, ctx, "GET", EST + "csrattrs", server_hostname="example.com")


def test_untrusted_without_the_lab_ca(responder):
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cadata=_unrelated_ca_pem())
    with pytest.raises(ssl.SSLCertVerificationError) as exc:
        raw_request(responder.port, ctx, "GET", EST + "cacerts")
    assert "self-signed certificate in certificate chain" in str(exc.value)


def _unrelated_ca_pem() -> str:
    from fortishell.lab.ca import LabCA

    return LabCA.new().cert_pem


# ------------------------------------------------------------------ routing
@pytest.mark.parametrize("label", ["G_CA_Cert_1", "arbitraryLabel1", "a.b-c~d"])
def test_labels(responder, lab_ca, label):
    ctx = client_context(lab_ca)
    assert raw_request(responder.port, ctx, "GET", f"{EST}{label}/csrattrs").status == 200
    _, csr = make_csr("labelled")
    r = raw_request(responder.port, ctx, "POST", f"{EST}{label}/simpleenroll", body=csr_b64(csr),
                    headers=enroll_headers(basic()))
    assert r.status == 200


@pytest.mark.parametrize("path", [
    EST + "bad%20label/cacerts", EST + "a/b/cacerts", EST + "cacerts/simpleenroll", EST + "unknown",
    EST + "x" * 65 + "/cacerts", "/", "/.well-known/est", EST + "fullcmc",
])
def test_unknown_paths_are_404(responder, lab_ca, path):
    assert raw_request(responder.port, client_context(lab_ca), "GET", path).status == 404


@pytest.mark.parametrize(("method", "op", "allow"), [
    ("POST", "cacerts", "GET"), ("PUT", "csrattrs", "GET"), ("GET", "simpleenroll", "POST"),
    ("DELETE", "simplereenroll", "POST")])
def test_wrong_method_is_405(responder, lab_ca, method, op, allow):
    r = raw_request(responder.port, client_context(lab_ca), method, EST + op)
    assert r.status == 405
    assert r.header("Allow") == allow


# ------------------------------------------------------------------ bodies
def test_body_without_line_breaks_and_cte_ignored(responder, lab_ca):
    _, csr = make_csr()
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll", body=csr_b64(csr, wrap=None),
                    headers={**enroll_headers(basic()), "Content-Transfer-Encoding": "binary"})
    assert r.status == 200
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll",
                    body=csr_b64(csr, wrap=76).replace(b"\n", b"\r\n"), headers=enroll_headers(basic()))
    assert r.status == 200


@pytest.mark.parametrize("body", [b"", b"not base64 at all!", base64.b64encode(b"\x30\x03\x02\x01\x00")])
def test_malformed_csr_is_400(responder, lab_ca, body):
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll", body=body,
                    headers=enroll_headers(basic()))
    assert r.status == 400


def test_badly_signed_csr_is_400(responder, lab_ca):
    _, csr = make_csr()
    der = bytearray(base64.b64decode(csr_b64(csr)))
    der[-5] ^= 0x55  # flip bits inside the signature
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll",
                    body=base64.b64encode(bytes(der)), headers=enroll_headers(basic()))
    assert r.status == 400


def test_csr_without_cn_is_400(responder, lab_ca):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x")])).sign(key, hashes.SHA256())
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll", body=csr_b64(csr),
                    headers=enroll_headers(basic()))
    assert r.status == 400


def test_wrong_content_type_request_is_415(responder, lab_ca):
    _, csr = make_csr()
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll", body=csr_b64(csr),
                    headers={"Content-Type": "text/plain", "Authorization": basic()})
    assert r.status == 415


def test_oversized_body_is_413(make_responder, lab_ca):
    r = make_responder(max_body=1024)
    reply = raw_request(r.port, client_context(lab_ca), "POST", EST + "simpleenroll", body=b"A" * 4096,
                        headers=enroll_headers(basic()))
    assert reply.status == 413


def test_garbage_http_is_400(responder, lab_ca):
    with socket.create_connection(("127.0.0.1", responder.port)) as tcp:
        with client_context(lab_ca).wrap_socket(tcp, server_hostname="localhost") as tls:
            tls.sendall(b"THIS IS NOT HTTP\r\n\r\n")
            from labkit import read_reply

            assert read_reply(tls).status == 400


# ------------------------------------------------------------------ HTTP auth
def _enroll(port, lab_ca, auth):
    _, csr = make_csr()
    return raw_request(port, client_context(lab_ca), "POST", EST + "simpleenroll", body=csr_b64(csr),
                       headers=enroll_headers(auth))


def test_basic_auth_outcomes(responder, lab_ca):
    none = _enroll(responder.port, lab_ca, None)
    assert none.status == 401
    assert none.header("WWW-Authenticate") == 'Basic realm="estrealm"'
    assert _enroll(responder.port, lab_ca, basic("estuser", "wrong")).status == 401
    assert _enroll(responder.port, lab_ca, basic("nobody", "estpwd")).status == 401
    assert _enroll(responder.port, lab_ca, "Basic !!!").status == 401
    assert _enroll(responder.port, lab_ca, "Bearer abc").status == 401
    assert _enroll(responder.port, lab_ca, basic()).status == 200


def test_challenge_then_credentials_with_httpx(responder, lab_ca):
    """httpx's DigestAuth-style flow: a client that only answers the challenge (custom auth flow)."""

    class AfterChallenge(httpx.Auth):
        def auth_flow(self, request):
            response = yield request
            if response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic"):
                request.headers["Authorization"] = basic()
                yield request

    _, csr = make_csr()
    with httpx.Client(verify=client_context(lab_ca)) as c:
        r = c.post(responder.url + EST + "simpleenroll", content=csr_b64(csr),
                   headers={"Content-Type": "application/pkcs10"}, auth=AfterChallenge())
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [401]


def test_digest_auth(make_responder, lab_ca):
    r = make_responder(auth="digest")
    _, csr = make_csr()
    with httpx.Client(verify=client_context(lab_ca)) as c:
        url = r.url + EST + "simpleenroll"
        hdr = {"Content-Type": "application/pkcs10"}
        ok = c.post(url, content=csr_b64(csr), headers=hdr, auth=httpx.DigestAuth("estuser", "estpwd"))
        assert ok.status_code == 200
        assert ok.history[0].headers["www-authenticate"].startswith('Digest realm="estrealm"')
        bad = c.post(url, content=csr_b64(csr), headers=hdr, auth=httpx.DigestAuth("estuser", "nope"))
        assert bad.status_code == 401
        # Basic is not accepted when the responder wants Digest
        assert c.post(url, content=csr_b64(csr), headers=hdr, auth=("estuser", "estpwd")).status_code == 401


def test_digest_rejects_forged_nonce(make_responder, lab_ca):
    import hashlib

    r = make_responder(auth="digest")
    h = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
    nonce = "1700000000.00000000000000000000000000000000"
    resp = h(f"{h('estuser:estrealm:estpwd')}:{nonce}:{h('POST:/.well-known/est/simpleenroll')}")
    auth = (f'Digest username="estuser", realm="estrealm", nonce="{nonce}", '
            f'uri="/.well-known/est/simpleenroll", response="{resp}"')
    assert _enroll(r.port, lab_ca, auth).status == 401


def test_cacerts_and_csrattrs_need_no_auth(responder, lab_ca):
    ctx = client_context(lab_ca)
    assert raw_request(responder.port, ctx, "GET", EST + "cacerts").status == 200
    assert raw_request(responder.port, ctx, "GET", EST + "csrattrs").status == 200


# ------------------------------------------------------------------ serials / state
def test_serials_count_up_and_are_recorded(responder, enroll):
    serials = [enroll(f"host{i}")[1].serial_number for i in range(3)]
    assert serials == [FIRST_SERIAL, FIRST_SERIAL + 1, FIRST_SERIAL + 2]
    issued = responder.state.issued()
    assert sorted(issued) == serials
    assert issued[FIRST_SERIAL]["subject"] == "CN=host0"
    assert "BEGIN CERTIFICATE" in responder.state.issued_pem(FIRST_SERIAL)


def test_concurrent_enrollments_get_distinct_serials(responder, lab_ca):
    csrs = [make_csr(f"c{i}")[1] for i in range(16)]
    got: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(csr):
        try:
            r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll",
                            body=csr_b64(csr), headers=enroll_headers(basic()))
            with lock:
                got.append(certs_from_reply(r.body)[0].serial_number)
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(c,)) for c in csrs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(got) == list(range(FIRST_SERIAL, FIRST_SERIAL + 16))


def test_restart_keeps_state(tmp_path, clock, lab_ca):
    cfg = dict(state_dir=tmp_path / "st", clock=clock)
    for expected in (FIRST_SERIAL, FIRST_SERIAL + 1):
        with EstResponder(ResponderConfig(**cfg)) as r:
            _, csr = make_csr()
            reply = raw_request(r.port, client_context(lab_ca), "POST", EST + "simpleenroll", body=csr_b64(csr),
                                headers=enroll_headers(basic()))
            assert certs_from_reply(reply.body)[0].serial_number == expected
    assert (tmp_path / "st" / "issued" / f"{FIRST_SERIAL + 1}.pem").exists()


def test_stop_frees_the_port(make_responder, lab_ca):
    r = make_responder()
    port = r.port
    r.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
