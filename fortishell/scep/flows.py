"""The SCEP client's flows (RFC 8894), sans-IO: GetCACert, GetCACaps, PKCSReq / RenewalReq and
CertPoll as generators yielding the events of ``events.py``.

* :func:`get_ca_cert` -- the CA (and RA) certificates, sorted by role; ``ca import auto`` and
  every enrollment start with it (the device's published trace starts there too).
* :func:`enroll` -- GetCACert, GetCACaps, then a PKCSReq signed with a transient self-signed
  certificate (or, for a renewal when the CA advertises ``Renewal``, a RenewalReq signed with the
  current certificate), enveloped to the RA/CA with the strongest cipher offered (AES, else
  3DES, else DES) and sent by POST when ``POSTPKIOperation`` is offered, else by GET.  SUCCESS
  stores the certificate; PENDING stores the pending request (``get`` shows ``state PENDING``) when
  the job allows it; FAILURE fails with the failInfo.
* :func:`poll` -- CertPoll (GetCertInitial) for a pending request.

Trust (``certs/trust.py``, the rules every protocol shares): SCEP runs over plain HTTP, so the
channel vouches for nothing.  The CA certificates of the GetCACert reply must chain to the
device's CA store (import them first with ``execute vpn certificate ca import auto``, which shows
them and asks), an RA certificate must chain to them, a CertRep must be signed by the RA or CA
of that reply, answer our transaction and echo our nonce, and the issued certificate must
certify our key and chain to the CA store.  Anything else fails with one line; nothing is stored.
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fortishell.certs import trust
from fortishell.est import certsonly
from fortishell.est.pki import PkiError, cert_pem
from fortishell.x509text import name_spaced

from . import catalogue as C
from . import message as m
from .events import CaChain, Event, FlowFailure, Outcome, Reply, Request, Response, StoreLocal, Trace, WireFailure
from .settings import ScepSettings

Flow = Generator[Event, Reply, Any]
CA_CERT, PKI, CA_RA_CERT = 1, 2, 3  # sscep's reply types (the trace's "Reply type N")
PKI_MIME = "application/x-pki-message"
FAIL_TEXT = {  # sscep's wording of the failInfo values
    m.FailInfo.BAD_ALG: "unrecognized or unsupported algorithm",
    m.FailInfo.BAD_MESSAGE_CHECK: "integrity check failed",
    m.FailInfo.BAD_REQUEST: "transaction not permitted or supported",
    m.FailInfo.BAD_TIME: "message time not close enough to the system time",
    m.FailInfo.BAD_CERT_ID: "no certificate could be identified matching the criteria",
}


@dataclass(frozen=True)
class Job:
    """One enrollment, renewal or poll.  ``key``/``csr``: the request's; ``current``: the
    certificate and key a renewal may sign a RenewalReq with; ``values``: what is stored with the
    result (the encrypted key, its password, the SCEP settings); ``allow_pending``: a PENDING
    answer stores the request (an enrollment) rather than failing (a renewal)."""

    settings: ScepSettings
    now: _dt.datetime
    store: trust.Anchors
    key: rsa.RSAPrivateKey
    csr: x509.CertificateSigningRequest
    dest_ip: str
    current: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None
    values: tuple[tuple[str, Any], ...] = ()
    allow_pending: bool = True
    poll_interval: int = 300


# ------------------------------------------------------------------ HTTP
def operation_url(url: str, operation: str, message: str | None = None) -> str:
    joined = f"{url}{'&' if '?' in url else '?'}operation={operation}"
    return joined if message is None else f"{joined}&message={quote(message, safe='')}"


def _send(s: ScepSettings, request: Request, dest_ip: str) -> Generator[Event, Reply, Response]:
    parts = urlsplit(request.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    yield Trace.of(C.SEND, ip=dest_ip, port=s.port, ssl=int(s.scheme == "https"), source_ip=s.source_ip or "0.0.0.0")
    yield Trace.of(C.REQUEST, method=request.method, target=target if len(target) <= 160 else target[:157] + "...")
    reply = yield request
    if isinstance(reply, WireFailure):
        yield Trace.of(C.SEND_FAILED, error=reply.text)
        raise FlowFailure(f"cannot reach the SCEP server: {reply.text}")
    if not isinstance(reply, Response):
        raise FlowFailure("no reply from the SCEP server")
    yield Trace.of(C.STATUS, status=reply.status)
    if reply.status != 200:
        raise FlowFailure(f"server returned status code {reply.status}")
    yield Trace.of(C.MIME, mime=reply.media_type or "(none)")
    return reply


# ------------------------------------------------------------------ GetCACert / GetCACaps
def get_ca_cert(s: ScepSettings, dest_ip: str) -> Generator[Event, Reply, CaChain]:
    yield Trace.of(C.START)
    yield Trace.of(C.HOSTNAME, host=s.host)
    yield Trace.of(C.DIRECTORY, directory=s.directory)
    yield Trace.of(C.PORT, port=s.port, scheme=s.scheme)
    yield Trace.of(C.GETCA)
    reply = yield from _send(s, Request("GET", operation_url(s.url, "GetCACert", s.ca_id or "CAIdentifier")), dest_ip)
    mime = reply.media_type
    if mime == "application/x-x509-ca-cert":
        kind, certs = CA_CERT, _single(reply.body)
    elif mime == "application/x-x509-ca-ra-cert":
        kind = CA_RA_CERT
        try:
            certs = certsonly.certificates(reply.body)
        except PkiError:
            raise FlowFailure("the GetCACert reply is not a certs-only PKCS#7") from None
    else:
        raise FlowFailure(f"unexpected MIME type '{mime or 'none'}' in the GetCACert reply (not a SCEP server?)")
    yield Trace.of(C.REPLY_TYPE, kind=kind)
    chain = sort_roles(certs)
    yield Trace.of(C.LOADED_CA)
    if chain.ra:
        yield Trace.of(C.LOADED_RA)
    return chain


def _single(body: bytes) -> list[x509.Certificate]:
    try:
        if body.lstrip().startswith(b"-----BEGIN"):
            return [x509.load_pem_x509_certificate(body)]
        return [x509.load_der_x509_certificate(body)]
    except ValueError:
        raise FlowFailure("the GetCACert reply is not a certificate") from None


def _usage(cert: x509.Certificate, attr: str) -> bool:
    """The key usage bit ``attr``; a certificate without the extension may do anything."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return bool(getattr(usage, attr))


