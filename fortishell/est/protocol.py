"""Sans-IO EST flows (RFC 7030): cacerts, csrattrs, simpleenroll, simplereenroll.

Each flow is a generator that *yields* steps -- :class:`EstRequest` (send it,
then ``send()`` the :class:`EstResponse` back) or :class:`Wait` (sleep, then
``send(None)``) -- and *returns* its result.  No sockets, no clocks: the
driver (``engine.py``) owns the connection, the waiting and the CMDB.  Trace
lines go to an :class:`Output` (anything with ``emit(point, **values)`` and
``raw(text)``), so the flows can be exercised with plain objects.

``enroll_flow`` / ``reenroll_flow`` compose the steps; the engine drives the
steps one by one to know at which stage a failure happened.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography import x509

from fortishell import errors
from fortishell.trace import TracePoint

from . import catalogue as C
from . import pki

WELL_KNOWN = "/.well-known/est"
PKCS7_TYPES = ("application/pkcs7-mime",)
CSRATTRS_TYPES = ("application/csrattrs",)


# ------------------------------------------------------------------ events
@dataclass(frozen=True)
class TlsInfo:
    version: str | None = None
    cipher: str | None = None
    tls_unique: bytes | None = None  # RFC 5929 channel binding (TLS 1.2 only)


@dataclass(frozen=True)
class EstRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None


@dataclass(frozen=True)
class EstResponse:
    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: tuple[tuple[str, str], ...] = ()  # raw pairs in wire order
    body: bytes = b""
    tls: TlsInfo | None = None

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    @property
    def media_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def status_line(self) -> str:
        return f"{self.http_version} {self.status} {self.reason}".rstrip()


@dataclass(frozen=True)
class Wait:
    seconds: float


Step = EstRequest | Wait
Flow = Generator[Step, "EstResponse | None", Any]


class Output(Protocol):
    def emit(self, point: TracePoint, **values: Any) -> None: ...
    def raw(self, text: str) -> None: ...


class FlowFailure(errors.ProtocolError):
    """The EST server's answer cannot be used; ``reason`` is the short cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FlowConfig:
    """What the flows need to know about the enrollment (no secrets)."""

    url: str  # https://host[:port] as configured
    ca_id: str | None = None
    source_ip: str | None = None
    is_global: int = 1
    retry_limit: int = 3  # 202 Retry-After: at most this many retries ...
    retry_budget: float = 60.0  # ... and this many seconds of waiting in total
    retry_default: float = 10.0  # Retry-After missing or unreadable
    null_text: str = "NULL"  # how an unset CA identifier prints (a reconstructed context: "")

    @property
    def base_path(self) -> str:
        return f"{WELL_KNOWN}/{self.ca_id}" if self.ca_id else WELL_KNOWN

    def full_url(self, op: str) -> str:
        return self.url.rstrip("/") + f"{self.base_path}/{op}"


# ------------------------------------------------------------------ helpers
def _expect(resp: EstResponse | None) -> EstResponse:
    if not isinstance(resp, EstResponse):
        raise TypeError("an EstResponse must be sent back for an EstRequest")
    return resp


def _http_error(out: Output, resp: EstResponse) -> FlowFailure:
    out.emit(C.CURL_HTTP_ERROR, status=resp.status, reason=resp.reason or "error")
    return FlowFailure(f"HTTP error {resp.status} {resp.reason}".rstrip())


def _check_type(out: Output, resp: EstResponse, allowed: tuple[str, ...]) -> None:
    if resp.media_type not in allowed:
        out.emit(C.CURL_CONTENT_TYPE, content_type=resp.header("Content-Type") or "(none)")
        raise FlowFailure(f"unexpected Content-Type '{resp.header('Content-Type') or ''}'")


def _parse_certs(resp: EstResponse) -> list[x509.Certificate]:
    try:
        return pki.parse_pkcs7_certs(resp.body)
    except pki.PkiError as exc:
        raise FlowFailure(str(exc)) from exc


