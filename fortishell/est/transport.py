"""The I/O side of EST: sends the sans-IO flows' requests, traces nothing.

Assembled from public httpx / httpcore parts: an :class:`httpx.Client` (auth
flow, timeouts, event hooks) over :class:`EstHttpTransport`, an
``httpx.BaseTransport`` around ``httpcore.ConnectionPool(network_backend=...)``.
The network backend (:class:`Backend`) applies the lab host map (connect to
the address ``network.resolve()`` gives while verifying TLS for the original
host name), TLS-SRP through tlslite-ng and the cancellation token; every
connection is a :class:`Stream` (plain, TLS or SRP) whose ``read`` / ``write``
/ ``close`` are the one place to hook socket behaviour.

Owns: the TLS context (trust = the given CA certificates, TLS 1.2 so that
``tls-unique`` exists; the client certificate's key loaded as the encrypted
PEM with its password from an in-memory file, never in clear on disk), the
source address, HTTP Basic (sent up front) and Digest (on a Digest challenge),
and the translation of ssl / httpcore / tlslite / OS errors into curl-style
texts (:class:`EstTransportError`).  It writes no trace line: :meth:`EstTransport.send`
returns what happened (status lines and headers in wire order, interim
responses such as a Digest challenge, TLS details, whether a connection was
opened) and the flow renders the trace.  Nothing here knows RFC 7030.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import ssl
import tempfile
import threading
import time
import typing
from collections.abc import Iterator
from dataclasses import dataclass

import httpcore
import httpx
from tlslite import HandshakeSettings, TLSConnection
from tlslite.errors import TLSAbruptCloseError, TLSError, TLSRemoteAlert

from fortishell import errors

from .cancel import CancelToken
from .curlerrors import SRP_FAILED, curl_error_text
from .events import EstRequest, EstResponse, Interim, TlsInfo
from .sockets import close_tls, quickack

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "FortiOS-EST"


@dataclass(frozen=True)
class TransportConfig:
    host: str
    port: int
    connect_to: tuple[str, int] | None = None  # where to connect (lab host map); None: host itself
    trust_pems: tuple[str, ...] = ()
    client_cert_pem: str | None = None
    client_key_pem: str | None = None  # the encrypted PEM as stored in the CMDB
    client_key_password: str | None = None
    source_ip: str | None = None
    http_username: str | None = None
    http_password: str | None = None
    srp_username: str | None = None
    srp_password: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    verify: bool = True  # False: RFC 7030 4.1.1 bootstrap (``ca import est``), the user checks the fingerprint

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


class EstTransportError(errors.TransportError):
    """A request failed on the wire; ``text`` is curl's ``Error buf`` text.

    ``connected``: a new connection was opened (TCP connected) for this request.
    """

    def __init__(self, text: str, *, connected: bool) -> None:
        super().__init__(text)
        self.text, self.connected = text, connected


# ------------------------------------------------------------------ streams
class Stream(httpcore.NetworkStream):
    """One connection (plain TCP, TLS or TLS-SRP) as httpcore sees it.

    ``read`` / ``write`` / ``close`` delegate to the wrapped stream; subclass
    or wrap here to change socket behaviour.  Every read first re-arms quick
    acknowledgements (:func:`.sockets.quickack`: no delayed-ACK stall against a
    server that sends header and body apart with Nagle on); closing an ``ssl``
    stream sends close_notify first (:func:`.sockets.close_tls`; tlslite-ng's
    SRP stream does so itself).  A cancellation shuts the socket down from the
    cancelling thread, so a blocked read or write returns at once.
    """

    def __init__(self, inner: httpcore.NetworkStream, backend: "Backend") -> None:
        self.inner, self.backend = inner, backend
        sock = inner.get_extra_info("socket")
        # the descriptor, not the socket object: wrapping in TLS detaches the plain socket object
        self._fd: int = sock.fileno() if isinstance(sock, socket.socket) else -1
        self._fd_lock = threading.Lock()  # abort (any thread) never touches a descriptor close released
        self._unregister = backend.cancel.on_cancel(self.abort)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        sock = self.inner.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            quickack(sock)
        return self.inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, timeout)

    def close(self) -> None:
        self._unregister()
        self._forget()
        sock = self.inner.get_extra_info("socket")
        if isinstance(sock, ssl.SSLSocket):
            close_tls(sock)
        self.inner.close()

    def _forget(self) -> None:
        with self._fd_lock:
            self._fd = -1

    def abort(self) -> None:
        """Shut the connection down (any thread): pending and later I/O fail at once.

        A duplicate of the descriptor is shut down and closed, under a lock that ``close``
        takes before the descriptor is released, so it is always still this connection's.
        """
        with self._fd_lock:
            if self._fd < 0:
                return
            try:
                with socket.socket(fileno=os.dup(self._fd)) as dup:
                    dup.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the peer closed it already: nothing left to stop

    def get_extra_info(self, info: str) -> typing.Any:
        return self.inner.get_extra_info(info)

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        cfg = self.backend.cfg
        try:  # a cancellation during the handshake still shuts this socket down
            if cfg.srp_username:
                inner: httpcore.NetworkStream = SrpStream.handshake(
                    self.inner.get_extra_info("socket"), cfg, server_hostname, timeout)
            else:
                inner = self.inner.start_tls(ssl_context, server_hostname, timeout)
        finally:
            self._unregister()
            self._forget()  # the TLS stream now owns the descriptor (and registers itself)
        return self.backend.stream_class(inner, self.backend)


class SrpStream(httpcore.NetworkStream):
    """A TLS-SRP connection (tlslite-ng) presented as an httpcore stream."""

    def __init__(self, conn: TLSConnection, sock: socket.socket) -> None:
        self.conn, self.sock = conn, sock
        version = {(3, 3): "TLSv1.2", (3, 2): "TLSv1.1", (3, 1): "TLSv1"}.get(conn.version, str(conn.version))
        self.info = TlsInfo(version=version, cipher=conn.getCipherName())

    @classmethod
    def handshake(cls, sock: socket.socket, cfg: TransportConfig, host: str | None,
                  timeout: float | None) -> "SrpStream":
        sock.settimeout(timeout)
        conn = TLSConnection(sock)
        settings = HandshakeSettings()
        settings.maxVersion = (3, 3)  # TLS-SRP (RFC 5054) is defined up to TLS 1.2
        try:
            conn.handshakeClientSRP(cfg.srp_username, cfg.srp_password or "", settings=settings,
                                    serverName=host if host and not _is_ip(host) else None)
        except TLSRemoteAlert as exc:
            sock.close()
            raise httpcore.ConnectError(f"{SRP_FAILED}: remote alert {exc}") from exc
        except (TLSError, OSError) as exc:
            sock.close()
            raise httpcore.ConnectError(f"{SRP_FAILED}: {exc or type(exc).__name__}") from exc
        return cls(conn, sock)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.sock.settimeout(timeout)
        try:
            data: bytes = self.conn.recv(max_bytes)
            return data
        except (TLSAbruptCloseError, ConnectionResetError):
            return b""
        except socket.timeout as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # httpcore writes b"" for an empty body chunk and for the end of every request; tlslite
        # would turn each into a zero-length application-data record (the ssl module sends
        # nothing).  A server that answers and closes as soon as the header block is in (as
        # gnutls-serv does) then finds those stray records unread, resets the connection, and the
        # next write fails with EPIPE, so an empty write puts nothing on the wire.
        if not buffer:
            return
        self.sock.settimeout(timeout)
        try:
            self.conn.sendall(buffer)
        except socket.timeout as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc

    def close(self) -> None:
        try:
            self.conn.close()
        except (TLSError, OSError):
            pass  # the peer is gone already; the socket is closed below either way
        self.sock.close()

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "socket":
            return self.sock
        if info == "is_readable":  # idle but readable: the server closed it (or sent junk)
            return is_socket_readable(self.sock)
        if info == "tls_info":
            return self.info
        return None


class Backend(httpcore.NetworkBackend):
    """httpcore's sync backend with the lab host map, a connection count and cancellation."""

    stream_class: type[Stream] = Stream

    def __init__(self, cfg: TransportConfig, cancel: CancelToken) -> None:
        self.cfg, self.cancel = cfg, cancel
        self.connections = 0  # TCP connections opened so far
        self.sync = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        if self.cancel.cancelled:
            raise httpcore.ConnectError("cancelled")
        target = self.target(host, port)
        inner = self.sync.connect_tcp(target[0], target[1], timeout, local_address, socket_options)
        self.connections += 1
        return self.stream_class(inner, self)

    def target(self, host: str, port: int) -> tuple[str, int]:
        """Where a connection to ``host:port`` goes: ``connect_to`` (the lab host map) or the host
        itself.  The ACME client's backend maps each host of its URLs instead."""
        return self.cfg.connect_to or (host, port)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        self.cancel.wait(seconds)