def sort_roles(certs: list[x509.Certificate]) -> CaChain:
    """Which certificate is the CA, which the RA (RFC 8894 §4.2.1.2: the RA certificates are the
    ones that are not CA certificates; key usage tells encryption from signing)."""
    cas = [c for c in certs if trust.is_ca(c)]
    ras = [c for c in certs if not trust.is_ca(c)]
    if not cas:
        raise FlowFailure("the GetCACert reply holds no CA certificate")
    issuing = next((ca for ra in ras for ca in cas if ca.subject == ra.issuer), cas[0])
    cas = [issuing] + [c for c in cas if c is not issuing]
    encrypting = [r for r in ras if _usage(r, "key_encipherment")]
    recipient = encrypting[0] if encrypting else issuing
    if not _is_rsa(recipient):
        raise FlowFailure(f"the SCEP certificate '{name_spaced(recipient.subject)}' has no RSA key")
    # a CertRep is signed with RSA: by an RA, or by the CA itself when its key is RSA (an EC root
    # above an RSA RA signs nothing here)
    signers = [c for c in [*(r for r in ras if _usage(r, "digital_signature")), issuing] if _is_rsa(c)]
    if not signers:
        raise FlowFailure("the GetCACert reply holds no RSA certificate to check a CertRep with")
    return CaChain(tuple(certs), tuple(cas), recipient, tuple(signers), bool(ras))


def _is_rsa(cert: x509.Certificate) -> bool:
    return isinstance(cert.public_key(), rsa.RSAPublicKey)


def get_ca_caps(s: ScepSettings, dest_ip: str) -> Generator[Event, Reply, frozenset[str]]:
    """The capabilities (upper case).  A server that does not answer GetCACaps offers none
    (RFC 8894 §3.5.2): single DES, SHA-1 and GET."""
    yield Trace.of(C.GETCAPS)
    try:
        reply = yield from _send(s, Request("GET", operation_url(s.url, "GetCACaps", s.ca_id or "CAIdentifier")),
                                 dest_ip)
    except FlowFailure:
        return frozenset()
    caps = frozenset(word.upper() for word in reply.body.decode("ascii", "replace").split())
    yield Trace.of(C.CAPS, caps=" ".join(sorted(caps)) or "(none)")
    return caps


