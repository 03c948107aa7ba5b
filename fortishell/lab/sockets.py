"""Socket-level steps of the lab EST responder (:mod:`.server`): accepting on a listener
shared by worker processes (:mod:`.workers`), refusing over the connection cap, the
``tls_failure`` and ``split_writes`` knobs' socket work, and lingering after an early 413."""

from __future__ import annotations

import select
import socket
import ssl
import struct
import time
from typing import Any

from .tlsio import HANDSHAKE_FAILURE_ALERT, Channel


def accept_shared(listener: socket.socket, wake: int) -> tuple[socket.socket, Any]:
    """Wait for a connection on a listener shared by worker processes, or for ``wake``
    (raises OSError then); BlockingIOError when another worker took it first."""
    ready, _, _ = select.select([listener.fileno(), wake], [], [])
    if wake in ready:
        raise OSError("stopped")
    conn, peer = listener.accept()
    conn.setblocking(True)
    return conn, peer


def set_nodelay(sock: socket.socket, on: bool) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if on else 0)
    except OSError:
        pass  # the peer already reset the connection: the next read or write says so


def refuse(sock: socket.socket) -> None:
    """Close at once with a TCP reset (SO_LINGER 0): the client fails fast, nothing is read."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass  # the peer reset it first: the close below ends it just the same
    sock.close()


def linger(ch: Channel, limit: int = 1 << 20, seconds: float = 0.5) -> None:
    """After an early 413: read (and drop) a bounded amount of what the client is still
    sending, so that closing does not reset the connection before the client has read
    the answer.  At most ``limit`` bytes or ``seconds``, whichever comes first."""
    end = time.monotonic() + seconds
    got = 0
    try:
        while got < limit:
            left = end - time.monotonic()
            if left <= 0:
                break
            ch.settimeout(left)
            data = ch.recv(65536)
            if not data:
                break
            got += len(data)
    except (ssl.SSLError, OSError):  # reset, timed out, or a TLS-SRP error (ConnectionError): we close anyway
        pass


def fail_handshake(sock: socket.socket, timeout: float) -> None:
    """Read the ClientHello and answer a fatal handshake_failure alert (the caller closes)."""
    sock.settimeout(timeout)
    try:
        sock.recv(16384)
        sock.sendall(HANDSHAKE_FAILURE_ALERT)
    except OSError:
        pass  # the client went silent or away first: it has no alert to read; the caller closes
