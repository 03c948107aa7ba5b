"""Socket behaviour of the EST client: acknowledge at once, end TLS with close_notify.

Many EST servers write the HTTP header block and the body in two sends with
Nagle's algorithm on: the body waits until the header is acknowledged.  A
client that delays its ACKs (Linux holds one up to ~40 ms) then stalls every
reply.  :func:`quickack` is called before every read (the kernel leaves
quick-ACK mode on its own, e.g. after the client sends), so the header is
acknowledged as soon as it arrives.  Where ``TCP_QUICKACK`` does not exist
(not Linux) it does nothing.  :class:`.transport.Stream` calls both functions.

Closing an ``ssl`` connection sends a TLS close_notify first (a strict server
otherwise logs "unexpected eof"); the client does not wait for the server's
answering close_notify (TLS allows the initiator of the close not to wait).
TLS-SRP streams (tlslite-ng) send close_notify themselves.
"""

from __future__ import annotations

import socket
import ssl

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
