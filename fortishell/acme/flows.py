"""The sans-IO ACME order (RFC 8555 section 7): account, order, http-01, finalize, download.

:func:`order` is a generator of :mod:`events <fortishell.acme.events>`; the
driver performs them.  Signing (``jws.py``), key and CSR generation and the
checks of the issued chain are computation, done here; every byte on the wire
and every CMDB write is an event.

Behaviour (RFC 8555 unless noted):

* every response's ``Replay-Nonce`` is kept for the next request; a
  ``badNonce`` problem is retried with the fresh nonce (up to ``nonce_retries``);
* a refusal's ``Retry-After`` (``rateLimited``, RFC 8555 6.6) goes with the failure: a renewal
  does not try again before it;
* polling (authorization, order) waits ``Retry-After`` (seconds or an HTTP
  date, read against the device clock, capped at ``max_wait``) or
  ``poll_interval`` when the server sends none, at most ``poll_limit`` times;
* an account stored for the same directory URL is reused (its key and URL);
  else a new one is registered (terms of service agreed: the question was
  answered when ``acme2`` was set) and stored at once, as the device keeps an
  account even when the order that created it fails;
* the certificate's RSA key is generated right after the challenge-ready POST, while the
  CA validates (the first poll then rarely finds it pending);
* the new certificate and its key are stored in one transaction only after
  the chain checked out (:func:`check_chain`); nothing is stored on failure.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from . import catalogue as C
from . import jws
from .events import (
    Event, FlowFailure, Outcome, Reply, Request, Response, Serve, StoreAccount, StoreCertificate, Trace, Wait,
    WireFailure, Withdraw,
)
from .settings import AcmeSettings

PROBLEM = "urn:ietf:params:acme:error:"
PEM_CHAIN = "application/pem-certificate-chain"
SKEW = _dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Account:
    account_id: str
    url: str
    key_pem: str
    email: str = ""


@dataclass(frozen=True)
class Job:
    settings: AcmeSettings
    now: _dt.datetime  # the device clock when the order starts
    account: Account | None = None  # an account stored for this directory
    new_account_id: str = ""  # the id a new account gets in `config system acme` / `config accounts`
    nonce_retries: int = 5
    poll_limit: int = 30
    poll_interval: float = 1.0
    max_wait: float = 60.0


Flow = Generator[Event, Reply, Any]


class _Conn:
    """Nonce bookkeeping and the request/response shapes shared by every step."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.nonce: str | None = None
        self.new_nonce_url = ""
        self.key: Any = None
        self.kid: str | None = None
        self.cert_key: rsa.RSAPrivateKey | None = None  # the new certificate's key, once made

    def send(self, req: Request) -> Generator[Event, Reply, Response]:
        reply = yield req
        if isinstance(reply, WireFailure):
            yield Trace.of(C.HTTP_ERROR, method=req.method, url=req.url, error=reply.text)
            raise FlowFailure(f"cannot connect to {req.url}: {reply.text}")
        if not isinstance(reply, Response):
            raise TypeError("a Response or WireFailure must be sent back for a Request")
        yield Trace.of(C.HTTP_STATUS, method=req.method, url=req.url, status=reply.status)
        nonce = reply.header("Replay-Nonce")
        if nonce:
            self.nonce = nonce
        return reply

    def get(self, url: str) -> Generator[Event, Reply, Response]:
        return (yield from self.send(Request("GET", url)))

    def post(self, url: str, payload: Any, *, accept_problem: bool = False) -> Generator[Event, Reply, Response]:
        """A signed POST (``payload`` None: POST-as-GET); badNonce retried; problems raised."""
        attempt = 0
        while True:
            if self.nonce is None:
                yield Trace.of(C.NONCE, url=self.new_nonce_url)
                yield from self.send(Request("HEAD", self.new_nonce_url))
                if self.nonce is None:
                    raise FlowFailure(f"{self.new_nonce_url} returned no Replay-Nonce")
            nonce, self.nonce = self.nonce, None  # a nonce is good for one request
            body = jws.sign(self.key, url, nonce, payload, kid=self.kid)
            resp = yield from self.send(Request("POST", url, body))
            if resp.status < 400 or accept_problem:
                return resp
            kind, _ = problem(resp)
            if kind == "badNonce" and attempt < self.job.nonce_retries:
                attempt += 1
                yield Trace.of(C.BAD_NONCE, attempt=attempt, limit=self.job.nonce_retries)
                continue
            raise FlowFailure(problem_text(resp, url), problem=kind,
                              retry_after=retry_after(resp.header("Retry-After"), self.job.now))

    def poll(self, url: str, pending: tuple[str, ...]) -> Generator[Event, Reply, dict[str, Any]]:
        """POST-as-GET ``url`` until its status leaves ``pending`` (Retry-After respected)."""
        for _ in range(self.job.poll_limit):
            resp = yield from self.post(url, None)
            obj = _object(resp, url)
            if obj.get("status") not in pending:
                return obj
            delay = retry_after(resp.header("Retry-After"), self.job.now)
            if delay is not None:
                yield Trace.of(C.RETRY_AFTER, seconds=f"{delay:g}")
            yield Wait(min(self.job.max_wait, delay if delay is not None else self.job.poll_interval))
        raise FlowFailure(f"{url} still {'/'.join(pending)} after {self.job.poll_limit} polls")