def trust_chain(chain: CaChain, store: trust.Anchors, at: _dt.datetime, url: str) -> None:
    """The GetCACert reply's CA certificates must chain to the CA store, its RA certificates to them."""
    try:
        trust.accept_ca_reply(chain.cas, trust.ReplyPolicy(store, at=at))
    except trust.Untrusted as exc:
        subject = name_spaced(exc.cert.subject) if exc.cert is not None else "?"
        raise FlowFailure(f"CA certificate '{subject}' is not trusted: {exc.reason} "
                          f"(import it first: execute vpn certificate ca import auto {url})") from None
    for ra in (c for c in chain.certs if not trust.is_ca(c)):
        try:
            trust.verify_chain(ra, store, at=at, untrusted=chain.cas)
        except trust.Untrusted as exc:
            raise FlowFailure(f"RA certificate '{name_spaced(ra.subject)}' does not chain to the CA: "
                              f"{exc.reason}") from None


# ------------------------------------------------------------------ PKIOperation
def _cipher(caps: frozenset[str]) -> m.Cipher:
    return m.Cipher.AES128 if "AES" in caps else m.Cipher.DES3 if "DES3" in caps else m.Cipher.DES


def _digest(caps: frozenset[str]) -> hashes.HashAlgorithm:
    if "SHA-256" in caps:
        return hashes.SHA256()
    return hashes.SHA512() if "SHA-512" in caps else hashes.SHA1()


def pki_operation(job: Job, chain: CaChain, caps: frozenset[str], kind: m.MessageType, payload: bytes,
                  signer: tuple[x509.Certificate, rsa.RSAPrivateKey], tid: str) -> Generator[Event, Reply, m.PkiMessage]:
    """Wrap, send and unwrap one pkiMessage; returns the verified CertRep answering it."""
    s = job.settings
    nonce = m.new_nonce()
    yield Trace.of(C.INNER)
    try:
        built = m.build(kind, tid, nonce, payload, signer_cert=signer[0], signer_key=signer[1],
                        recipient=chain.recipient, cipher=_cipher(caps), digest=_digest(caps))
    except m.ScepMessageError as exc:
        raise FlowFailure(str(exc)) from None
    yield Trace.of(C.PAYLOAD, size=built.payload_size)
    yield Trace.of(C.ENVELOPE, size=built.envelope_size)
    yield Trace.of(C.ATTR_STRING, attr="transId")
    yield Trace.of(C.ATTR_STRING, attr="messageType")
    yield Trace.of(C.ATTR_OCTET, attr="senderNonce")
    yield Trace.of(C.WRITTEN)
    post = "POSTPKIOPERATION" in caps
    yield Trace.of(C.SEND_PKI, kind=kind.name, method="POST" if post else "GET", size=len(built.der))
    if post:
        request = Request("POST", operation_url(s.url, "PKIOperation"), built.der, PKI_MIME)
    else:
        request = Request("GET", operation_url(s.url, "PKIOperation", base64.b64encode(built.der).decode()))
    reply = yield from _send(s, request, job.dest_ip)
    yield Trace.of(C.UNWRAP, size=len(reply.body))
    try:
        answer = m.parse_with(reply.body, chain.signers)
    except m.ScepMessageError as exc:
        detail = f" (MIME type {reply.media_type})" if reply.media_type != PKI_MIME else ""
        raise FlowFailure(f"bad CertRep: {exc}{detail}") from None
    yield Trace.of(C.SIGNER, subject=name_spaced(answer.signer.subject))
    if answer.message_type != m.MessageType.CERT_REP:
        raise FlowFailure(f"bad CertRep: message type {int(answer.message_type)}, not CertRep")
    if answer.transaction_id != tid:
        raise FlowFailure(f"bad CertRep: it answers transaction {answer.transaction_id}, not {tid}")
    if answer.recipient_nonce != nonce:
        raise FlowFailure("bad CertRep: its recipientNonce is not our senderNonce")
    status = answer.status.name if answer.status is not None else "?"
    yield Trace.of(C.PKI_STATUS, status=status)
    if answer.status == m.PkiStatus.FAILURE:
        info = answer.fail_info
        name = m.FAIL_INFO_NAMES.get(info, "unknown") if info is not None else "none"
        text = FAIL_TEXT.get(info, "no reason given") if info is not None else "no reason given"
        yield Trace.of(C.FAIL_INFO, name=name, text=text)
        raise FlowFailure(f"request failed, failInfo {name} ({text})", refused=True)
    return answer


