"""Sans-IO EST flows (RFC 7030): cacerts, csrattrs, simpleenroll, simplereenroll.

Every flow is a generator of :mod:`events <fortishell.est.events>`: it yields
requests, waits, trace lines and store orders, gets the replies sent back and
returns its outcome; a failure raises :class:`FlowFailure` with its stage.
No sockets, clocks or CMDB here: the driver (``engine.py``) performs the
events.  The trace lines of one request (``est_curl_req``, the
``__curl_ssl_ctx_finalizer`` lines when the request opened a connection,
``curl_header_debug_func`` for every response in wire order) are all rendered
by :func:`request`.

The steps (:func:`cacerts`, :func:`csrattrs`, :func:`simpleenroll`,
:func:`simplereenroll`) compose into the operations of ``flows.py``
(enroll, re-enroll, fetch CA certificates), which production and tests run
alike.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509

from . import catalogue as C
from . import attrs as csr_attrs
from . import pki
from .events import (
    EstRequest,
    EstResponse,
    Event,
    FlowFailure,
    Interim,
    Reply,
    Stage,
    TlsInfo,
    Trace,
    Wait,
    WireFailure,
)

__all__ = ["EstRequest", "EstResponse", "FlowConfig", "FlowFailure", "Interim", "TlsInfo", "Trace", "Wait",
           "WireFailure", "cacerts", "csrattrs", "request", "retry_after_seconds", "simpleenroll",
           "simplereenroll"]

WELL_KNOWN = "/.well-known/est"
PKCS7_TYPES = ("application/pkcs7-mime",)
CSRATTRS_TYPES = ("application/csrattrs",)

T = TypeVar("T")
Flow = Generator[Event, Reply, T]


@dataclass(frozen=True)
class FlowConfig:
    """What the flows need to know about the connection (no secrets)."""

    url: str  # https://host[:port] as configured
    ca_id: str | None = None
    source_ip: str | None = None
    is_global: int = 1
    retry_limit: int = 3  # 202 Retry-After: at most this many retries ...
    retry_budget: float = 60.0  # ... and this many seconds of waiting in total
    retry_default: float = 10.0  # Retry-After missing or unreadable
    null_text: str = "NULL"  # how an unset CA identifier prints (a reconstructed context: "")
    trust_label: str | None = None  # the one CA trusted for the server (its name), else the global store
    srp: bool = False  # TLS-SRP: no SSL_CTX lines (no X.509 trust store is set up)

    @property
    def base_path(self) -> str:
        return f"{WELL_KNOWN}/{self.ca_id}" if self.ca_id else WELL_KNOWN

    def full_url(self, op: str) -> str:
        return self.url.rstrip("/") + f"{self.base_path}/{op}"


# ------------------------------------------------------------------ one request
def _ssl_ctx_lines(cfg: FlowConfig) -> Flow[None]:
    if cfg.srp:
        return
    if cfg.trust_label:
        yield Trace.of(C.SSL_CA_LOADED, name=cfg.trust_label)
    else:
        yield Trace.of(C.SSL_GLOBAL_CAS)
    yield Trace.of(C.SSL_EX_DATA)


def _header_lines(resp: EstResponse | Interim) -> Flow[None]:
    yield Trace.of(C.HEADER_RECEIVED, line=resp.status_line)
    for key, value in resp.headers:
        yield Trace.of(C.HEADER_RECEIVED, line=f"{key}: {value}")
    yield Trace.of(C.HEADER_RECEIVED, line="")


def request(cfg: FlowConfig, req: EstRequest, stage: Stage) -> Flow[EstResponse]:
    """Send ``req`` and trace it as curl does; a wire failure ends the flow at ``stage``."""
    yield Trace.of(C.CURL_URL, url=cfg.url.rstrip("/") + req.path)
    yield Trace.of(C.CURL_POST if req.method == "POST" else C.CURL_GET)
    reply = yield req
    if isinstance(reply, WireFailure):
        if reply.connected:
            yield from _ssl_ctx_lines(cfg)
        yield Trace.of(C.CURL_ERROR, error=reply.text)
        raise FlowFailure(reply.text, stage)
    if not isinstance(reply, EstResponse):
        raise TypeError("an EstResponse or WireFailure must be sent back for an EstRequest")
    if reply.tls is not None and reply.tls.new_connection:
        yield from _ssl_ctx_lines(cfg)
    for interim in reply.interim:
        yield from _header_lines(interim)
    yield from _header_lines(reply)
    yield Trace.of(C.CURL_RESPONSE, status=reply.status)
    if reply.body:  # printed as a C string: up to a terminating NUL (the reference server sends one)
        yield Trace.of(C.CURL_BUFFER, buffer=reply.body.split(b"\0", 1)[0].decode("latin-1").strip())
    return reply


# ------------------------------------------------------------------ helpers
def _http_error(resp: EstResponse, stage: Stage) -> Flow[None]:
    yield Trace.of(C.CURL_HTTP_ERROR, status=resp.status, reason=resp.reason or "error")
    raise FlowFailure(f"HTTP error {resp.status} {resp.reason}".rstrip(), stage)


def _check_type(resp: EstResponse, allowed: tuple[str, ...], stage: Stage) -> Flow[None]:
    if resp.media_type not in allowed:
        yield Trace.of(C.CURL_CONTENT_TYPE, content_type=resp.header("Content-Type") or "(none)")
        raise FlowFailure(f"unexpected Content-Type '{resp.header('Content-Type') or ''}'", stage)


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


def print_pkcs7(cfg: FlowConfig, certs: list[x509.Certificate]) -> Flow[None]:
    """``save_pkcs7_certs`` / ``est_print_pkcs7`` lines for a received certs-only reply."""
    yield Trace.of(C.SAVE_PKCS7)
    yield Trace.of(C.PRINT_PKCS7_COUNT, count=len(certs))
    for index, cert in enumerate(certs, 1):
        yield Trace.of(C.PRINT_PKCS7_CERT, index=index)
        yield Trace.of(C.PRINT_X509, text=pki.x509_text(cert))
    yield Trace.of(C.SAVE_RECEIVED_CERTS, count=len(certs))
    yield Trace.of(C.SAVE_CERTS_DUMP, is_global=cfg.is_global, url=cfg.url, source_ip=cfg.source_ip or "NULL",
                   ca_identifier=cfg.ca_id if cfg.ca_id is not None else cfg.null_text)


def _certs_reply(cfg: FlowConfig, resp: EstResponse, stage: Stage) -> Flow[list[x509.Certificate]]:
    """A 200 certs-only PKCS#7 reply -> its certificates (printed); anything else fails."""
    if resp.status != 200:
        yield from _http_error(resp, stage)
    yield from _check_type(resp, PKCS7_TYPES, stage)
    try:
        certs = pki.parse_pkcs7_certs(resp.body)
    except pki.PkiError as exc:
        raise FlowFailure(str(exc), stage) from exc
    yield from print_pkcs7(cfg, certs)
    return certs


