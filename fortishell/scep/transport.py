"""The I/O side of the SCEP client: httpx over the EST client's network backend.

SCEP shares the EST transport's plumbing (``est/transport.py``): its
:class:`~fortishell.est.transport.Backend` connects to the address the lab
network gives for a host (``scep.lab`` -> the lab SCEP responder on loopback)
while the URL, the ``Host`` header and TLS name checks stay the original host's,
and a cancellation shuts the connection's socket down from the cancelling thread
(a blocked read returns at once).  HTTPS verifies the server against the
device's CA store only.  A reply body is read up to :data:`MAX_BODY` (a hostile
server cannot make the device buffer without end).  :meth:`ScepHttp.send` never
raises: a failure on the wire is a :class:`~fortishell.est.events.WireFailure`
in curl's wording (``est/curlerrors.py``, the EST client's translation).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpcore
import httpx

from fortishell.est.cancel import CancelToken
from fortishell.est.curlerrors import curl_error_text
from fortishell.est.transport import Backend, EstHttpTransport, EstTransportError, make_ssl_context
from fortishell.est.transport import TransportConfig as EstTransportConfig

from .events import Request, Response, WireFailure

USER_AGENT = "FortiOS-SCEP"
MAX_BODY = 256 * 1024
Resolver = Callable[[str, int], "tuple[str, int] | None"]


class ScepHttp:
    """Sends :class:`Request` events to the one SCEP server of ``url``."""

    def __init__(self, url: str, token: CancelToken, *, trust_pems: tuple[str, ...] = (),
                 resolve: Resolver | None = None, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = 80
        cfg = EstTransportConfig(host=host, port=port, connect_to=resolve(host, port) if resolve else None,
                                 trust_pems=trust_pems, timeout=timeout)
        self._host, self._port = host, port
        self._client: httpx.Client | None = None
        self._error: str | None = None
        try:
            transport = EstHttpTransport(make_ssl_context(cfg), Backend(cfg, token), None)
        except EstTransportError as exc:
            self._error = str(exc)
            return
        self._client = httpx.Client(transport=transport, timeout=timeout, headers={"User-Agent": USER_AGENT},
                                    follow_redirects=False)

    def send(self, req: Request) -> Response | WireFailure:
        if self._client is None:
            return WireFailure(self._error or "no transport")
        headers = {"Content-Type": req.content_type} if req.content_type else {}
        started = time.monotonic()
        try:
            with self._client.stream(req.method, req.url, content=req.body, headers=headers) as resp:
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        return WireFailure(f"reply larger than {MAX_BODY // 1024} KiB")
                return Response(resp.status_code, tuple(resp.headers.multi_items()), bytes(body))
        except httpx.InvalidURL as exc:
            return WireFailure(f"bad URL: {exc}")
        # the EST transport raises httpcore's errors as they are; one wording for every protocol
        except (httpx.HTTPError, httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
                EstTransportError) as exc:
            elapsed = int((time.monotonic() - started) * 1000)
            return WireFailure(curl_error_text(exc, self._host, self._port, elapsed))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

