"""The SCEP flows against a scripted peer (sans-IO, h11-style): the happy paths and every hostile or
broken reply the issue names -- a non-SCEP URL, an HTML error page, a CertRep signed by someone
else, a reply for another transaction, a wrong nonce, a truncated envelope -- each one failure
line and nothing stored."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from fortishell.certs import trust
from fortishell.est.cancel import CancelToken, drive
from fortishell.est.pki import build_csr
from fortishell.scep import flows
from fortishell.scep import message as m
from fortishell.scep.events import FlowFailure, Outcome, Request, Response, StoreLocal, Stored, Trace
from fortishell.scep.settings import ScepSettings

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)
URL = "http://scep.example/scep"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str, key: rsa.RSAPrivateKey) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=900))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


@dataclass
class Keys:
    ca_key: rsa.RSAPrivateKey
    ca: x509.Certificate
    rogue_key: rsa.RSAPrivateKey
    rogue: x509.Certificate
    client_key: rsa.RSAPrivateKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    ca_key, rogue_key = rsa.generate_private_key(65537, 2048), rsa.generate_private_key(65537, 2048)
    return Keys(ca_key, _ca("Test SCEP CA", ca_key), rogue_key, _ca("Rogue CA", rogue_key),
                rsa.generate_private_key(65537, 2048))


@dataclass
class Peer:
    """A scripted SCEP server; ``mutate`` changes what its PKIOperation answers."""

    keys: Keys
    mode: str = "success"
    caps: str = "POSTPKIOperation\nSHA-256\nAES\nRenewal"
    seen: list[Request] = field(default_factory=list)

    def __call__(self, req: Request) -> Response:
        self.seen.append(req)
        query = parse_qs(urlsplit(req.url).query)
        op = query.get("operation", [""])[0]
        if self.mode == "html":
            return Response(200, (("Content-Type", "text/html"),), b"<html><body>It works!</body></html>")
        if op == "GetCACert":
            return Response(200, (("Content-Type", "application/x-x509-ca-cert"),),
                            self.keys.ca.public_bytes(serialization.Encoding.DER))
        if op == "GetCACaps":
            return Response(200, (("Content-Type", "text/plain"),), self.caps.encode())
        body = req.body if req.body is not None else base64.b64decode(query["message"][0])
        return Response(200, (("Content-Type", "application/x-pki-message"),), self._answer(body))

    def _answer(self, der: bytes) -> bytes:
        k = self.keys
        msg = m.parse(der)
        payload = m.decrypt(msg.enveloped or b"", k.ca, k.ca_key)
        tid = "0" * 32 if self.mode == "other-transaction" else msg.transaction_id
        nonce = m.new_nonce() if self.mode == "wrong-nonce" else msg.sender_nonce
        signer, signer_key = (k.rogue, k.rogue_key) if self.mode == "rogue-signer" else (k.ca, k.ca_key)
        if self.mode in ("pending", "failure", "success-without-certificate", "not-certrep"):
            status = {"pending": m.PkiStatus.PENDING, "failure": m.PkiStatus.FAILURE}.get(self.mode, m.PkiStatus.SUCCESS)
            kind = m.MessageType.PKCS_REQ if self.mode == "not-certrep" else m.MessageType.CERT_REP
            return m.build(kind, tid, m.new_nonce(), None, signer_cert=signer, signer_key=signer_key,
                           recipient=None, recipient_nonce=nonce, status=status,
                           fail_info=m.FailInfo.BAD_TIME if self.mode == "failure" else None).der
        csr = x509.load_der_x509_csr(payload)
        issuer_key, issuer = (k.rogue_key, k.rogue) if self.mode == "untrusted-issuer" else (k.ca_key, k.ca)
        public = rsa.generate_private_key(65537, 1024).public_key() if self.mode == "other-key" else csr.public_key()
        cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(issuer.subject).public_key(public)
                .serial_number(7).not_valid_before(NOW).not_valid_after(NOW + dt.timedelta(days=365))
                .sign(issuer_key, hashes.SHA256()))
        built = m.build(m.MessageType.CERT_REP, tid, m.new_nonce(), m.certs_only([cert]), signer_cert=signer,
                        signer_key=signer_key, recipient=msg.signer, recipient_nonce=nonce,
                        status=m.PkiStatus.SUCCESS).der
        if self.mode == "truncated-envelope":  # signed as it is: only the envelope is wrong
            envelope = m.parse_with(built, [k.ca]).enveloped or b""
            return m.build(m.MessageType.CERT_REP, tid, m.new_nonce(), None, signer_cert=signer,
                           signer_key=signer_key, recipient=None, recipient_nonce=nonce,
                           status=m.PkiStatus.SUCCESS, enveloped=envelope[:len(envelope) // 2]).der
        return built


@dataclass
class Run:
    traces: list[str]
    stored: list[StoreLocal]


def _run(keys: Keys, peer: Callable[[Request], Response], *, trusted: bool = True,
         current: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
         run: Run | None = None, allow_pending: bool = True) -> tuple[Outcome, Run]:
    csr = build_csr(keys.client_key, _name("dev1.lab"), challenge_password="pw")
    job = flows.Job(ScepSettings("dev1", URL, "pw"), NOW, trust.Anchors.store([keys.ca] if trusted else []),
                    keys.client_key, csr, "192.0.2.88", current=current, allow_pending=allow_pending)
    run = run if run is not None else Run([], [])

    def perform(event: object) -> object:
        if isinstance(event, Trace):
            run.traces.append(event.point.render(dict(event.values)) if event.point else event.text)
        elif isinstance(event, Request):
            return peer(event)
        elif isinstance(event, StoreLocal):
            run.stored.append(event)
            return Stored((event.name,))
        return None

    outcome = drive(flows.enroll(job), perform, CancelToken(), thrown=())
    return outcome, run


def test_success_stores_the_certificate_once(keys: Keys) -> None:
    peer = Peer(keys)
    outcome, run = _run(keys, peer)
    assert outcome.certificate is not None and not outcome.pending
    assert len(run.stored) == 1 and dict(run.stored[0].values)["state"] == "OK"
    assert [r.method for r in peer.seen] == ["GET", "GET", "POST"]  # GetCACert, GetCACaps, PKIOperation
    assert "pkcs7_unwrap: pkistatus: SUCCESS" in run.traces


def test_get_is_used_when_the_ca_does_not_offer_post_and_3des_without_aes(keys: Keys) -> None:
    peer = Peer(keys, caps="SHA-256\nDES3")
    outcome, _ = _run(keys, peer)
    assert outcome.certificate is not None
    assert peer.seen[-1].method == "GET" and "operation=PKIOperation&message=" in peer.seen[-1].url


def test_pending_stores_the_request_for_polling(keys: Keys) -> None:
    outcome, run = _run(keys, Peer(keys, mode="pending"))
    assert outcome.pending and outcome.certificate is None
    values = dict(run.stored[0].values)
    assert values["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----") and "certificate" not in values


def test_a_renewal_answered_pending_fails_and_stores_nothing(keys: Keys) -> None:
    run = Run([], [])
    with pytest.raises(FlowFailure, match=r"^the CA answered PENDING \(waiting for manual approval\)$"):
        _run(keys, Peer(keys, mode="pending"), allow_pending=False, run=run)
    assert run.stored == []


def test_renewal_signs_a_renewal_request_with_the_current_certificate(keys: Keys) -> None:
    first, _ = _run(keys, Peer(keys))
    assert first.certificate is not None
    peer = Peer(keys)
    _, run = _run(keys, peer, current=(first.certificate, keys.client_key))
    assert any("sending RENEWAL_REQ (POST)" in line for line in run.traces)
    assert m.parse(peer.seen[-1].body or b"").signer == first.certificate


@pytest.mark.parametrize(("mode", "reason"), [
    ("html", "unexpected MIME type 'text/html' in the GetCACert reply (not a SCEP server?)"),
    ("rogue-signer", "bad CertRep: the message is signed by an unexpected certificate"),
    ("other-transaction", "bad CertRep: it answers transaction 00000000000000000000000000000000, not "),
    ("wrong-nonce", "bad CertRep: its recipientNonce is not our senderNonce"),
    ("truncated-envelope", "bad CertRep: the envelope"),
    ("failure", "request failed, failInfo badTime (message time not close enough to the system time)"),
    ("other-key", "bad CertRep: no certificate in it is for our key"),
    ("success-without-certificate", "bad CertRep: SUCCESS without a certificate"),
    ("not-certrep", "bad CertRep: message type 19, not CertRep"),
    ("untrusted-issuer", "the issued certificate does not chain to a trusted CA: "),
])
def test_bad_replies_fail_with_one_reason_and_store_nothing(keys: Keys, mode: str, reason: str) -> None:
    run = Run([], [])
    with pytest.raises(FlowFailure) as failure:
        _run(keys, Peer(keys, mode=mode), run=run)
    assert failure.value.reason.startswith(reason), failure.value.reason
    assert failure.value.refused == (mode == "failure")
    assert run.stored == [] and run.traces  # it failed after tracing its work, before storing anything


def test_an_untrusted_ca_is_refused_before_any_request_is_sent(keys: Keys) -> None:
    peer = Peer(keys)
    with pytest.raises(FlowFailure, match="is not trusted: self-signed certificate"):
        _run(keys, peer, trusted=False)
    assert [r.method for r in peer.seen] == ["GET", "GET"]  # GetCACert, GetCACaps; no PKIOperation


def test_renewal_without_the_renewal_capability_sends_a_new_pkcsreq(keys: Keys) -> None:
    first, _ = _run(keys, Peer(keys))
    assert first.certificate is not None
    peer = Peer(keys, caps="POSTPKIOperation\nSHA-256\nAES")
    _, run = _run(keys, peer, current=(first.certificate, keys.client_key))
    assert any("sending PKCS_REQ (POST)" in line for line in run.traces)
    request = m.parse(peer.seen[-1].body or b"")
    assert request.message_type == m.MessageType.PKCS_REQ and request.signer != first.certificate
    assert request.signer.issuer == request.signer.subject  # the transient self-signed certificate


def test_sort_roles_needs_a_ca_and_rsa_to_envelope_to_and_to_check_with(keys: Keys) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_ca = (x509.CertificateBuilder().subject_name(_name("EC root")).issuer_name(_name("EC root"))
             .public_key(ec_key.public_key()).serial_number(2).not_valid_before(NOW)
             .not_valid_after(NOW + dt.timedelta(days=9))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .sign(ec_key, hashes.SHA256()))

    def ra(sign: bool) -> x509.Certificate:  # an RSA RA under the EC root, encrypting, signing when asked
        return (x509.CertificateBuilder().subject_name(_name("RA")).issuer_name(ec_ca.subject)
                .public_key(keys.rogue_key.public_key()).serial_number(3).not_valid_before(NOW)
                .not_valid_after(NOW + dt.timedelta(days=9))
                .add_extension(x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=True,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .sign(ec_key, hashes.SHA256()))

    with pytest.raises(FlowFailure, match="holds no CA certificate"):
        flows.sort_roles([ra(True)])
    with pytest.raises(FlowFailure, match="the SCEP certificate 'CN = EC root' has no RSA key"):
        flows.sort_roles([ec_ca])
    with pytest.raises(FlowFailure, match="holds no RSA certificate to check a CertRep with"):
        flows.sort_roles([ec_ca, ra(False)])
    chain = flows.sort_roles([ra(True), ec_ca])
    assert chain.cas == (ec_ca,) and chain.recipient == chain.signers[0] and chain.signers[0].subject == _name("RA")


def test_an_ra_that_does_not_chain_to_the_trusted_ca_is_refused(keys: Keys) -> None:
    forged_ra = (x509.CertificateBuilder().subject_name(_name("RA")).issuer_name(keys.ca.subject)
                 .public_key(keys.client_key.public_key()).serial_number(4).not_valid_before(NOW)
                 .not_valid_after(NOW + dt.timedelta(days=9)).sign(keys.rogue_key, hashes.SHA256()))
    chain = flows.sort_roles([keys.ca, forged_ra])
    assert chain.recipient == forged_ra  # it would be the one the request is enveloped to
    with pytest.raises(FlowFailure, match="RA certificate 'CN = RA' does not chain to the CA: "):
        flows.trust_chain(chain, trust.Anchors.store([keys.ca]), NOW, URL)
    flows.trust_chain(flows.sort_roles([keys.ca]), trust.Anchors.store([keys.ca]), NOW, URL)  # the CA alone: fine