def is_socket_readable(sock: socket.socket) -> bool:
    try:
        return bool(select.select([sock], [], [], 0)[0]) or sock.fileno() < 0
    except (OSError, ValueError):
        return True


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Body(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self.response = response

    def __iter__(self) -> Iterator[bytes]:
        yield from self.response.iter_stream()

    def close(self) -> None:
        self.response.close()


class EstHttpTransport(httpx.BaseTransport):
    """An httpx transport over one ``httpcore.ConnectionPool`` with our network backend."""

    def __init__(self, ssl_context: ssl.SSLContext, backend: Backend, local_address: str | None) -> None:
        self.pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=1, local_address=local_address,
            network_backend=backend, retries=0,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions,
        )
        response = self.pool.handle_request(core)
        return httpx.Response(status_code=response.status, headers=response.headers, stream=_Body(response),
                              extensions=response.extensions)

    def close(self) -> None:
        self.pool.close()


# ------------------------------------------------------------------ auth
class BasicThenDigest(httpx.Auth):
    """HTTP Basic sent up front; answer a Digest challenge with httpx's DigestAuth."""

    def __init__(self, username: str, password: str) -> None:
        self.basic = httpx.BasicAuth(username, password)
        self.digest = httpx.DigestAuth(username, password)
        self.use_digest = False

    def auth_flow(self, request: httpx.Request) -> typing.Generator[httpx.Request, httpx.Response, None]:
        if self.use_digest:
            yield from self.digest.auth_flow(request)
            return
        response = yield next(self.basic.auth_flow(request))  # BasicAuth sets the header and yields
        challenge = response.headers.get("www-authenticate", "")
        if response.status_code != 401 or not challenge.lower().startswith("digest"):
            return
        self.use_digest = True
        del request.headers["Authorization"]
        flow = self.digest.auth_flow(request)
        next(flow)
        try:
            retry = flow.send(response)
        except StopIteration:
            return
        response = yield retry
        try:
            flow.send(response)
        except StopIteration:
            pass  # DigestAuth ends after one retry


