"""The lab SCEP (RFC 8894) responder's logic: one HTTP request in, one reply out.

No sockets (the server, :mod:`.scepserver`, hands in a :class:`ScepRequest` and
writes the :class:`ScepReply`); faults are data (:class:`ScepFaults`).  Paths:
``/scep`` and the NDES path ``/certsrv/mscep/mscep.dll`` (both with or without a
trailing slash), and ``/approval/scep`` (the same, every PKCSReq held for approval);
anything else is 404.  Operations (``operation=``, matched
without regard to case, a choice: clients spell them as the RFC does):

* ``GetCACaps``: :data:`CAPS`, ``text/plain``;
* ``GetCACert``: the CA+RA certs-only PKCS#7 ``application/x-x509-ca-ra-cert``, or
  the single CA's DER ``application/x-x509-ca-cert`` (:mod:`.scepca`); a ``message``
  (CA identifier) is accepted and ignored, the lab has one CA;
* ``PKIOperation``: ``GET ?message=<base64>`` or ``POST`` of the DER
  (``application/x-pki-message``); the reply is a CertRep ``application/x-pki-message``.
  A ``+`` of the base64 that arrives as a space (a client that did not
  percent-encode it) is read as ``+``.

A PKIOperation that does not parse or whose signature does not verify (an EC signer
included: SCEP signs and envelopes with RSA) has no transaction to answer in: 400 with
the reason in one line.  Otherwise a CertRep,
signed by the RA (or single CA), ``recipientNonce`` = the request's
``senderNonce``, and for SUCCESS the issued certificate (certs-only) enveloped to
the request's signer certificate with AES-128-CBC (the strongest cipher
:data:`CAPS` offers).  Decisions, in order:

* the fault knobs: every PKIOperation fails with that failInfo;
* messageType other than PKCSReq, RenewalReq, CertPoll (GetCert, GetCRL): badRequest
  (the lab keeps no certificate store to answer from);
* an envelope that is missing or does not decrypt with our key: badMessageCheck;
  content that is no CSR, or a CSR the lab CA refuses (no CN, bad signature): badRequest;
* PKCSReq: the CSR's challengePassword must equal the responder's (``--scep-challenge``,
  default :data:`DEFAULT_CHALLENGE`), else badRequest;
* RenewalReq: signed by a certificate this lab issued (the issuing CA's signature on it),
  valid on the lab clock and not revoked (``lab-ca revoke``), else badRequest; no challenge;
* manual-approval mode (``--scep-manual``, or any request to ``/approval/scep``): a PKCSReq (whose CSR the lab would issue) is kept in the pending store (:mod:`.scepstore`) and
  answered PENDING until ``lab-ca approve`` / ``reject``; sending it again is a poll.
  A RenewalReq is issued at once (its signature already authenticates the requester);
* CertPoll (messageType 20, payload IssuerAndSubject) is answered from the pending store by
  transaction id: PENDING, SUCCESS once approved (issued once, the same certificate on
  every later poll), FAILURE badRequest once rejected; a poll signed by another key than
  the request's: badMessageCheck; an unknown transaction: badCertId.

Issued certificates take the lab serial counter and index (``LabState``), on the lab
clock, as EST enrollments do.  Each reply says what the access log shows: ``op``
(``scep-GetCACaps``, ``scep-PKCSReq:<transaction id>``, ...), ``outcome`` (the HTTP
status, or the CertRep's ``SUCCESS`` / ``PENDING`` / ``FAILURE(badRequest)``) and the
serial issued.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ..scep.message import (
    FAIL_INFO_NAMES, Cipher, FailInfo, MessageType, PkiMessage, PkiStatus, ScepMessageError, build, certs_only,
    challenge_password, decrypt, new_nonce, parse,
)
from .ca import CsrRejected, LabCA, leaf_builder
from .scepca import ScepIdentity, identity, sign_leaf
from .scepstore import PendingRequest, PendingStore
from .state import LabState

PATHS = ("/scep", "/certsrv/mscep/mscep.dll")
# a path of the embedded lab (no lab-server flags there) whose requests wait for approval, as with
# --scep-manual: the trainer's exercise "a PENDING request approved" (lab-ca approve --all)
APPROVAL_PATHS = ("/approval/scep",)
CAPS = ("POSTPKIOperation", "SHA-256", "AES", "DES3", "Renewal", "SCEPStandard")
CT_CAPS = "text/plain"
CT_PKI = "application/x-pki-message"
DEFAULT_CHALLENGE = "fortinet-lab"
MAX_BODY = 65536
_TYPE_NAMES = {MessageType.PKCS_REQ: "PKCSReq", MessageType.RENEWAL_REQ: "RenewalReq",
               MessageType.CERT_POLL: "CertPoll", MessageType.GET_CERT: "GetCert",
               MessageType.GET_CRL: "GetCRL", MessageType.CERT_REP: "CertRep"}


@dataclass(frozen=True)
class ScepFaults:
    """The responder's knobs (``lab-server --scep-*``): a failInfo for every PKIOperation, and
    manual approval (PENDING until ``lab-ca approve``)."""

    bad_request: bool = False
    bad_message_check: bool = False
    bad_time: bool = False
    manual: bool = False

    def forced(self) -> FailInfo | None:
        if self.bad_message_check:
            return FailInfo.BAD_MESSAGE_CHECK
        if self.bad_time:
            return FailInfo.BAD_TIME
        if self.bad_request:
            return FailInfo.BAD_REQUEST
        return None

    def describe(self) -> str:
        knobs = [name.replace("_", "-") for name, on in vars(self).items() if on]
        return ", ".join(knobs) or "none"


@dataclass(frozen=True)
class ScepRequest:
    method: str
    target: str  # path and query, as sent
    body: bytes = b""


@dataclass(frozen=True)
class ScepReply:
    status: int
    content_type: str
    body: bytes
    op: str  # what the access log shows (module note)
    outcome: str
    serial: int | None = None


def _text(status: int, text: str, op: str) -> ScepReply:
    return ScepReply(status, "text/plain", (text + "\n").encode(), op, str(status))


class _Refused(Exception):
    """A CertRep FAILURE to send (internal to :class:`ScepApp`)."""

    def __init__(self, info: FailInfo) -> None:
        super().__init__(info.name)
        self.info = info


class ScepApp:
    """The responder (module note).  ``lab_dir``: the lab state directory (RA keys, pending
    store) or None (in memory); ``now``: the lab clock."""

    def __init__(self, ca: LabCA, state: LabState, lab_dir: Path | None, *,
                 now: Callable[[], dt.datetime], challenge: str = DEFAULT_CHALLENGE,
                 faults: ScepFaults = ScepFaults(), single_ca: bool = False) -> None:
        self.ca, self.state, self.now = ca, state, now
        self.challenge = challenge
        self.faults = faults  # replaced whole (frozen) to change a knob
        self.identity: ScepIdentity = identity(ca, lab_dir, single_ca=single_ca)
        self.pending = PendingStore(lab_dir)

    # ------------------------------------------------------------ HTTP
    def handle(self, req: ScepRequest) -> ScepReply:
        parts = urlsplit(req.target)
        path = parts.path.rstrip("/")
        if path not in PATHS and path not in APPROVAL_PATHS:
            return _text(404, "Not Found", parts.path or "/")
        query = parse_qs(parts.query, keep_blank_values=True)
        operation = (query.get("operation") or [""])[-1]
        op = operation.lower()
        if op == "getcacaps" and req.method == "GET":
            return ScepReply(200, CT_CAPS, "\n".join(CAPS).encode(), "scep-GetCACaps", "200")
        if op == "getcacert" and req.method == "GET":
            ident = self.identity
            body = (ident.cert.public_bytes(serialization.Encoding.DER) if ident.single_ca
                    else certs_only(ident.chain))
            return ScepReply(200, ident.content_type, body, "scep-GetCACert", "200")
        if op == "pkioperation" and req.method in ("GET", "POST"):
            if req.method == "POST":
                der = req.body
            else:
                try:
                    der = _b64_message((query.get("message") or [""])[-1])
                except ValueError as exc:
                    return _text(400, f"PKIOperation: {exc}", "scep-PKIOperation")
            return self.pki_operation(der, manual=path in APPROVAL_PATHS)
        if op in ("getcacaps", "getcacert", "pkioperation"):
            return _text(405, f"{operation} does not take {req.method}", "scep-" + operation)
        return _text(400, f"unknown SCEP operation '{operation}'" if operation else "no SCEP operation",
                     "scep-" + (operation or "?"))

    # ------------------------------------------------------------ PKIOperation
    def pki_operation(self, der: bytes, *, manual: bool = False) -> ScepReply:
        """``manual``: hold a PKCSReq for approval whatever the knobs say (:data:`APPROVAL_PATHS`)."""
        if not der:
            return _text(400, "PKIOperation: empty message", "scep-PKIOperation")
        try:
            msg = parse(der)
        except ScepMessageError as exc:
            return _text(400, f"PKIOperation: {exc}", "scep-PKIOperation")
        op = f"scep-{_TYPE_NAMES.get(msg.message_type, str(int(msg.message_type)))}:{msg.transaction_id}"
        try:
            forced = self.faults.forced()
            if forced is not None:
                raise _Refused(forced)
            if msg.message_type not in (MessageType.PKCS_REQ, MessageType.RENEWAL_REQ, MessageType.CERT_POLL):
                raise _Refused(FailInfo.BAD_REQUEST)
            if msg.message_type == MessageType.CERT_POLL:
                return self._poll(msg, op)
            csr = self._csr(msg)
            if msg.message_type == MessageType.PKCS_REQ:
                given = challenge_password(csr) or ""
                if not hmac.compare_digest(given.encode(), self.challenge.encode()):
                    raise _Refused(FailInfo.BAD_REQUEST)
                if self.faults.manual or manual:
                    return self._held(msg, csr, op)
            else:
                self._check_renewal(msg.signer)
            cert = self._issue(csr, "scep " + _TYPE_NAMES[msg.message_type].lower())
            return self._success(msg, cert, op)
        except _Refused as refused:
            return self._rep(msg, op, PkiStatus.FAILURE, fail_info=refused.info)

    def _csr(self, msg: PkiMessage) -> x509.CertificateSigningRequest:
        if msg.enveloped is None:
            raise _Refused(FailInfo.BAD_MESSAGE_CHECK)
        try:
            content = decrypt(msg.enveloped, self.identity.cert, self.identity.key)
        except ScepMessageError:
            raise _Refused(FailInfo.BAD_MESSAGE_CHECK) from None
        try:
            return x509.load_der_x509_csr(content)
        except ValueError:
            raise _Refused(FailInfo.BAD_REQUEST) from None

    def _check_renewal(self, signer: x509.Certificate) -> None:
        issuer = self.identity.cert if self.identity.single_ca else self.ca.cert
        try:
            signer.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError):
            raise _Refused(FailInfo.BAD_REQUEST) from None  # not a certificate this lab issued
        now = self.now()
        if not signer.not_valid_before_utc <= now <= signer.not_valid_after_utc:
            raise _Refused(FailInfo.BAD_REQUEST)
        if signer.serial_number in self.state.revoked():
            raise _Refused(FailInfo.BAD_REQUEST)

    def _check_csr(self, csr: x509.CertificateSigningRequest) -> None:
        """Refuse (badRequest) a CSR the lab would not sign, before anything is allocated for it."""
        try:
            leaf_builder(csr, issuer=self.identity.cert if self.identity.single_ca else self.ca.cert,
                         now=self.now(), serial=1)
        except CsrRejected:
            raise _Refused(FailInfo.BAD_REQUEST) from None

    def _issue(self, csr: x509.CertificateSigningRequest, op: str) -> x509.Certificate:
        # checked first: a refused request uses no serial (the serials of what was issued have no gap)
        self._check_csr(csr)
        now = self.now()
        serial = self.state.next_serial()
        if self.identity.single_ca:
            cert = sign_leaf(leaf_builder(csr, issuer=self.identity.cert, now=now, serial=serial), self.identity)
        else:
            cert = self.ca.issue(csr, now=now, serial=serial)
        pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self.state.record(serial, subject=cert.subject.rfc4514_string(),
                          not_after=cert.not_valid_after_utc.isoformat(), pem=pem, op=op)
        return cert

    # ------------------------------------------------------------ manual approval
    def _held(self, msg: PkiMessage, csr: x509.CertificateSigningRequest, op: str) -> ScepReply:
        self._check_csr(csr)  # a CSR the lab would refuse is refused now, not held for an approval in vain
        request = PendingRequest(
            transaction_id=msg.transaction_id, status="pending", subject=csr.subject.rfc4514_string(),
            received=self.now().replace(microsecond=0).isoformat(),
            csr_pem=csr.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            signer_pem=msg.signer.public_bytes(serialization.Encoding.PEM).decode("ascii"))
        self.pending.add(request)
        return self._poll(msg, op)

    def _poll(self, msg: PkiMessage, op: str) -> ScepReply:
        kept = self.pending.get(msg.transaction_id)
        if kept is None:
            raise _Refused(FailInfo.BAD_CERT_ID)
        requester = x509.load_pem_x509_certificate(kept.signer_pem.encode())
        if requester.public_key() != msg.signer.public_key():
            raise _Refused(FailInfo.BAD_MESSAGE_CHECK)
        settled, fresh = self.pending.settle(msg.transaction_id, self._issue_held)
        kept = settled or kept
        if kept.status == "rejected":
            raise _Refused(FailInfo.BAD_REQUEST)
        if kept.status == "issued" and kept.cert_pem:
            return self._success(msg, x509.load_pem_x509_certificate(kept.cert_pem.encode()), op, fresh=fresh)
        return self._rep(msg, op, PkiStatus.PENDING)

    def _issue_held(self, kept: PendingRequest) -> tuple[int, str]:
        cert = self._issue(x509.load_pem_x509_csr(kept.csr_pem.encode()), "scep pkcsreq (approved)")
        return cert.serial_number, cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    # ------------------------------------------------------------ CertRep
    def _success(self, msg: PkiMessage, cert: x509.Certificate, op: str, *, fresh: bool = True) -> ScepReply:
        reply = self._rep(msg, op, PkiStatus.SUCCESS, payload=certs_only([cert]))
        return ScepReply(reply.status, reply.content_type, reply.body, op, reply.outcome,
                         cert.serial_number if fresh else None)

    def _rep(self, msg: PkiMessage, op: str, status: PkiStatus, *, fail_info: FailInfo | None = None,
             payload: bytes | None = None) -> ScepReply:
        ident = self.identity
        built = build(MessageType.CERT_REP, msg.transaction_id, new_nonce(), payload,
                      signer_cert=ident.cert, signer_key=ident.key,
                      recipient=msg.signer if payload is not None else None, cipher=Cipher.AES128,
                      recipient_nonce=msg.sender_nonce, status=status, fail_info=fail_info)
        outcome = status.name if fail_info is None else f"FAILURE({FAIL_INFO_NAMES[fail_info]})"
        return ScepReply(200, CT_PKI, built.der, op, outcome)


def _b64_message(text: str) -> bytes:
    compact = text.replace(" ", "+").replace("\r", "").replace("\n", "")
    if not compact:
        raise ValueError("no message")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("message is not base64") from None
