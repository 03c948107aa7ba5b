"""The I/O side of the ACME client: an :class:`httpx.Client` whose connections follow the lab host map.

Public httpx / httpcore parts only: an ``httpx.BaseTransport`` around
``httpcore.ConnectionPool(network_backend=...)`` whose backend connects to the
address the lab network gives for a host (``acme.lab`` -> the embedded lab ACME
server) while TLS is still verified for the URL's own host name against the
device's CA store (``vpn certificate ca``), and nothing else.  Connections leave
from ``config system acme``'s ``source-ip`` when it is set (not ``0.0.0.0``); an
address the host does not have fails the connection (``Cannot assign requested
address``), as on the device.
"""

from __future__ import annotations

import re
import ssl
import typing
from dataclasses import dataclass
from typing import Callable

import httpcore
import httpx

from .events import Request, Response, WireFailure

USER_AGENT = "FortiOS-ACME"
Resolver = Callable[[str, int], "tuple[str, int] | None"]


@dataclass(frozen=True)
class TransportConfig:
    trust_pems: tuple[str, ...]
    resolve: Resolver | None = None
    timeout: float = 10.0
    source_ip: str | None = None  # `config system acme` source-ip (None: the system picks)


class _MappedBackend(httpcore.NetworkBackend):
    def __init__(self, resolve: Resolver | None) -> None:
        self._resolve = resolve
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        target = self._resolve(host, port) if self._resolve is not None else None
        if target is not None:
            host, port = target
        return self._inner.connect_tcp(host, port, timeout, local_address, socket_options)


class _Transport(httpx.BaseTransport):
    def __init__(self, cfg: TransportConfig) -> None:
        # the device's CA store only (never the host's bundle); hostname checked; an entry
        # OpenSSL cannot read trusts nothing
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        for pem in cfg.trust_pems:
            try:
                ctx.load_verify_locations(cadata=pem)
            except ssl.SSLError:
                continue
        self._pool = httpcore.ConnectionPool(ssl_context=ctx, network_backend=_MappedBackend(cfg.resolve),
                                             local_address=cfg.source_ip)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        req = httpcore.Request(request.method, httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                                                            port=request.url.port, target=request.url.raw_path),
                               headers=request.headers.raw, content=request.read(), extensions=request.extensions)
        try:
            resp = self._pool.handle_request(req)
            try:
                body = resp.read()
            finally:
                resp.close()
        except httpcore.TimeoutException as exc:  # httpcore's errors as httpx's (what HTTPTransport does)
            raise httpx.TimeoutException(str(exc), request=request) from exc
        except httpcore.ConnectError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise httpx.TransportError(str(exc) or type(exc).__name__) from exc
        return httpx.Response(resp.status, headers=resp.headers, content=body)

    def close(self) -> None:
        self._pool.close()


class AcmeHttp:
    """Sends :class:`Request` events; returns :class:`Response` or :class:`WireFailure` (never raises)."""

    def __init__(self, cfg: TransportConfig) -> None:
        self._client = httpx.Client(transport=_Transport(cfg), timeout=cfg.timeout,
                                    headers={"User-Agent": USER_AGENT})

    def send(self, req: Request) -> Response | WireFailure:
        headers = {"Content-Type": req.content_type} if req.body is not None else {}
        try:
            resp = self._client.request(req.method, req.url, content=req.body, headers=headers)
        except httpx.InvalidURL as exc:
            return WireFailure(f"bad URL: {exc}")
        except httpx.UnsupportedProtocol as exc:
            return WireFailure(f"unsupported protocol: {exc}")
        except httpx.TimeoutException:
            return WireFailure("Connection timed out")
        except httpx.ConnectError as exc:
            return WireFailure(_connect_text(exc))
        except httpx.TransportError as exc:
            return WireFailure(str(exc) or type(exc).__name__)
        return Response(resp.status_code, tuple(resp.headers.multi_items()), resp.content)

    def close(self) -> None:
        self._client.close()


def _connect_text(exc: httpx.ConnectError) -> str:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "SSL certificate problem: unable to get local issuer certificate"
    if "Connection refused" in text or "Errno 111" in text:
        return "Connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text or "Errno -2" in text:
        return "Could not resolve host"
    # an OS error's text without Python's "[Errno 99] " prefix (curl prints the strerror alone)
    return re.sub(r"^\[Errno -?\d+\] ", "", text) or "connect failed"