# ------------------------------------------------------------------ the transport
def make_ssl_context(cfg: TransportConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # tls-unique (proof-of-possession) needs TLS 1.2
    ctx.check_hostname = cfg.verify
    ctx.verify_mode = ssl.CERT_REQUIRED if cfg.verify else ssl.CERT_NONE
    pems = "\n".join(cfg.trust_pems)
    if pems.strip():
        try:
            ctx.load_verify_locations(cadata=pems)
        except ssl.SSLError as exc:
            raise EstTransportError(f"cannot load the CA certificates: {exc.reason}", connected=False) from exc
    if cfg.client_cert_pem and cfg.client_key_pem:
        try:
            load_client_identity(ctx, cfg.client_cert_pem, cfg.client_key_pem, cfg.client_key_password)
        except ssl.SSLError as exc:
            raise EstTransportError(f"cannot load the client certificate: {exc.reason}",
                                    connected=False) from exc
    return ctx


def load_client_identity(ctx: ssl.SSLContext, cert_pem: str, key_pem: str, password: str | None) -> None:
    """Load the client certificate and its key (the encrypted PEM, decrypted by OpenSSL with ``password``).

    ``load_cert_chain`` reads files only.  The PEMs go into an anonymous
    in-memory file (``memfd_create``, read back through ``/proc/self/fd``);
    where that is unavailable, into a private temporary file that holds the
    encrypted key only, removed at once.  The clear key never leaves memory.
    """
    data = (key_pem.strip() + "\n" + cert_pem.strip() + "\n").encode()
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None and os.path.isdir("/proc/self/fd"):
        fd = memfd("fortishell-est-identity", getattr(os, "MFD_CLOEXEC", 0))
        try:
            os.write(fd, data)
            ctx.load_cert_chain(f"/proc/self/fd/{fd}", password=password or None)
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix="fortishell-est-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        ctx.load_cert_chain(path, password=password or None)
    finally:
        os.unlink(path)


_FAILURES = (httpx.HTTPError, httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
             httpcore.UnsupportedProtocol, OSError, TLSError, ssl.SSLError)


class EstTransport:
    """Sends :class:`EstRequest` objects over one kept-alive connection; traces nothing."""

    backend_class: type[Backend] = Backend

    def __init__(self, cfg: TransportConfig, cancel: CancelToken | None = None) -> None:
        self.cfg = cfg
        self.cancel = cancel if cancel is not None else CancelToken()
        self.backend = self.backend_class(cfg, self.cancel)
        self._interim: list[httpx.Response] = []
        auth = BasicThenDigest(cfg.http_username, cfg.http_password or "") if cfg.http_username else None
        self.client = httpx.Client(
            transport=EstHttpTransport(make_ssl_context(cfg), self.backend, cfg.source_ip), auth=auth,
            timeout=httpx.Timeout(cfg.timeout), base_url=cfg.base_url,
            event_hooks={"response": [self._interim.append]},
            headers={"User-Agent": USER_AGENT, "Accept": "*/*"}, follow_redirects=False, trust_env=False,
        )

    def send(self, req: EstRequest) -> EstResponse:
        """Perform one request; raises :class:`EstTransportError`, or ``Cancelled`` (from the token)."""
        self.cancel.check()
        started, opened = time.monotonic(), self.backend.connections
        self._interim.clear()
        try:
            response = self.client.request(req.method, req.path, headers=list(req.headers), content=req.body)
        except _FAILURES as exc:
            self.cancel.check()
            ms = int((time.monotonic() - started) * 1000)
            raise EstTransportError(curl_error_text(exc, self.cfg.host, self.cfg.port, ms),
                                    connected=self.backend.connections > opened) from None
        self.cancel.check()
        interim = tuple(Interim(r.status_code, r.reason_phrase, r.http_version, _raw_headers(r))
                        for r in self._interim if r is not response)
        return EstResponse(
            status=response.status_code, reason=response.reason_phrase, http_version=response.http_version,
            headers=_raw_headers(response), body=response.content,
            tls=_tls_info(response, new_connection=self.backend.connections > opened), interim=interim,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "EstTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _raw_headers(response: httpx.Response) -> tuple[tuple[str, str], ...]:
    return tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw)


def _tls_info(response: httpx.Response, *, new_connection: bool) -> TlsInfo:
    stream = response.extensions.get("network_stream")
    sslobj = stream.get_extra_info("ssl_object") if stream is not None else None
    if sslobj is None:
        srp = stream.get_extra_info("tls_info") if stream is not None else None  # TLS-SRP (tlslite)
        if isinstance(srp, TlsInfo):
            return TlsInfo(srp.version, srp.cipher, srp.tls_unique, new_connection=new_connection)
        return TlsInfo(new_connection=new_connection)
    try:
        unique = sslobj.get_channel_binding("tls-unique")
    except (ValueError, ssl.SSLError):
        unique = None
    cipher = sslobj.cipher()
    return TlsInfo(version=sslobj.version(), cipher=cipher[0] if cipher else None, tls_unique=unique,
                   new_connection=new_connection)
