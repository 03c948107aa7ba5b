"""The EST application of the lab responder: one HTTP request in, one reply out.

Owns routing (``/.well-known/est[/<label>]/<op>``), authentication (HTTP Basic
or Digest, TLS client certificate, TLS-SRP), proof-of-possession (tls-unique in
challengePassword), CSR checks, issuing, the admin endpoint and how the fault
knobs shape a reply.  It never touches a socket: the server hands it a
:class:`Request` and writes the :class:`Reply` it returns.

Reply headers follow the reference test server byte for byte and in order
(guide, Example 1): ``Status``, ``Content-Type``, ``Content-Transfer-Encoding``,
``Content-Length``; bodies are base64 in 64-column lines, each ending ``\\n``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import time
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AttributeOID, NameOID

from ..errors import LabError
from . import habits, keygen
from .ca import CsrRejected, LabCA, leaf_builder
from .faults import ENROLL_OPS, Faults, FaultState
from .state import LabState
from .topology import LabTopology

REASONS = {
    200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large", 415: "Unsupported Media Type",
    500: "Internal Server Error",
}
CT_CERTS_ONLY = habits.CT_CERTS_ONLY
CT_PKCS7 = habits.CT_PKCS7
CT_CSRATTRS = "application/csrattrs"
REALM = "estrealm"
POP_OID = "1.2.840.113549.1.9.7"  # challengePassword
# RFC 7030 section 3.2.2: a label is one path segment; kept to URL-safe characters
# and never a dot segment ("." / "..", which a client or proxy would resolve away).
LABEL_RE = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._~-]{1,64}$")
OPS = {"cacerts": "GET", "csrattrs": "GET", "simpleenroll": "POST", "simplereenroll": "POST", "serverkeygen": "POST"}
PREFIX = "/.well-known/est/"
NONCE_LIFETIME = 300.0  # seconds a Digest nonce is accepted; then the challenge says stale=true


AuthVerdict = Literal["ok", "stale", "bad"]


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]  # names lower-cased
    body: bytes
    peer: tuple[str, int]
    peer_cert: x509.Certificate | None = None
    tls_unique: bytes | None = None
    srp_user: str | None = None

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    delay: float = 0.0
    mode: str = "normal"  # normal | truncate | drop
    close: bool = False
    chunked: bool = False  # real-server habits (see .habits): no Content-Length, body in chunks
    http10: bool = False  # an HTTP/1.0 status line, the connection closed after the reply
    serial: int | None = None  # the serial of the certificate this reply issues (access log)

    @property
    def reason(self) -> str:
        return REASONS.get(self.status, "Unknown")


def _reply(status: int, ctype: str, body: bytes, *, b64: bool, extra: Sequence[tuple[str, str]] = ()) -> Reply:
    headers = [("Status", f"{status} {REASONS[status]}"), ("Content-Type", ctype)]
    if b64:
        headers.append(("Content-Transfer-Encoding", "base64"))
    headers += list(extra)
    headers.append(("Content-Length", str(len(body))))
    return Reply(status, headers, body)


def error(status: int, text: str, extra: Sequence[tuple[str, str]] = ()) -> Reply:
    return _reply(status, "text/plain", (text + "\n").encode(), b64=False, extra=extra)


def decode_b64_body(body: bytes) -> bytes:
    """RFC 8951: base64 with or without line breaks (any ASCII whitespace)."""
    compact = b"".join(body.split())
    if not compact:
        raise ValueError("empty body")
    return base64.b64decode(compact, validate=True)


def reduced_subject(name: x509.Name) -> list[tuple[str, str]]:
    return [(a.oid.dotted_string, str(a.value)) for a in name if a.oid in (NameOID.COMMON_NAME, NameOID.SERIAL_NUMBER)]


@dataclass
class EstApp:
    ca: LabCA
    state: LabState
    faults: Faults
    now: Callable[[], dt.datetime]
    users: dict[str, str] = field(default_factory=lambda: {"estuser": "estpwd"})
    auth: str = "basic"
    require_pop: bool = False
    csrattrs_b64: str = ""
    max_body: int = 65536
    nonce_lifetime: float = NONCE_LIFETIME
    nonce_time: Callable[[], float] = time.time  # real time, not the (maybe fixed) lab clock
    _nonce_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    topology: LabTopology = field(init=False)  # the PKI topology knobs (lab/topology.py)

    def __post_init__(self) -> None:
        self.topology = LabTopology(self.ca)

    # ------------------------------------------------------------ entry point
    def handle(self, req: Request) -> Reply:
        path = req.target.split("?", 1)[0]
        if path == "/.lab/faults":
            return self._admin(req)
        op, label_ok = self._route(path)
        if op is None or not label_ok:
            return error(404, "Not Found")
        if req.method != OPS[op]:
            return error(405, "Method Not Allowed", [("Allow", OPS[op])])
        faults = self.faults.snapshot()
        applies = self.faults.applies(op)
        shown = faults if applies else FaultState()  # the body habits in force for this reply
        if op in ENROLL_OPS or op == "serverkeygen":
            reply = self._enroll(req, op)
        elif op == "cacerts":
            ordered = shown.chain_order or self.topology.chain_order(faults)  # habit / PKI topology knobs
            der = habits.pkcs7_der(self._cacerts(faults if applies else None), chain_order=ordered)
            reply = _reply(200, habits.pkcs7_type(CT_PKCS7, shown),
                           habits.base64_body(der, shown, pem_label="PKCS7"), b64=True)
        else:
            reply = self._csrattrs(shown)
        if applies:
            reply = self._shape(reply, faults)
        return reply

    def _route(self, path: str) -> tuple[str | None, bool]:
        if not path.startswith(PREFIX):
            return None, False
        parts = path[len(PREFIX) :].split("/")
        if len(parts) == 1 and parts[0] in OPS:
            return parts[0], True
        if len(parts) == 2 and parts[1] in OPS:
            return parts[1], bool(LABEL_RE.match(parts[0])) and parts[0] not in OPS
        return None, False

    def _cacerts(self, f: FaultState | None) -> list[x509.Certificate]:
        """The lab root; with ``cacerts_not_ca`` also the responder's TLS certificate
        (CA:FALSE), with ``cacerts_unchained`` also a CA certificate issued by a root
        that is not in the reply."""
        certs = self.topology.cacerts(self.faults.snapshot())  # PKI topology knobs
        if f is not None and f.cacerts_not_ca:
            certs.append(self.ca.server_cert)
        if f is not None and f.cacerts_unchained:
            certs.append(_unchained_ca())
        return certs

    # ------------------------------------------------------------ faults
    def _shape(self, reply: Reply, f: FaultState) -> Reply:
        if f.status_500 and reply.status < 500:
            reply = error(500, "Internal Server Error")
        if reply.status == 200:
            if f.garbage_base64:
                body = b"!!! this is not base64 @@@\n"
                reply.headers = [(k, str(len(body)) if k == "Content-Length" else v) for k, v in reply.headers]
                reply.body = body
            if f.wrong_content_type:
                reply.headers = [(k, "text/html" if k == "Content-Type" else v) for k, v in reply.headers]
            if f.truncate_body:
                reply.mode = "truncate"
        if f.drop_connection:
            reply.mode = "drop"
        reply.delay = f.delay_seconds
        reply.headers = habits.framing_headers(reply.headers, f)
        reply.chunked, reply.http10 = f.chunked, f.http10
        return reply

    # ------------------------------------------------------------ csrattrs
    def _csrattrs(self, f: FaultState) -> Reply:
        der = base64.b64decode(habits.RFC7030_CSRATTRS_EXAMPLE if f.csrattrs_example else self.csrattrs_b64)
        if self.require_pop:
            der = habits.add_pop_oid(der, POP_OID)
        return _reply(200, CT_CSRATTRS, habits.base64_body(der, f), b64=True)

    # ------------------------------------------------------------ enrollment
    def _enroll(self, req: Request, op: str) -> Reply:
        f = self.faults.snapshot()
        applies = self.faults.applies(op)
        client = self._valid_client_cert(req.peer_cert)
        if applies and f.reject_auth:
            return self._challenge()
        if op == "simplereenroll":
            if req.peer_cert is None:
                return error(403, "Re-enrollment needs the TLS client certificate being renewed")
            if client is None:
                return error(403, "Client certificate is expired, not yet valid or not issued by this CA")
        elif not (req.srp_user or client is not None):
            verdict = self._http_auth(req)
            if verdict != "ok":
                return self._challenge(stale=verdict == "stale")
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/pkcs10":
            return error(415, "Content-Type must be application/pkcs10")
        try:
            csr = _load_csr(req.body)
        except ValueError as exc:
            return error(400, f"Malformed CSR: {exc}")
        if not csr.is_signature_valid:
            return error(400, "CSR signature is not valid")
        if self.require_pop and not self._pop_ok(req, csr):
            return error(400, "CSR challengePassword does not match the TLS channel (tls-unique)")
        if op == "simplereenroll" and client is not None:
            if reduced_subject(csr.subject) != reduced_subject(client.subject):
                return error(400, "CSR subject does not match the certificate being renewed")
        if applies:
            secs = self.faults.take_retry()
            if secs is not None:
                return error(202, "Request accepted; retry later", [("Retry-After", str(secs))])
        return self._issue(csr, op, f if applies else None)

    def _issue(self, csr: x509.CertificateSigningRequest, op: str, f: FaultState | None) -> Reply:
        now = self.now()
        new_key = keygen.key_like(csr) if op == "serverkeygen" else None  # RFC 7030 4.4: the server's key
        foreign = f is not None and f.foreign_ca_cert
        public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None
        if not foreign and f is not None and f.wrong_key_cert:
            public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
        else:
            public_key = new_key.public_key() if new_key is not None and not foreign else None
        try:  # a CSR the lab will not sign is refused before a serial is allocated (no gap in the serials)
            leaf_builder(csr, issuer=self.ca.cert, now=now, serial=1, public_key=public_key)
        except CsrRejected as exc:
            return error(400, " ".join(exc.lines))
        serial = self.state.next_serial()
        chain: list[x509.Certificate] = []  # certificates sent after the new one
        issuer = self.ca
        if foreign:
            cert = _foreign_ca().issue(csr, now=now, serial=serial)
        elif f is not None and f.wrong_key_cert:
            cert = self.ca.issue(csr, now=now, serial=serial, public_key=public_key)
        else:
            issuer, chain = self.topology.issuer(self.faults.snapshot())  # PKI topology knobs
            cert = issuer.issue(csr, now=now, serial=serial, public_key=public_key)
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        self.state.record(
            serial, subject=cert.subject.rfc4514_string(), not_after=cert.not_valid_after_utc.isoformat(), pem=pem, op=op
        )
        shown = f or FaultState()
        certs = [cert, *(chain or [issuer.cert])] if shown.chain_order else [cert, *chain]  # chain_order habit
        ordered = shown.chain_order or self.topology.chain_order(self.faults.snapshot())  # or a topology knob
        der = habits.pkcs7_der(certs, chain_order=ordered)
        if new_key is not None:
            ctype, body = keygen.multipart(new_key, der)
            reply = Reply(200, [("Status", "200 OK"), ("Content-Type", ctype), ("Content-Length", str(len(body)))],
                          body)
        else:
            reply = _reply(200, habits.pkcs7_type(CT_CERTS_ONLY, shown),
                           habits.base64_body(der, shown, pem_label="PKCS7"), b64=True)
        reply.serial = serial
        return reply

    def _valid_client_cert(self, cert: x509.Certificate | None) -> x509.Certificate | None:
        """The TLS client certificate if the lab CA issued it and it is valid now (responder clock)."""
        if cert is None or not self.topology.issued_here(cert):
            return None
        now = self.now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return None
        return cert

    def _pop_ok(self, req: Request, csr: x509.CertificateSigningRequest) -> bool:
        if req.tls_unique is None:
            return False
        try:
            value = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
        except x509.AttributeNotFound:
            return False
        return hmac.compare_digest(value.strip(), base64.b64encode(req.tls_unique))

    # ------------------------------------------------------------ HTTP auth
    def _challenge(self, *, stale: bool = False) -> Reply:
        """401 with a Basic or Digest challenge.  ``stale``: the request carried a
        correct Digest response for an expired nonce (RFC 7616 section 3.3: the client
        may retry with the new nonce without asking for the password again)."""
        if self.auth == "digest":
            nonce = self._nonce()
            value = f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{nonce}"'
            if stale:
                value += ", stale=true"
        else:
            value = f'Basic realm="{REALM}"'
        return error(401, "Unauthorized", [("WWW-Authenticate", value)])

    def _http_auth(self, req: Request) -> AuthVerdict:
        """``ok``; ``stale`` (right Digest response, expired nonce); ``bad``."""
        header = req.header("authorization")
        if not header:
            return "bad"
        scheme, _, rest = header.partition(" ")
        if self.auth == "basic" and scheme.lower() == "basic":
            try:
                user, _, pwd = base64.b64decode(rest.strip(), validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):  # binascii.Error, or non-ASCII text
                return "bad"
            return "ok" if user in self.users and _same(self.users[user], pwd) else "bad"
        if self.auth == "digest" and scheme.lower() == "digest":
            return self._digest(req.method, _parse_digest(rest), req.target)
        return "bad"

    def _nonce(self) -> str:
        stamp = str(int(self.nonce_time()))
        mac = hmac.new(self._nonce_key, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{stamp}.{mac}"

    def _digest(self, method: str, p: dict[str, str], target: str) -> AuthVerdict:
        """RFC 7616 Digest with MD5 (what curl and httpx use by default), qop=auth.

        The ``uri`` parameter must be the request target (RFC 7616 section 3.4.6),
        else a response captured for one operation would authorise another.  A nonce
        is ours when its HMAC is; it is accepted for ``nonce_lifetime`` seconds, after
        which a request that is otherwise right is ``stale``."""
        user, nonce, uri = p.get("username", ""), p.get("nonce", ""), p.get("uri", "")
        if user not in self.users or p.get("realm") != REALM or uri != target:
            return "bad"
        stamp, _, mac = nonce.partition(".")
        want = hmac.new(self._nonce_key, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        if not (stamp.isascii() and stamp.isdigit() and _same(mac, want)):
            return "bad"
        algo = p.get("algorithm", "MD5").upper()
        if algo not in ("MD5", "SHA-256"):
            return "bad"
        digest = hashlib.md5 if algo == "MD5" else hashlib.sha256

        def h(text: str) -> str:
            return digest(text.encode()).hexdigest()

        ha1 = h(f"{user}:{REALM}:{self.users[user]}")
        ha2 = h(f"{method}:{uri}")
        if p.get("qop") == "auth":
            expect = h(f"{ha1}:{nonce}:{p.get('nc', '')}:{p.get('cnonce', '')}:auth:{ha2}")
        else:
            expect = h(f"{ha1}:{nonce}:{ha2}")
        if not _same(expect, p.get("response", "")):
            return "bad"
        age = self.nonce_time() - int(stamp)
        return "ok" if age < self.nonce_lifetime else "stale"

    # ------------------------------------------------------------ admin
    def _admin(self, req: Request) -> Reply:
        try:
            loopback = ipaddress.ip_address(req.peer[0].split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return error(403, "The fault endpoint is reachable from loopback only")
        if req.method == "POST":
            try:
                knobs = json.loads(req.body or b"{}")
                if not isinstance(knobs, dict):
                    raise ValueError("a JSON object is expected")
                if knobs.pop("clear", False):
                    self.faults.clear()
                self.faults.set(**knobs)
            except (ValueError, LabError) as exc:
                return error(400, str(exc))
        elif req.method != "GET":
            return error(405, "Method Not Allowed", [("Allow", "GET, POST")])
        body = (json.dumps(self.faults.as_dict(), sort_keys=True) + "\n").encode()
        return _reply(200, "application/json", body, b64=False)


def _same(a: str, b: str) -> bool:
    """Constant-time comparison of header text (``hmac.compare_digest`` refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))


