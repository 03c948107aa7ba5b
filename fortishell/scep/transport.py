"""The I/O side of the SCEP client: plain HTTP (or HTTPS) through httpx, to the address the lab
network gives for a host.

A lab host (``scep.lab``) is reached at the loopback address of its service, with the URL's
own ``Host`` header; any other host is reached as written.  HTTPS verifies the server against
the device's CA store only.  A reply body is read up to :data:`MAX_BODY` (a hostile server
cannot make the device buffer without end).  Never raises: a failure on the wire is a
:class:`~fortishell.est.events.WireFailure` with curl-like wording.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from .events import Request, Response, WireFailure

USER_AGENT = "FortiOS-SCEP"
MAX_BODY = 256 * 1024
Resolver = Callable[[str, int], "tuple[str, int] | None"]


@dataclass(frozen=True)
class TransportConfig:
    trust_pems: tuple[str, ...] = ()
    resolve: Resolver | None = None
    timeout: float = 10.0


class ScepHttp:
    def __init__(self, cfg: TransportConfig) -> None:
        self._resolve = cfg.resolve
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        for pem in cfg.trust_pems:
            try:
                ctx.load_verify_locations(cadata=pem)
            except ssl.SSLError:
                continue  # an entry OpenSSL cannot read trusts nothing
        self._client = httpx.Client(verify=ctx, timeout=cfg.timeout, headers={"User-Agent": USER_AGENT},
                                    follow_redirects=False)

    def _mapped(self, url: str) -> tuple[str, dict[str, str]]:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = self._resolve(host, port) if self._resolve is not None else None
        if target is None:
            return url, {}
        netloc = f"[{target[0]}]:{target[1]}" if ":" in target[0] else f"{target[0]}:{target[1]}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), {"Host": parts.netloc}

    def send(self, req: Request) -> Response | WireFailure:
        url, headers = self._mapped(req.url)
        if req.content_type:
            headers["Content-Type"] = req.content_type
        try:
            with self._client.stream(req.method, url, content=req.body, headers=headers) as resp:
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        return WireFailure(f"reply larger than {MAX_BODY // 1024} KiB")
                return Response(resp.status_code, tuple(resp.headers.multi_items()), bytes(body))
        except httpx.InvalidURL as exc:
            return WireFailure(f"bad URL: {exc}")
        except httpx.TimeoutException:
            return WireFailure("Connection timed out")
        except httpx.ConnectError as exc:
            text = str(exc)
            if "Connection refused" in text or "Errno 111" in text:
                return WireFailure("Connection refused")
            if "CERTIFICATE_VERIFY_FAILED" in text:
                return WireFailure("SSL certificate problem: unable to get local issuer certificate")
            if "Name or service not known" in text or "Errno -2" in text or "Errno -3" in text:
                return WireFailure("Could not resolve host")
            return WireFailure(text or "connect failed")
        except httpx.HTTPError as exc:  # a protocol error, a closed connection (cancel), a decode error
            return WireFailure(str(exc) or type(exc).__name__)

    def close(self) -> None:
        self._client.close()
