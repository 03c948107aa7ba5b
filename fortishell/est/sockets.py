"""Socket behaviour of the EST client: acknowledge at once, end TLS with close_notify.

Many EST servers write the HTTP header block and the body in two sends with
Nagle's algorithm on: the body waits until the header is acknowledged.  A
client that delays its ACKs (Linux holds one up to ~40 ms) then stalls every
reply.  :class:`AckingStream` re-arms ``TCP_QUICKACK`` before every read (the
kernel leaves quick-ACK mode on its own, e.g. after the client sends), so the
header is acknowledged as soon as it arrives.  Where ``TCP_QUICKACK`` does not
exist (not Linux) reads are plain.

Closing an ``ssl`` connection sends a TLS close_notify first (a strict server
otherwise logs "unexpected eof"); the client does not wait for the server's
answering close_notify (TLS allows the initiator of the close not to wait).
TLS-SRP streams (tlslite-ng) send close_notify themselves.
"""

from __future__ import annotations

import socket
import ssl
import typing

import httpcore

QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def quickack(sock: socket.socket) -> None:
    """Ask the kernel to acknowledge the next segments at once (Linux ``TCP_QUICKACK``)."""
    if QUICKACK is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
    except OSError:
        pass  # a closed or reset socket: the read that follows reports it


def close_tls(tls: ssl.SSLSocket) -> None:
    """Send close_notify on ``tls`` without waiting for the peer's, then close it."""
    try:
        tls.setblocking(False)
        tls.unwrap()  # close_notify out; the peer's is not awaited (SSLWantReadError)
    except (ssl.SSLError, OSError, ValueError):
        pass  # SSLWantReadError (ours is sent), or the peer is gone already
    finally:
        tls.close()


class AckingStream(httpcore.NetworkStream):
    """An established TLS stream that acknowledges at once and closes with close_notify."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        sock = inner.get_extra_info("socket")
        self._sock: socket.socket | None = sock if isinstance(sock, socket.socket) else None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._sock is not None:
            quickack(self._sock)
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        if isinstance(self._sock, ssl.SSLSocket):
            close_tls(self._sock)
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return AckingStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)