def _issued(job: Job, chain: CaChain, answer: m.PkiMessage,
            signer: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> Generator[Event, Reply, x509.Certificate]:
    """The certificate of a SUCCESS CertRep: decrypted, for our key, chaining to the CA store."""
    if answer.enveloped is None:
        raise FlowFailure("bad CertRep: SUCCESS without a certificate")
    try:
        inner = m.decrypt(answer.enveloped, signer[0], signer[1])
        certs = certsonly.certificates(inner)
    except (m.ScepMessageError, PkiError) as exc:
        raise FlowFailure(f"bad CertRep: {exc}") from None
    yield Trace.of(C.DECRYPTED, size=len(inner))
    ours = job.key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    mine = [c for c in certs if c.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == ours]
    if not mine:
        raise FlowFailure("bad CertRep: no certificate in it is for our key")
    cert = mine[0]
    try:
        trust.verify_chain(cert, job.store, at=job.now, untrusted=chain.cas, issued_now=True)
    except trust.Untrusted as exc:
        raise FlowFailure(f"the issued certificate does not chain to a trusted CA: {exc.reason}") from None
    yield Trace.of(C.RECEIVED, subject=name_spaced(cert.subject), serial=f"{cert.serial_number:X}")
    return cert


def _finish(job: Job, chain: CaChain, answer: m.PkiMessage, signer: tuple[x509.Certificate, rsa.RSAPrivateKey],
            tid: str) -> Flow:
    s = job.settings
    if answer.status == m.PkiStatus.PENDING:
        if not job.allow_pending:
            raise FlowFailure("the CA answered PENDING (waiting for manual approval)")
        yield Trace.of(C.PENDING, seconds=job.poll_interval)
        yield StoreLocal(s.name, job.values + (("csr", _csr_pem(job.csr)),))
        return Outcome(None, True, tid)
    cert = yield from _issued(job, chain, answer, signer)
    yield StoreLocal(s.name, job.values + (("certificate", cert_pem(cert)), ("csr", ""), ("state", "OK")))
    yield Trace.of(C.SAVED, name=s.name)
    return Outcome(cert, False, tid)


def _csr_pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _prepare(job: Job) -> Generator[Event, Reply, tuple[CaChain, frozenset[str], str]]:
    """What every PKIOperation starts with: the CA (and RA) certificates, judged by the trust
    rules, the capabilities, and the transaction id of the request's key."""
    chain = yield from get_ca_cert(job.settings, job.dest_ip)
    caps = yield from get_ca_caps(job.settings, job.dest_ip)
    trust_chain(chain, job.store, job.now, job.settings.url)
    return chain, caps, m.transaction_id_for(job.key.public_key())


def enroll(job: Job) -> Flow:
    """GetCACert, GetCACaps, PKCSReq (or RenewalReq), and the outcome (module doc)."""
    chain, caps, tid = yield from _prepare(job)
    yield Trace.of(C.TRANSACTION, tid=tid)
    if job.current is not None and "RENEWAL" in caps:
        kind, signer = m.MessageType.RENEWAL_REQ, job.current
    else:
        kind, signer = m.MessageType.PKCS_REQ, (m.self_signed(job.key, job.csr.subject, job.now), job.key)
    payload = job.csr.public_bytes(serialization.Encoding.DER)
    answer = yield from pki_operation(job, chain, caps, kind, payload, signer, tid)
    return (yield from _finish(job, chain, answer, signer, tid))


def poll(job: Job) -> Flow:
    """CertPoll for the pending request of ``job.key`` / ``job.csr``: the certificate (stored),
    still pending (nothing stored), or the CA's refusal (FlowFailure)."""
    chain, caps, tid = yield from _prepare(job)
    yield Trace.of(C.POLL, tid=tid)
    signer = (m.self_signed(job.key, job.csr.subject, job.now), job.key)
    payload = m.issuer_and_subject(chain.cas[0].subject, job.csr.subject)
    answer = yield from pki_operation(job, chain, caps, m.MessageType.CERT_POLL, payload, signer, tid)
    if answer.status == m.PkiStatus.PENDING:
        return Outcome(None, True, tid)
    return (yield from _finish(job, chain, answer, signer, tid))