# ------------------------------------------------------------------ the four operations
def cacerts(cfg: FlowConfig) -> Flow[list[x509.Certificate]]:
    """``GET cacerts`` -> the certificates of the certs-only reply (printed, not verified)."""
    yield Trace.of(C.GET_CA_CERTS_STARTED)
    resp = yield from request(cfg, EstRequest("GET", f"{cfg.base_path}/cacerts"), "cacerts")
    return (yield from _certs_reply(cfg, resp, "cacerts"))


def csrattrs(cfg: FlowConfig) -> Flow[tuple[list[csr_attrs.CsrAttr], TlsInfo | None]]:
    """``GET csrattrs`` -> (attributes, TLS info of the connection); 204/404 mean none."""
    yield Trace.of(C.GET_CSR_ATTRS_STARTED)
    resp = yield from request(cfg, EstRequest("GET", f"{cfg.base_path}/csrattrs"), "csrattrs")
    if resp.status in (204, 404):
        yield Trace.of(C.CSR_ATTRS_NONE, status=resp.status)
        return [], resp.tls
    if resp.status != 200:
        yield from _http_error(resp, "csrattrs")
    yield from _check_type(resp, CSRATTRS_TYPES, "csrattrs")
    yield Trace.of(C.DECODE_CSRATTRS, length=len(resp.body))
    try:
        attrs = csr_attrs.decode_csrattrs(resp.body)
    except pki.PkiError as exc:
        raise FlowFailure(str(exc), "csrattrs") from exc
    for attr in attrs:
        point = C.CSRATTRS_ATTRIBUTE if attr.is_attribute else C.CSRATTRS_OBJECT
        yield Trace.of(point, oid=attr.oid, name=attr.name)
    return attrs, resp.tls


def simple_post(cfg: FlowConfig, op: str, csr: x509.CertificateSigningRequest) -> Flow[list[x509.Certificate]]:
    """``POST simpleenroll|simplereenroll`` with 202 handling -> issued certs (printed)."""
    csr_b64 = pki.csr_der_base64(csr)
    yield Trace.of(C.DATA_TO_BE_POSTED, b64=csr_b64)
    req = EstRequest("POST", f"{cfg.base_path}/{op}", (("Content-Type", "application/pkcs10"),),
                     (csr_b64 + "\n").encode())
    retries, waited = 0, 0.0
    while True:
        resp = yield from request(cfg, req, "post")
        if resp.status != 202:
            break
        delay = retry_after_seconds(resp.header("Retry-After"), cfg.retry_default)
        if retries >= cfg.retry_limit or waited + delay > cfg.retry_budget:
            yield Trace.of(C.RETRY_GIVE_UP, attempt=retries)
            raise FlowFailure(f"the request is still pending after {retries} retries", "post")
        retries += 1
        waited += delay
        yield Trace.of(C.RETRY_AFTER, seconds=f"{delay:g}", attempt=retries, limit=cfg.retry_limit)
        yield Wait(delay)
    return (yield from _certs_reply(cfg, resp, "post"))


def simpleenroll(cfg: FlowConfig, csr: x509.CertificateSigningRequest) -> Flow[list[x509.Certificate]]:
    return (yield from simple_post(cfg, "simpleenroll", csr))


def simplereenroll(cfg: FlowConfig, csr: x509.CertificateSigningRequest) -> Flow[list[x509.Certificate]]:
    return (yield from simple_post(cfg, "simplereenroll", csr))
