"""curl's ``Error buf`` texts for what went wrong on the wire (ssl, httpcore, tlslite, OS errors).

The guide shows curl's wording (``SSL certificate problem: ...``); the other
texts follow curl's messages for the same conditions.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterable

import httpcore
import httpx
from tlslite.errors import TLSAbruptCloseError

SRP_FAILED = "TLS-SRP handshake failed"
# h11's text when the peer closes inside a Content-Length body
_PARTIAL_BODY = re.compile(r"received (\d+) bytes, expected (\d+)")


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cur = todo.pop(0)
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        todo += [cur.__cause__, cur.__context__]


def curl_error_text(exc: BaseException, host: str, port: int, elapsed_ms: int) -> str:
    """The curl ``Error buf`` text for a failure while talking to the server."""
    for cur in _chain(exc):
        if isinstance(cur, ssl.SSLCertVerificationError):
            if cur.verify_code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
                return f"SSL: no alternative certificate subject name matches target host name '{host}'"
            return f"SSL certificate problem: {cur.verify_message}"
        if isinstance(cur, (httpx.ConnectError, httpcore.ConnectError)) and str(cur).startswith(SRP_FAILED):
            return str(cur)
        if isinstance(cur, ConnectionRefusedError):
            return f"Failed to connect to {host} port {port} after {elapsed_ms} ms: Connection refused"
        if isinstance(cur, socket.gaierror):
            return f"Could not resolve host: {host}"
        if isinstance(cur, ssl.SSLError):
            return f"OpenSSL SSL_connect: {cur.reason or cur.strerror or cur}"
    for cur in _chain(exc):
        if isinstance(cur, (httpx.ConnectTimeout, httpcore.ConnectTimeout)):
            return f"Connection timed out after {elapsed_ms} milliseconds"
        if isinstance(cur, (httpx.TimeoutException, httpcore.TimeoutException, socket.timeout, TimeoutError)):
            return f"Operation timed out after {elapsed_ms} milliseconds with 0 bytes received"
        if isinstance(cur, (httpx.RemoteProtocolError, httpcore.RemoteProtocolError, TLSAbruptCloseError)):
            partial = _PARTIAL_BODY.search(str(cur))
            if partial:  # curl error 18 (CURLE_PARTIAL_FILE): headers came, the body was cut short
                missing = int(partial.group(2)) - int(partial.group(1))
                return f"transfer closed with {missing} bytes remaining to read"
            return "Empty reply from server"
        if isinstance(cur, OSError) and cur.strerror:
            if cur.errno == 99:  # EADDRNOTAVAIL: source-ip not on this host
                return f"bind failed with errno 99: {cur.strerror}"
            return f"Failed to connect to {host} port {port} after {elapsed_ms} ms: {cur.strerror}"
    return f"Failure when receiving data from the peer ({type(exc).__name__})"