def order(job: Job) -> Generator[Event, Reply, Outcome]:
    s = job.settings
    c = _Conn(job)
    yield Trace.of(C.DIRECTORY, url=s.directory)
    directory = yield from _directory(c, s.directory)
    yield from _account(c, job, directory)
    yield Trace.of(C.ORDER_NEW, domain=s.domain)
    try:
        resp = yield from c.post(directory["newOrder"], {"identifiers": [{"type": "dns", "value": s.domain}]})
    except FlowFailure as exc:
        if job.account is not None and exc.problem in ("unauthorized", "accountDoesNotExist"):
            # the CA no longer knows the stored account (deactivated, revoked): the device marks it,
            # and the next order registers a new one
            a = job.account
            yield StoreAccount(a.account_id, a.url, s.directory, a.email, "deactivated", a.key_pem)
        raise
    order_url = resp.header("Location") or ""
    obj = _object(resp, directory["newOrder"])
    yield Trace.of(C.ORDER_OK, url=order_url, status=obj.get("status"))
    for authz_url in obj.get("authorizations") or []:
        yield from _authorize(c, str(authz_url), s.domain)
    key = c.cert_key or _cert_key(c)  # made while the CA validated, unless nothing was validated
    yield Trace.of(C.FINALIZE, bits=s.rsa_key_size)
    finalize = str(obj.get("finalize") or "")
    if not finalize:
        raise FlowFailure(f"order {order_url} has no finalize URL")
    resp = yield from c.post(finalize, {"csr": jws.b64u(_csr(key, s.domain))})
    obj = _object(resp, finalize)
    if obj.get("status") in ("pending", "ready", "processing") and order_url:
        obj = yield from c.poll(order_url, ("pending", "ready", "processing"))
    yield Trace.of(C.ORDER_STATUS, status=obj.get("status"))
    if obj.get("status") != "valid" or not obj.get("certificate"):
        raise FlowFailure(f"order {order_url} ended {obj.get('status')}: {_error_detail(obj)}")
    cert_url = str(obj["certificate"])
    yield Trace.of(C.DOWNLOAD, url=cert_url)
    resp = yield from c.post(cert_url, None)
    try:
        chain = x509.load_pem_x509_certificates(resp.body)
    except ValueError:
        raise FlowFailure(f"{cert_url} did not return a PEM certificate chain") from None
    check_chain(chain, key, s.domain, job.now)
    leaf = chain[0]
    yield Trace.of(C.CHAIN, count=len(chain), serial=f"{leaf.serial_number:x}")
    yield StoreCertificate(s.name, _pem(leaf), key, tuple(_pem(cert) for cert in chain[1:]))
    yield Trace.of(C.SAVED, name=s.name, not_after=leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M:%S GMT"))
    return Outcome(s.name, s.domain, f"{leaf.serial_number:x}", leaf.not_valid_before_utc.timestamp(),
                   leaf.not_valid_after_utc.timestamp(), order_url)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _directory(c: _Conn, url: str) -> Generator[Event, Reply, dict[str, Any]]:
    resp = yield from c.get(url)
    if resp.status != 200:
        raise FlowFailure(f"{url} is not an ACME directory (HTTP {resp.status})")
    obj = resp.json()
    if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) for k in ("newNonce", "newAccount",
                                                                                   "newOrder")):
        raise FlowFailure(f"{url} is not an ACME directory")
    c.new_nonce_url = obj["newNonce"]
    yield Trace.of(C.DIRECTORY_OK, new_account=obj["newAccount"], new_order=obj["newOrder"])
    return obj


