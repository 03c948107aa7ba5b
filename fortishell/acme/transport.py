"""The I/O side of the ACME client: an :class:`httpx.Client` on the EST client's network plumbing.

The connections are EST's (``est/transport.py``): its ``httpcore`` pool
(:class:`~fortishell.est.transport.EstHttpTransport`) over its network backend
(:class:`~fortishell.est.transport.Backend`), whose streams send close_notify
before closing, re-arm quick ACKs and are shut down from the cancelling thread
on Ctrl-C (a blocked read returns at once).  What is ACME's own: the backend
maps every host of the order's URLs through the lab host map (``acme.lab`` ->
the embedded lab ACME server; EST has one server, ACME a directory whose URLs
may name several hosts) while TLS is still verified for the URL's own host name
against the device's CA store (``vpn certificate ca``) and nothing else, at TLS
1.2 or later (EST pins 1.2 for ``tls-unique``); connections leave from ``config
system acme``'s ``source-ip`` when it is set (not ``0.0.0.0``), and an address
the host does not have fails the connection (``bind failed with errno 99: Cannot assign requested
address``), as on the device.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Callable

import httpcore
import httpx

from fortishell.est import transport as est_transport
from fortishell.est.cancel import CancelToken
from fortishell.est.curlerrors import curl_error_text

from .events import Request, Response, WireFailure

USER_AGENT = "FortiOS-ACME"
Resolver = Callable[[str, int], "tuple[str, int] | None"]
# what a request can fail with on the wire: httpx's own (URL, protocol) and, from the shared
# transport, httpcore's, ssl's and the OS's
_FAILURES = (httpx.HTTPError, httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
             httpcore.UnsupportedProtocol, ssl.SSLError, OSError)


@dataclass(frozen=True)
class TransportConfig:
    trust_pems: tuple[str, ...]
    resolve: Resolver | None = None
    timeout: float = 10.0
    source_ip: str | None = None  # `config system acme` source-ip (None: the system picks)


class _MappedBackend(est_transport.Backend):
    """EST's backend, each host mapped through the lab network (``resolve``)."""

    def __init__(self, cfg: TransportConfig, cancel: CancelToken) -> None:
        # the EST settings the backend reads: no fixed server (targets come from target()), no TLS-SRP
        super().__init__(est_transport.TransportConfig(host="", port=0, timeout=cfg.timeout), cancel)
        self._resolve = cfg.resolve

    def target(self, host: str, port: int) -> tuple[str, int]:
        mapped = self._resolve(host, port) if self._resolve is not None else None
        return mapped if mapped is not None else (host, port)


def _ssl_context(trust_pems: tuple[str, ...]) -> ssl.SSLContext:
    # the device's CA store only (never the host's bundle); hostname checked; an entry
    # OpenSSL cannot read trusts nothing
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    for pem in trust_pems:
        try:
            ctx.load_verify_locations(cadata=pem)
        except ssl.SSLError:
            continue
    return ctx


class AcmeHttp:
    """Sends :class:`Request` events; returns :class:`Response` or :class:`WireFailure` (never raises).

    ``cancel``: a cancellation shuts the open connections down (the request in progress fails at
    once; the driver then sees the token cancelled)."""

    def __init__(self, cfg: TransportConfig, cancel: CancelToken | None = None) -> None:
        backend = _MappedBackend(cfg, cancel if cancel is not None else CancelToken())
        self._client = httpx.Client(
            transport=est_transport.EstHttpTransport(_ssl_context(cfg.trust_pems), backend, cfg.source_ip),
            timeout=cfg.timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False, trust_env=False)

    def send(self, req: Request) -> Response | WireFailure:
        headers = {"Content-Type": req.content_type} if req.body is not None else {}
        started = time.monotonic()
        try:
            resp = self._client.request(req.method, req.url, content=req.body, headers=headers)
        except httpx.InvalidURL as exc:
            return WireFailure(f"bad URL: {exc}")
        except (httpx.UnsupportedProtocol, httpcore.UnsupportedProtocol) as exc:
            return WireFailure(f"unsupported protocol: {exc}")
        except _FAILURES as exc:
            # FortiOS's ACME client speaks through libcurl as its EST client does: the same
            # wording (est/curlerrors.py) for the same failure, named by the URL's host and port
            url = httpx.URL(req.url)
            elapsed = int((time.monotonic() - started) * 1000)
            return WireFailure(curl_error_text(exc, url.host, url.port or (80 if url.scheme == "http" else 443), elapsed))
        return Response(resp.status_code, tuple(resp.headers.multi_items()), resp.content)

    def close(self) -> None:
        self._client.close()