def retry_after_seconds(value: str | None, default: float, now: float | None = None) -> float:
    """``Retry-After``: delta-seconds or an HTTP-date; ``default`` when missing or unreadable."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def print_pkcs7(out: Output, certs: list[x509.Certificate], cfg: FlowConfig) -> None:
    """``save_pkcs7_certs`` / ``est_print_pkcs7`` lines for a received certs-only reply."""
    out.emit(C.SAVE_PKCS7)
    out.emit(C.PRINT_PKCS7_COUNT, count=len(certs))
    for index, cert in enumerate(certs, 1):
        out.emit(C.PRINT_PKCS7_CERT, index=index)
        out.emit(C.PRINT_X509, text=pki.x509_text(cert))
    out.emit(C.SAVE_RECEIVED_CERTS, count=len(certs))
    out.emit(C.SAVE_CERTS_DUMP, is_global=cfg.is_global, url=cfg.url, source_ip=cfg.source_ip or "NULL",
             ca_identifier=cfg.ca_id if cfg.ca_id is not None else cfg.null_text)


# ------------------------------------------------------------------ steps
def get_cacerts(cfg: FlowConfig, out: Output) -> Flow:
    """``GET cacerts`` -> the certificates of the certs-only reply (printed)."""
    out.emit(C.GET_CA_CERTS_STARTED)
    resp = _expect((yield EstRequest("GET", f"{cfg.base_path}/cacerts")))
    return _certs_reply(cfg, out, resp)


def get_csrattrs(cfg: FlowConfig, out: Output) -> Generator[Step, EstResponse | None, tuple[list[pki.CsrAttr], TlsInfo | None]]:
    """``GET csrattrs`` -> (attributes, TLS info of the connection); 204/404 mean none."""
    out.emit(C.GET_CSR_ATTRS_STARTED)
    resp = _expect((yield EstRequest("GET", f"{cfg.base_path}/csrattrs")))
    if resp.status in (204, 404):
        out.emit(C.CSR_ATTRS_NONE, status=resp.status)
        return [], resp.tls
    if resp.status != 200:
        raise _http_error(out, resp)
    _check_type(out, resp, CSRATTRS_TYPES)
    out.emit(C.DECODE_CSRATTRS, length=len(resp.body))
    try:
        attrs = pki.decode_csrattrs(resp.body)
    except pki.PkiError as exc:
        raise FlowFailure(str(exc)) from exc
    for attr in attrs:
        point = C.CSRATTRS_ATTRIBUTE if attr.is_attribute else C.CSRATTRS_OBJECT
        out.emit(point, oid=attr.oid, name=attr.name)
    return attrs, resp.tls


def simple_post(cfg: FlowConfig, op: str, csr_b64: str, out: Output) -> Flow:
    """``POST simpleenroll|simplereenroll`` with 202 handling -> issued certs (printed)."""
    out.emit(C.DATA_TO_BE_POSTED, b64=csr_b64)
    request = EstRequest("POST", f"{cfg.base_path}/{op}", (("Content-Type", "application/pkcs10"),),
                         (csr_b64 + "\n").encode())
    retries, waited = 0, 0.0
    while True:
        resp = _expect((yield request))
        if resp.status != 202:
            break
        delay = retry_after_seconds(resp.header("Retry-After"), cfg.retry_default)
        if retries >= cfg.retry_limit or waited + delay > cfg.retry_budget:
            out.emit(C.RETRY_GIVE_UP, attempt=retries)
            raise FlowFailure(f"the request is still pending after {retries} retries")
        retries += 1
        waited += delay
        out.emit(C.RETRY_AFTER, seconds=f"{delay:g}", attempt=retries, limit=cfg.retry_limit)
        yield Wait(delay)
    return _certs_reply(cfg, out, resp)


def _certs_reply(cfg: FlowConfig, out: Output, resp: EstResponse) -> list[x509.Certificate]:
    """A 200 certs-only PKCS#7 reply -> its certificates (printed); anything else fails."""
    if resp.status != 200:
        raise _http_error(out, resp)
    _check_type(out, resp, PKCS7_TYPES)
    certs = _parse_certs(resp)
    print_pkcs7(out, certs, cfg)
    return certs


# ------------------------------------------------------------------ whole flows
@dataclass
class EnrollOutcome:
    ca_certs: list[x509.Certificate] = field(default_factory=list)
    attrs: list[pki.CsrAttr] = field(default_factory=list)
    csr: x509.CertificateSigningRequest | None = None
    issued: list[x509.Certificate] = field(default_factory=list)


MakeCsr = Callable[[list[pki.CsrAttr], "TlsInfo | None"], x509.CertificateSigningRequest]


def post_started(out: Output, op: str) -> None:
    out.emit(C.SIMPLE_REENROLL_STARTED if op == "simplereenroll" else C.SIMPLE_ENROLL_STARTED)


def enroll_flow(cfg: FlowConfig, out: Output, make_csr: MakeCsr, *, op: str = "simpleenroll",
                fetch_cacerts: bool = True,
                before_post: Callable[[list[pki.CsrAttr]], None] | None = None) -> Flow:
    """cacerts -> csrattrs -> [before_post] -> STARTED -> CSR (``make_csr``) -> POST ``op``.

    Returns an :class:`EnrollOutcome`.  ``before_post`` is where the engine
    prints its ``est_ctx`` dump (the guide prints it right before STARTED).
    """
    outcome = EnrollOutcome()
    if fetch_cacerts:
        outcome.ca_certs = yield from get_cacerts(cfg, out)
    outcome.attrs, tls = yield from get_csrattrs(cfg, out)
    if before_post:
        before_post(outcome.attrs)
    post_started(out, op)
    outcome.csr = make_csr(outcome.attrs, tls)
    outcome.issued = yield from simple_post(cfg, op, pki.csr_der_base64(outcome.csr), out)
    return outcome


def reenroll_flow(cfg: FlowConfig, out: Output, make_csr: MakeCsr,
                  before_post: Callable[[list[pki.CsrAttr]], None] | None = None) -> Flow:
    """Re-enrollment: csrattrs -> CSR from the current certificate -> POST simplereenroll."""
    return (yield from enroll_flow(cfg, out, make_csr, op="simplereenroll", fetch_cacerts=False,
                                   before_post=before_post))