def _account(c: _Conn, job: Job, directory: dict[str, Any]) -> Flow:
    s = job.settings
    if job.account is not None:
        c.key, c.kid = jws.load_account_key(job.account.key_pem), job.account.url
        yield Trace.of(C.ACCOUNT_REUSE, account_id=job.account.account_id, url=job.account.url)
        return
    meta = directory.get("meta")
    if isinstance(meta, dict) and meta.get("externalAccountRequired") and not s.eab_key_id:
        raise FlowFailure("the CA requires External Account Binding (set acme-eab-key-id and acme-eab-key-hmac)")
    c.key = jws.new_account_key()
    url = directory["newAccount"]
    payload: dict[str, Any] = {"termsOfServiceAgreed": True}
    if s.email:
        payload["contact"] = [f"mailto:{s.email}"]
    if s.eab_key_id:
        try:
            payload["externalAccountBinding"] = jws.eab(c.key, s.eab_key_id, s.eab_hmac, url)
        except jws.JwsError as exc:
            raise FlowFailure(f"acme-eab-key-hmac: {exc.lines[0] if exc.lines else exc}") from None
    yield Trace.of(C.ACCOUNT_NEW, url=url)
    resp = yield from c.post(url, payload)
    kid = resp.header("Location")
    if not kid:
        raise FlowFailure(f"{url} returned no account URL")
    status = str(_object(resp, url).get("status") or "valid")
    yield Trace.of(C.ACCOUNT_OK, url=kid, status=status)
    if status != "valid":
        raise FlowFailure(f"account {kid} is {status}")
    c.kid = kid
    yield StoreAccount(job.new_account_id, kid, s.directory, s.email, status, jws.key_pem(c.key))


def _authorize(c: _Conn, url: str, domain: str) -> Flow:
    resp = yield from c.post(url, None)
    authz = _object(resp, url)
    identifier = authz.get("identifier")
    ident = str(identifier.get("value") or domain) if isinstance(identifier, dict) else domain
    yield Trace.of(C.AUTHZ, url=url, domain=ident, status=authz.get("status"))
    if authz.get("status") == "valid":
        return
    challenge = next((ch for ch in authz.get("challenges") or [] if isinstance(ch, dict)
                      and ch.get("type") == "http-01"), None)
    if challenge is None:
        raise FlowFailure(f"the CA offers no http-01 challenge for {ident}")
    token, ch_url = str(challenge.get("token") or ""), str(challenge.get("url") or "")
    if not token or not ch_url:
        raise FlowFailure(f"the http-01 challenge for {ident} has no token or URL")
    yield Trace.of(C.CHALLENGE_SERVE, token=token)
    yield Serve(token, jws.key_authorization(token, c.key))
    try:
        yield from c.post(ch_url, {})
        yield Trace.of(C.CHALLENGE_READY, url=ch_url)
        if c.cert_key is None:
            # the CA is fetching the answer now: the order's costly computation (an RSA key takes
            # 0.1-0.5 s) fills that time, and the first poll more often finds the check done
            c.cert_key = _cert_key(c)
        authz = yield from c.poll(url, ("pending",))
        yield Trace.of(C.CHALLENGE_POLL, domain=ident, status=authz.get("status"))
    except GeneratorExit:
        raise  # closed by the driver: no more events
    except BaseException:
        yield Withdraw(token)  # a failure or a cancellation thrown in: the answer goes too
        raise
    yield Withdraw(token)
    if authz.get("status") != "valid":
        detail = next((_error_detail(ch) for ch in authz.get("challenges") or []
                       if isinstance(ch, dict) and ch.get("type") == "http-01" and ch.get("error")), "")
        raise FlowFailure(f"the http-01 challenge for {ident} failed: {detail or authz.get('status')}",
                          problem="unauthorized")