def _parse_digest(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in re.finditer(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))', text):
        out[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3)
    return out


def _load_csr(body: bytes) -> x509.CertificateSigningRequest:
    stripped = body.strip()
    if stripped.startswith(b"-----BEGIN"):
        return x509.load_pem_x509_csr(stripped)
    try:
        der = decode_b64_body(body)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"body is not base64 ({exc})") from None
    return x509.load_der_x509_csr(der)


_FOREIGN: list[LabCA] = []
_UNCHAINED: list[x509.Certificate] = []


def _unchained_ca() -> x509.Certificate:
    """A CA certificate (``CN=estUnknownSubCA``) issued by the throw-away root of
    :func:`_foreign_ca`: nobody holds that root, so it chains to nothing."""
    if not _UNCHAINED:
        root = _foreign_ca()
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "estUnknownSubCA")]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "estUnknownRootCA")]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(root.cert.not_valid_before_utc)
            .not_valid_after(root.cert.not_valid_after_utc)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(root.key, hashes.SHA256())
        )
        _UNCHAINED.append(cert)
    return _UNCHAINED[0]


def _foreign_ca() -> LabCA:
    """A throw-away CA with the same name but another key (the ``foreign_ca_cert`` fault)."""
    if not _FOREIGN:
        _FOREIGN.append(LabCA.new())
    return _FOREIGN[0]
