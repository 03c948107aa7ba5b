"""The lab EST responder: sockets, threads, HTTP framing (the ``lab-server`` command: :mod:`.cli`).

:class:`EstResponder` listens on one TCP port, accepts in a background thread
and serves every connection in its own thread (at most ``max_connections`` at
once).  Each connection is TLS (``ssl``) or TLS-SRP (tlslite-ng), chosen by
peeking at the ClientHello (see :mod:`.tlsio`); HTTP/1.1 is parsed and framed
by h11 with header names sent exactly as written (no ``Date``/``Server``);
what to answer is decided by :class:`.estapp.EstApp`.

Limits (the lab may be shared by a classroom, so one misbehaving client must
not take it down):

* at most ``max_connections`` connections are served at once; a connection
  beyond the cap is *refused at once* (closed with a TCP reset, nothing read)
  rather than left waiting in the listen queue, so a client fails fast with
  "connection reset" instead of hanging until its own timeout;
* every phase of a connection -- the TLS handshake, then each request from the
  first byte waited for to the end of its body -- must complete within
  ``io_timeout`` seconds in total; a reaper thread shuts the socket of a
  connection past its deadline, so a slow-loris client trickling one byte at a
  time is cut off however it paces its bytes (an idle keep-alive connection is
  closed after ``io_timeout`` as well);
* a request body larger than ``max_body`` (64 KiB) is answered ``413`` as soon
  as its ``Content-Length`` (or the running total of a chunked body) says so,
  without reading the rest; request heads are limited to 16 KiB (``400``);
* TLS 1.2 or later only (both the OpenSSL and the TLS-SRP stack).

Every connection the responder ends is ended with a TLS close_notify (see
:meth:`.tlsio.Channel.close`), including the idle and deadline cut-offs.  The
serving thread keeps its own deadline: every read and write is given the time
left until it, so a late connection times out in its own thread, which then
writes close_notify.  The cut-off must not come from shutting the socket's
reading side: OpenSSL 3 answers the end-of-file its read then sees with a fatal
``decode_error`` alert, not close_notify.  The reaper thread is a backstop only:
``REAP_GRACE`` seconds past the deadline it shuts the reading side of a
connection whose thread has not ended it (a phase without its own timeout), and
the whole socket ``REAP_GRACE`` seconds after that (a client that does not read
what it is sent).  Strict clients (OpenSSL 3 without ragged-EOF tolerance,
ApacheBench) read every reply cleanly.

An unexpected error while answering a request is logged with its traceback on
the ``fortishell.lab`` logger and answered ``500``.

Embedding::

    with EstResponder(ResponderConfig(state_dir=tmp)) as lab:
        lab.url            # "https://127.0.0.1:PORT"
        lab.faults.set(status_500=True)
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import h11

from ..clock import Clock
from ..errors import FortiError, LabError
from . import classroom
from .ca import LabCA
from .estapp import NONCE_LIFETIME, EstApp, Reply, Request, error
from .faults import Faults
from .state import LabState
from .sockets import accept_shared, fail_handshake, linger, refuse, set_nodelay
from .tlsio import Channel, HandshakeError, SrpUsers, make_ssl_context, peek_is_srp, wrap_srp, wrap_ssl

DEFAULT_CSRATTRS = "MCYGBysGAQEBARYGCSqGSIb3DQEJAQYFK4EEACIGCWCGSAFlAwQCAg=="

_LOG = logging.getLogger("fortishell.lab")
REAP_GRACE = 0.5  # seconds from a missed deadline to the reaper's read-side cut, and on to the whole


@dataclass
class ResponderConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = ephemeral
    state_dir: Path | None = None
    users: dict[str, str] = field(default_factory=lambda: {"estuser": "estpwd"})
    auth: Literal["basic", "digest"] = "basic"
    srp_users: dict[str, str] = field(default_factory=lambda: {"srpuser": "srppwd"})
    require_pop: bool = False
    csrattrs_b64: str = DEFAULT_CSRATTRS
    clock: Clock | None = None
    ca: LabCA | None = None
    max_connections: int = 64
    max_body: int = 65536
    io_timeout: float = 10.0
    # called after each answer is decided (access log, see .accesslog): request, reply, seconds
    on_request: Callable[[Request, Reply, float], None] | None = None
    digest_nonce_lifetime: float = NONCE_LIFETIME
    faults: Faults | None = None  # the knobs (default: this process's own; lab/workers.py: shared)


class EstResponder:
    """An RFC 7030 responder for the lab (see module docstring)."""

    def __init__(self, config: ResponderConfig | None = None) -> None:
        self.config = config = config or ResponderConfig()
        if config.auth not in ("basic", "digest"):
            raise LabError(f"Unknown HTTP authentication '{config.auth}' (basic or digest)")
        self.ca = config.ca or LabCA.shipped()
        self.clock = config.clock or Clock()
        self.faults = config.faults or Faults()
        self.state = LabState(config.state_dir)
        self.app = EstApp(
            ca=self.ca,
            state=self.state,
            faults=self.faults,
            now=self.clock.now,
            users=dict(config.users),
            auth=config.auth,
            require_pop=config.require_pop,
            csrattrs_b64=config.csrattrs_b64,
            max_body=config.max_body,
            nonce_lifetime=config.digest_nonce_lifetime,
        )
        self._ssl = make_ssl_context(self.ca, tls12_only=config.require_pop)
        self._srp = SrpUsers(config.srp_users)
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._reaper_thread: threading.Thread | None = None
        self.refused = 0  # connections refused by the cap (a counter for tests and benchmarks)
        self.accepted = 0  # connections accepted and served (a counter for tests and benchmarks)
        self.ragged_eofs = 0  # connections the client ended without a TLS close_notify (ditto)
        self._slots = threading.BoundedSemaphore(max(1, config.max_connections))
        self._live: set[_Conn] = set()
        self._live_lock = threading.Lock()
        self._stopping = threading.Event()
        self._shared = False  # the listener is shared by worker processes (bind(shared=True))
        self._wake: tuple[int, int] | None = None  # then stop() wakes the accept thread through this pipe
        self.host = config.host
        self.port = config.port

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def bind(self, *, shared: bool = False) -> "EstResponder":
        """Listen without serving yet.  ``shared``: the listening socket is going to be
        inherited by worker processes (lab/workers.py), each serving it with :meth:`start`."""
        if self._listener is not None:
            return self
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.host, self.config.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise LabError(f"Cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}") from None
        if shared:  # the workers wait in select and race for each connection: the loser must not block
            sock.setblocking(False)
        self._shared = shared
        self._listener = sock
        self.port = sock.getsockname()[1]
        return self

    def release_listener(self) -> None:
        """Close this process's copy of the listening socket (the pre-fork parent's)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def start(self) -> "EstResponder":
        if self._accept_thread is not None:
            return self
        self.bind()
        assert self._listener is not None
        if self._shared:  # shared with other processes: stop() must not shut it down
            self._wake = os.pipe()
        self._stopping.clear()
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"est-lab-{self.port}", daemon=True)
        self._accept_thread.start()
        self._reaper_thread = threading.Thread(target=self._reap_loop, name=f"est-lab-reaper-{self.port}", daemon=True)
        self._reaper_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        listener, self._listener = self._listener, None
        if self._shared:  # shutting the socket down would stop every worker: wake our own accept
            if self._wake is not None:
                os.write(self._wake[1], b"x")
        elif listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._live_lock:
            for conn in self._live:
                conn.kill(graceful=False)
        for attr in ("_accept_thread", "_reaper_thread"):
            thread = getattr(self, attr)
            if thread is not None:
                thread.join(timeout=5)
                setattr(self, attr, None)
        if listener is not None:
            listener.close()
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None

    @property
    def open_connections(self) -> int:
        """Connections being served right now."""
        with self._live_lock:
            return len(self._live)

    def __enter__(self) -> "EstResponder":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ accept
    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            try:
                conn, peer = listener.accept() if self._wake is None else accept_shared(listener, self._wake[0])
            except BlockingIOError:
                continue  # a shared listener: another worker took the connection
            except OSError:
                break
            if self._stopping.is_set():
                conn.close()
                break
            if not self._slots.acquire(blocking=False):
                self.refused += 1
                refuse(conn)
                continue
            self.accepted += 1
            entry = _Conn(conn, time.monotonic() + self.config.io_timeout)
            with self._live_lock:
                self._live.add(entry)
            threading.Thread(target=self._serve, args=(entry, peer[:2]), daemon=True).start()

    def _reap_loop(self) -> None:
        """Shut down connections past their deadline (see the module docstring)."""
        tick = min(0.25, max(0.02, self.config.io_timeout / 5))
        while not self._stopping.wait(tick):
            now = time.monotonic()
            with self._live_lock:
                for conn in self._live:
                    if conn.deadline + REAP_GRACE < now:
                        conn.kill(graceful=not conn.read_shut)
                        conn.deadline = now  # the whole socket next, REAP_GRACE from now

    def _serve(self, conn: "_Conn", peer: tuple[str, int]) -> None:
        channel: Channel | None = None
        sock = conn.sock
        try:
            set_nodelay(sock, not self.faults.snapshot().split_writes)
            if self.faults.snapshot().tls_failure:
                fail_handshake(sock, self.config.io_timeout)
                return
            timeout = conn.remaining()  # the handshake's share of the deadline set at accept
            if peek_is_srp(sock, timeout):
                channel = wrap_srp(sock, self._srp, peer, conn.remaining())
            else:
                channel = wrap_ssl(sock, self._tls_context(), peer, conn.remaining())
                if isinstance(channel.sock, socket.socket):
                    with self._live_lock:
                        conn.sock = channel.sock  # ssl took over the descriptor
            self._http(channel, conn)
        except (HandshakeError, OSError):
            pass  # the peer's doing (bad handshake, reset, timeout): nothing to answer, nothing to log
        except Exception:  # never let one connection take the responder down, but say why
            _LOG.exception("lab responder: connection from %s:%s failed", *peer[:2])
        finally:
            with self._live_lock:  # first: the reaper must not touch a closed (reused) descriptor
                self._live.discard(conn)
                if channel is not None and channel.ragged_eof and not conn.read_shut:  # not our own cut-off
                    self.ragged_eofs += 1
            if channel is not None:
                channel.close()
            try:
                sock.close()
            except OSError:
                pass
            self._slots.release()

    def _tls_context(self) -> ssl.SSLContext:
        """The server context the PKI topology knobs ask for (lab/topology.py)."""
        return self.app.topology.server_context(self._ssl, self.faults.snapshot(),
                                                tls12_only=self.config.require_pop)

    # ------------------------------------------------------------ HTTP
    def _http(self, ch: Channel, live: "_Conn") -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
        io_timeout = self.config.io_timeout
        while not self._stopping.is_set():
            live.deadline = time.monotonic() + io_timeout  # the whole next request, idle wait included
            try:
                req = self._read_request(conn, ch, live)
            except _TooLarge:
                self._send(conn, ch, error(413, "Payload Too Large"), close=True)
                linger(ch)
                return
            except h11.RemoteProtocolError:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    self._send(conn, ch, error(400, "Bad Request"), close=True)
                return
            if req is None:
                return
            started = time.monotonic()
            try:
                reply = self.app.handle(req)
            except FortiError as exc:  # e.g. the state directory became unwritable
                _LOG.error("lab responder: %s %s: %s", req.method, req.target, " ".join(exc.lines))
                reply = error(500, " ".join(exc.lines))
            except Exception:  # a bug answering one request: logged with its traceback, answered 500
                _LOG.exception("lab responder: %s %s from %s:%s failed", req.method, req.target, *req.peer[:2])
                reply = error(500, "Internal Server Error")
            live.deadline = time.monotonic() + reply.delay + io_timeout  # answering (a slow reader is cut off)
            if reply.delay:
                if self._stopping.wait(reply.delay):
                    return
            if self.config.on_request is not None:
                self.config.on_request(req, reply, time.monotonic() - started)
            if reply.mode == "drop":
                return
            ch.settimeout(live.remaining())  # a client that does not read is cut off at the deadline
            if not self._send(conn, ch, reply):
                return
            if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                return
            try:
                conn.start_next_cycle()
            except h11.LocalProtocolError:
                return

    def _read_request(self, conn: h11.Connection, ch: Channel, live: "_Conn") -> Request | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                ch.settimeout(live.remaining())  # past the deadline: TimeoutError, the thread closes cleanly
                data = ch.recv(65536)
                conn.receive_data(data)  # b"" marks EOF
                continue
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return None
            if isinstance(event, h11.Request):
                head = event
                for name, value in event.headers:  # h11 checked it is digits
                    if name == b"content-length" and int(value) > self.config.max_body:
                        raise _TooLarge
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.config.max_body:
                    raise _TooLarge
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return Request(
                    method=head.method.decode("ascii", "replace"),
                    target=head.target.decode("ascii", "replace"),
                    headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers],
                    body=bytes(body),
                    peer=ch.peer,
                    peer_cert=ch.peer_cert,
                    tls_unique=ch.tls_unique,
                    srp_user=ch.srp_user,
                )

    def _send(self, conn: h11.Connection, ch: Channel, reply: Reply, *, close: bool = False) -> bool:
        """Write ``reply``: header block and body in one send, or in two with Nagle on
        (the ``split_writes`` knob, as real EST servers do)."""
        headers = list(reply.headers)
        split = self.faults.snapshot().split_writes
        try:
            ch.set_nodelay(not split)
            head = conn.send(h11.Response(status_code=reply.status, headers=headers, reason=reply.reason.encode()))
            if reply.http10:  # h11 writes HTTP/1.1 only; the reply is framed by Content-Length and a close
                head = b"HTTP/1.0" + head[len(b"HTTP/1.1"):]
            if reply.mode == "truncate":
                ch.sendall(head + reply.body[: len(reply.body) // 2])
                return False
            data = b"".join(conn.send(h11.Data(data=piece)) for piece in _pieces(reply.body, reply.chunked))
            end = conn.send(h11.EndOfMessage())
            if split and data:
                ch.sendall(head)
                ch.sendall(data + end)
            else:
                ch.sendall(head + data + end)
        except (h11.LocalProtocolError, OSError):
            return False
        return not close


class _TooLarge(Exception):
    pass


class _Conn:
    """A live connection as the reaper sees it: the socket to shut down and its deadline."""

    __slots__ = ("sock", "deadline", "read_shut")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.read_shut = False

    def remaining(self) -> float:
        """Seconds left until the deadline: the timeout of the serving thread's next read or write."""
        return max(0.001, self.deadline - time.monotonic())

    def kill(self, *, graceful: bool = True) -> None:
        """Shut the socket down so that the serving thread's blocking call returns.

        ``graceful``: the reading side only (a blocked read sees end-of-file and the
        thread can still write its close_notify); else both sides.  The TCP socket is
        shut down through ``socket.socket.shutdown`` even when ``ssl`` owns it:
        ``SSLSocket.shutdown`` would also drop the TLS state the serving thread uses."""
        self.read_shut = True
        try:
            socket.socket.shutdown(self.sock, socket.SHUT_RD if graceful else socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass  # already closed or reset: the serving thread is on its way out


def _pieces(body: bytes, chunked: bool) -> list[bytes]:
    """The body as h11 Data events: whole, or (the ``chunked`` habit) in three chunks."""
    if not body:
        return []
    if not chunked:
        return [body]
    step = max(1, -(-len(body) // 3))
    return [body[i : i + step] for i in range(0, len(body), step)]


if __name__ == "__main__":  # the lab-server command lives in .cli; kept for `python -m fortishell.lab.server`
    from .cli import main

    sys.exit(main(sys.argv[1:]))
