"""TLS hygiene of the EST client against the lab responder (real TLS on 127.0.0.1).

One connection per command, ended with close_notify; quick ACKs; the server's
name and certificate checked; the received CA certificates checked; the CSR
signed with the hash csrattrs asks for; a Digest nonce that expires mid-command
recovered from.
"""

from __future__ import annotations

import base64
import socket
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from fortishell import errors
from fortishell.est import sockets, transport
from fortishell.est.cancel import CancelToken
from fortishell.est.args import CA, LOCAL
from fortishell.lab.ca import LabCA
from fortishell.lab.estapp import decode_b64_body

SSL_CTX = "__curl_ssl_ctx_finalizer"


def settle(responder, limit: float = 5.0) -> None:
    """Wait until the responder has finished with every connection (closed on both sides)."""
    end = time.monotonic() + limit
    while responder.open_connections and time.monotonic() < end:
        time.sleep(0.01)
    assert responder.open_connections == 0


def generate(rig, name: str = "hyg", url: str | None = None, user: str = "estuser", pwd: str = "estpwd") -> list[str]:
    return rig.generate(name, "ec-secp256r1", url or rig.url, f"CN={name}", "", user, pwd)


# ------------------------------------------------------------------ connections
@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_one_connection_per_command_ended_with_close_notify(make_rig, auth):
    rig = make_rig(auth=auth)
    assert generate(rig) == ["Done."]
    settle(rig.responder)
    assert rig.responder.accepted == 1  # cacerts, csrattrs, simpleenroll (and the 401) on one connection
    assert rig.responder.ragged_eofs == 0  # the client said close_notify
    assert [line for line in rig.lines if SSL_CTX in line] == [
        "[143] __curl_ssl_ctx_finalizer: global CAs are loaded.",
        "[165] __curl_ssl_ctx_finalizer: SSL_CTX ex data is set.",
    ]
    # as in the guide: right after the first request line, before the second request's URL
    urls = [i for i, line in enumerate(rig.lines) if line.startswith("[1728] est_curl_req: URL: ")]
    ctx_at = rig.lines.index("[143] __curl_ssl_ctx_finalizer: global CAs are loaded.")
    assert len(urls) == 3 and urls[0] < ctx_at < urls[1]
    assert rig.lines[ctx_at - 1] == "[1776] est_curl_req: HTTP GET"


def test_regenerate_uses_one_connection(rig):
    assert generate(rig) == ["Done."]
    settle(rig.responder)
    before = rig.responder.accepted
    assert rig.engine.regenerate("hyg") == ["Done."]
    settle(rig.responder)
    assert rig.responder.accepted == before + 1
    assert rig.responder.ragged_eofs == 0


def test_srp_connection_ended_with_close_notify(make_rig):
    rig = make_rig(trust=False)
    assert rig.generate("s", "ec-secp256r1", rig.url, "CN=s", "", "", "", "", "", "", "", "",
                        "srpuser", "srppwd") == ["Done."]
    settle(rig.responder)
    assert rig.responder.accepted == 1 and rig.responder.ragged_eofs == 0


def test_quickack_is_rearmed_before_every_read():
    """Linux clears quick-ACK mode by itself; the transport's stream sets it again before each read."""
    if sockets.QUICKACK is None:
        pytest.skip("TCP_QUICKACK is Linux only")
    listener = socket.create_server(("127.0.0.1", 0))
    peer: list[socket.socket] = []
    accept = threading.Thread(target=lambda: peer.append(listener.accept()[0]))
    accept.start()
    port = listener.getsockname()[1]
    backend = transport.Backend(transport.TransportConfig("127.0.0.1", port), CancelToken())
    stream = backend.connect_tcp("127.0.0.1", port, timeout=5)
    accept.join(5)
    sock = stream.get_extra_info("socket")
    try:
        for n in range(3):
            peer[0].sendall(b"x")
            sock.setsockopt(socket.IPPROTO_TCP, sockets.QUICKACK, 0)
            assert sock.getsockopt(socket.IPPROTO_TCP, sockets.QUICKACK) == 0
            assert stream.read(1, timeout=5) == b"x"
            assert sock.getsockopt(socket.IPPROTO_TCP, sockets.QUICKACK) == 1, n
    finally:
        stream.close()
        peer[0].close()
        listener.close()


# ------------------------------------------------------------------ who the server is
class AliasMap:
    """The lab host map with one more name for the responder (its certificate does not list it)."""

    def __init__(self, addr: tuple[str, int], names: set[str]) -> None:
        self.addr, self.names = addr, names

    def resolve(self, host: str, port: int) -> tuple[str, int] | None:
        return self.addr if host in self.names else None


