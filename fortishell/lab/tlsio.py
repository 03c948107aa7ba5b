"""TLS for the lab responder: one port, two TLS stacks.

Every accepted TCP connection is first *peeked* at (``MSG_PEEK``, nothing
consumed): a ClientHello that offers TLS-SRP (the ``srp`` extension, type 12,
or an SRP cipher suite 0xC01A..0xC022) is handed to tlslite-ng, which does the
SRP handshake against the responder's verifier database; anything else goes
to Python's ``ssl`` (OpenSSL) with the lab server certificate.  Both end up as
a :class:`Channel` the HTTP layer reads and writes without knowing which.

Client certificates (``ssl`` path only): the server asks for one (optional) and
trusts the lab CA.  OpenSSL's own time check is switched off
(``X509_V_FLAG_NO_CHECK_TIME``) because validity is judged on the responder's
*virtual* clock by the EST layer; a certificate that does not chain to the lab
CA is refused by OpenSSL during the handshake (alert ``unknown_ca``), which is
what curl or the shell then report.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from .ca import LabCA

X509_V_FLAG_NO_CHECK_TIME = 0x200000
SRP_EXTENSION = 12
SRP_SUITES = range(0xC01A, 0xC023)
# A fatal handshake_failure alert (TLS 1.2 record): the ``tls_failure`` fault.
HANDSHAKE_FAILURE_ALERT = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
_PEEK_MAX = 16384
CLOSE_WAIT = 1.0  # seconds to wait for the peer's close_notify after sending ours


class HandshakeError(Exception):
    """The TLS handshake did not complete (bad peer, refused certificate, wrong SRP secret)."""


@dataclass
class Channel:
    """An established TLS connection: bytes in and out plus what the handshake proved."""

    sock: object  # ssl.SSLSocket or tlslite TLSConnection
    peer: tuple[str, int]
    kind: str  # "tls" or "srp"
    tls_version: str = ""
    peer_cert: x509.Certificate | None = None
    tls_unique: bytes | None = None
    srp_user: str | None = None
    closed: bool = field(default=False)
    ragged_eof: bool = field(default=False)  # the peer closed TCP without a close_notify

    def recv(self, n: int) -> bytes:
        """Up to ``n`` bytes; ``b""`` at the end (close_notify, or a plain TCP close).
        A TLS-SRP protocol failure is raised as :class:`ConnectionError`."""
        if isinstance(self.sock, ssl.SSLSocket):
            try:
                return self.sock.recv(n)
            except ssl.SSLEOFError:  # wrapped with suppress_ragged_eofs=False to notice it
                self.ragged_eof = True
                return b""
        from tlslite.errors import TLSAbruptCloseError, TLSError

        try:
            return bytes(self.sock.recv(n))  # type: ignore[attr-defined]
        except TLSAbruptCloseError:
            self.ragged_eof = True
            return b""
        except TLSError as exc:
            raise ConnectionError(f"TLS-SRP: {exc!r}") from exc

    def sendall(self, data: bytes) -> None:
        if isinstance(self.sock, ssl.SSLSocket):
            self.sock.sendall(data)
            return
        from tlslite.errors import TLSError

        try:
            self.sock.sendall(data)  # type: ignore[attr-defined]
        except TLSError as exc:
            raise ConnectionError(f"TLS-SRP: {exc!r}") from exc

    @property
    def raw(self) -> socket.socket | None:
        """The TCP socket under the TLS layer (the ``ssl`` socket is one itself)."""
        if isinstance(self.sock, socket.socket):
            return self.sock
        inner = getattr(self.sock, "sock", None)  # tlslite's TLSConnection.sock
        return inner if isinstance(inner, socket.socket) else None

    def settimeout(self, seconds: float | None) -> None:
        raw = self.raw
        if raw is not None:
            raw.settimeout(seconds)

    def set_nodelay(self, on: bool) -> None:
        """TCP_NODELAY on (every send leaves at once) or off (Nagle: a small send waits
        for the acknowledgement of the previous one)."""
        raw = self.raw
        if raw is not None:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if on else 0)

    def close(self, wait: float = CLOSE_WAIT) -> None:
        """End the connection with a TLS close_notify, then close the socket.

        ``ssl``: :func:`shutdown_tls` (waits at most ``wait`` seconds for the
        peer's close_notify).  tlslite-ng: ``TLSConnection.close()`` sends
        close_notify and closes the socket without waiting."""
        if self.closed:
            return
        self.closed = True
        if isinstance(self.sock, ssl.SSLSocket):
            shutdown_tls(self.sock, wait)
            return
        from tlslite.errors import TLSError

        try:
            self.sock.close()  # type: ignore[attr-defined]
        except (TLSError, OSError, ValueError):
            # the peer is gone or answered with garbage: the socket is closed all the same
            tls_sock = getattr(self.sock, "sock", None)
            if isinstance(tls_sock, socket.socket):
                tls_sock.close()


def shutdown_tls(tls: ssl.SSLSocket, wait: float = CLOSE_WAIT) -> None:
    """Send close_notify on ``tls`` and close it.

    ``SSLSocket.unwrap()`` sends our close_notify, then reads until the peer's
    arrives; the read is bounded by ``wait`` seconds.  Waiting also serves as a
    lingering close: a peer still sending gets its bytes read instead of a TCP
    reset that could destroy the reply it has not read yet.  A peer that has
    already gone (reset, EOF without close_notify) or does not answer in time
    ends the wait; the socket is closed either way."""
    try:
        tls.settimeout(wait)
        tls.unwrap()
    except (ssl.SSLError, OSError, ValueError):
        pass  # the peer's close_notify did not come: ours is sent (or the peer is gone)
    finally:
        tls.close()


# ----------------------------------------------------------------- ClientHello
def client_hello_offers_srp(data: bytes) -> bool | None:
    """True/False once ``data`` holds a whole first TLS record with a ClientHello;
    None while more bytes are needed.  Anything that is not a ClientHello -> False."""
    if len(data) < 5:
        return None
    if data[0] != 0x16:
        return False
    rec_len = int.from_bytes(data[3:5], "big")
    if len(data) < 5 + rec_len:
        return None if len(data) < _PEEK_MAX else False
    hs = data[5 : 5 + rec_len]
    if len(hs) < 4 or hs[0] != 0x01:
        return False
    body = hs[4:]
    try:
        pos = 2 + 32
        pos += 1 + body[pos]  # session id
        cs_len = int.from_bytes(body[pos : pos + 2], "big")
        suites = [int.from_bytes(body[i : i + 2], "big") for i in range(pos + 2, pos + 2 + cs_len, 2)]
        pos += 2 + cs_len
        pos += 1 + body[pos]  # compression methods
        if any(s in SRP_SUITES for s in suites):
            return True
        if pos + 2 > len(body):
            return False
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= min(end, len(body)):
            ext = int.from_bytes(body[pos : pos + 2], "big")
            if ext == SRP_EXTENSION:
                return True
            pos += 4 + int.from_bytes(body[pos + 2 : pos + 4], "big")
    except IndexError:
        return False
    return False


def peek_is_srp(sock: socket.socket, timeout: float) -> bool:
    """Wait (bounded) for the first record and tell whether it asks for SRP."""
    deadline = time.monotonic() + timeout
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = sock.recv(_PEEK_MAX, socket.MSG_PEEK)
        if not data:
            raise HandshakeError("connection closed before the ClientHello")
        verdict = client_hello_offers_srp(data)
        if verdict is not None:
            return verdict
        if time.monotonic() >= deadline:
            raise HandshakeError("incomplete ClientHello")
        time.sleep(0.002)


# ----------------------------------------------------------------- ssl (OpenSSL)
def make_ssl_context(ca: LabCA, *, tls12_only: bool) -> ssl.SSLContext:
    """Server context: lab server cert + chain, TLS 1.2+ (exactly 1.2 for tls-unique PoP)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls12_only:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    tmp = Path(tempfile.mkdtemp(prefix="fortishell-lab-"))
    try:
        chain, key = tmp / "chain.pem", tmp / "key.pem"
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(ca.server_key_pem)
        chain.write_text(ca.server_cert_pem + ca.cert_pem)
        ctx.load_cert_chain(chain, key)
    finally:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    ctx.load_verify_locations(cadata=ca.cert_pem)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.verify_flags = ctx.verify_flags | X509_V_FLAG_NO_CHECK_TIME  # validity: responder clock
    return ctx


def wrap_ssl(sock: socket.socket, ctx: ssl.SSLContext, peer: tuple[str, int], timeout: float) -> Channel:
    sock.settimeout(timeout)
    try:
        tls = ctx.wrap_socket(sock, server_side=True, suppress_ragged_eofs=False)
    except (ssl.SSLError, OSError) as exc:
        raise HandshakeError(str(exc)) from None
    cert = None
    der = tls.getpeercert(binary_form=True)
    if der:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            cert = None
    unique = None
    if tls.version() in ("TLSv1.2", "TLSv1.1", "TLSv1"):
        try:
            unique = tls.get_channel_binding("tls-unique")
        except (ValueError, ssl.SSLError):
            unique = None
    return Channel(tls, peer, "tls", tls.version() or "", cert, unique)


# ----------------------------------------------------------------- tlslite (SRP)
class SrpUsers:
    """The responder's SRP verifier database (tlslite-ng), built lazily (verifiers cost time)."""

    BITS = 2048

    def __init__(self, users: dict[str, str]) -> None:
        self._users = dict(users)
        self._db: Any = None
        self._lock = threading.Lock()

    def db(self) -> Any:  # a tlslite VerifierDB (tlslite-ng has no type information)
        with self._lock:
            if self._db is None:
                from tlslite.api import VerifierDB

                db = VerifierDB()
                db.create()
                for user, pwd in self._users.items():
                    # tlslite looks users up by the raw bytes of the ClientHello srp extension
                    db[user.encode()] = VerifierDB.makeVerifier(user.encode(), pwd.encode(), self.BITS)
                self._db = db
            return self._db


def wrap_srp(sock: socket.socket, users: SrpUsers, peer: tuple[str, int], timeout: float) -> Channel:
    from tlslite.api import HandshakeSettings, TLSConnection
    from tlslite.errors import TLSError

    sock.settimeout(timeout)
    conn = TLSConnection(sock)
    settings = HandshakeSettings()
    settings.minVersion = (3, 3)  # TLS 1.2 (SRP does not exist in TLS 1.3)
    settings.maxVersion = (3, 3)
    settings.versions = [(3, 3)]
    try:
        conn.handshakeServer(verifierDB=users.db(), settings=settings)
    except (TLSError, OSError, SyntaxError, ValueError) as exc:
        # tlslite's alerts and closes, socket errors, and its parsers' DecodeError (a SyntaxError)
        # or ValueError on a malformed message; anything else is a bug, logged by the server
        try:
            conn.sock.close()
        except OSError:
            pass
        raise HandshakeError(f"SRP handshake failed: {exc!r}") from None
    user = conn.session.srpUsername if conn.session else None
    return Channel(conn, peer, "srp", "TLSv1.2", None, None, user or None)