def _cert_key(c: _Conn) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, c.job.settings.rsa_key_size)


def _csr(key: rsa.RSAPrivateKey, domain: str) -> bytes:
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)]))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.DER)


def check_chain(chain: list[x509.Certificate], key: rsa.RSAPrivateKey, domain: str, now: _dt.datetime) -> None:
    """The issued chain's rules checked before anything is stored: the leaf carries our key, names
    ``domain`` in its subjectAltName and is valid at ``now`` (the device clock when the order
    started; a validity starting up to ``SKEW`` later is accepted: it was issued since); each certificate is
    directly issued (name and signature) by the next one.  Trust in the root is not decided here:
    the CA was authenticated by TLS when the chain was downloaded."""
    if not chain:
        raise FlowFailure("the CA returned an empty certificate chain")
    leaf = chain[0]
    if leaf.public_key() != key.public_key():
        raise FlowFailure("the issued certificate does not match the private key")
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = [n.lower() for n in names.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        dns = []
    if domain not in dns:
        raise FlowFailure(f"the issued certificate does not name {domain}")
    if not leaf.not_valid_before_utc - SKEW <= now <= leaf.not_valid_after_utc:
        raise FlowFailure("the issued certificate is not valid now (device clock)")
    for child, parent in zip(chain, chain[1:]):
        try:
            child.verify_directly_issued_by(parent)
        except InvalidSignature:
            raise FlowFailure("the certificate chain is broken: bad signature") from None
        except (ValueError, TypeError) as exc:
            raise FlowFailure(f"the certificate chain is broken: {exc}") from None


def problem(resp: Response) -> tuple[str, str]:
    """(short problem type, detail) of an error response; ('', '') when it is no problem document."""
    obj = resp.json()
    if not isinstance(obj, dict):
        return "", ""
    kind = str(obj.get("type") or "")
    return (kind[len(PROBLEM):] if kind.startswith(PROBLEM) else kind), str(obj.get("detail") or "")


def problem_text(resp: Response, url: str) -> str:
    kind, detail = problem(resp)
    if not kind and not detail:
        return f"HTTP {resp.status} from {url}"
    return f"{detail or 'no detail'} ({kind or 'HTTP ' + str(resp.status)})"


def retry_after(value: str | None, now: _dt.datetime) -> float | None:
    """Retry-After as seconds (RFC 9110: delay-seconds or an HTTP date), None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _object(resp: Response, url: str) -> dict[str, Any]:
    obj = resp.json()
    if not isinstance(obj, dict):
        raise FlowFailure(f"{url} did not return a JSON object")
    return obj


def _error_detail(obj: dict[str, Any]) -> str:
    err = obj.get("error")
    if isinstance(err, dict):
        kind = str(err.get("type") or "")
        short = kind[len(PROBLEM):] if kind.startswith(PROBLEM) else kind
        return f"{err.get('detail') or 'no detail'} ({short})" if short else str(err.get("detail") or "")
    return ""