def test_server_name_mismatch_is_refused(rig):
    rig.engine.network = AliasMap((rig.responder.host, rig.responder.port), {"testrfc7030.com", "est.example.net"})
    before = rig.cmdb.snapshot()
    with pytest.raises(errors.EstError) as info:
        generate(rig, url=f"https://est.example.net:{rig.responder.port}")
    assert info.value.lines[0].endswith(
        "SSL: no alternative certificate subject name matches target host name 'est.example.net'")
    assert rig.responder.accepted == 1  # it did reach the responder on loopback: the name was checked
    assert rig.cmdb.snapshot() == before
    assert generate(rig) == ["Done."]  # the same responder under the name its certificate carries


def test_untrusted_server_certificate_is_refused(make_rig):
    rig = make_rig(ca=LabCA.new())  # the responder's chain ends in a root the client does not trust
    before = rig.cmdb.snapshot()
    with pytest.raises(errors.EstError) as info:
        generate(rig)
    assert "SSL certificate problem: self-signed certificate in certificate chain" in info.value.lines[0]
    assert rig.cmdb.snapshot() == before
    assert rig.responder.state.issued() == {}


# ------------------------------------------------------------------ what the server sends
@pytest.mark.parametrize("knob, reason", [
    ("cacerts_not_ca", "not a CA certificate"),
    ("cacerts_unchained", "unable to get local issuer certificate"),
])
def test_received_ca_certificates_are_verified(rig, knob, reason):
    rig.responder.faults.set(**{knob: True})
    before = rig.cmdb.snapshot()
    with pytest.raises(errors.EstError) as info:
        generate(rig)
    assert info.value.lines[0].endswith(reason), info.value.lines
    assert any(line.startswith("[1296] save_pkcs7_certs: Failed to verify CA cert") and line.endswith(reason)
               for line in rig.lines)
    assert rig.cmdb.snapshot() == before
    assert rig.cmdb.keys(CA) == ["G_CA_Cert_1"]
    assert rig.responder.state.issued() == {}  # refused before anything was enrolled


def _csrattrs(*oids: str) -> str:
    from pyasn1.codec.der import encoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc7030

    attrs = rfc7030.CsrAttrs()
    for oid in oids:
        item = rfc7030.AttrOrOID()
        item["oid"] = univ.ObjectIdentifier(oid)
        attrs.append(item)
    return base64.b64encode(encoder.encode(attrs)).decode()


@pytest.mark.parametrize("csrattrs, expected", [
    (None, hashes.SHA384),  # the guide's csrattrs: ..., sha384
    (_csrattrs("2.16.840.1.101.3.4.2.3"), hashes.SHA512),
    (_csrattrs("2.16.840.1.101.3.4.2.1"), hashes.SHA256),
    (_csrattrs("1.2.840.113549.1.9.1"), hashes.SHA256),  # no hash asked: P-256's own
])
def test_csr_is_signed_with_the_hash_csrattrs_asks_for(make_rig, csrattrs, expected):
    rig = make_rig(**({"csrattrs_b64": csrattrs} if csrattrs else {}))
    seen: list[x509.CertificateSigningRequest] = []
    app = rig.responder.app
    handle = app.handle

    def spy(req):
        if req.target.endswith("/simpleenroll"):
            seen.append(x509.load_der_x509_csr(decode_b64_body(req.body)))
        return handle(req)

    app.handle = spy  # observe what reaches the responder; it still answers
    assert generate(rig) == ["Done."]
    (csr,) = seen
    assert isinstance(csr.signature_hash_algorithm, expected)
    assert csr.is_signature_valid


def test_digest_nonce_expiring_mid_command_is_recovered(make_rig):
    """202 + Retry-After, and the nonce expires during the wait: the retried POST gets
    401 with stale=true; the client answers the new challenge without failing."""
    rig = make_rig(auth="digest", digest_nonce_lifetime=60.0)
    now = [1_700_000_000.0]
    rig.responder.app.nonce_time = lambda: now[0]
    rig.responder.faults.set(retry_after=(1, 1))

    def sleep(seconds: float) -> None:
        rig.sleeps.append(seconds)
        now[0] += 61  # the wait outlives the nonce

    rig.engine.sleep = sleep
    assert generate(rig) == ["Done."]
    assert rig.sleeps == [1.0]
    challenges = [line for line in rig.lines if "WWW-Authenticate: Digest" in line]
    assert len(challenges) == 2, challenges
    assert "stale=true" not in challenges[0] and challenges[1].endswith(", stale=true")
    assert rig.cmdb.entry(LOCAL, "hyg") is not None
