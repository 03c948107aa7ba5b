"""The I/O side of EST: an httpx client that performs the sans-IO flows' requests.

Owns: the TLS context (trust = the given CA certificates, TLS 1.2 so that
``tls-unique`` exists), the lab host map (connect to the address
``network.resolve()`` gives while verifying TLS for the original host name),
the TLS client certificate, the source address, HTTP Basic (sent up front) and
Digest (on a Digest challenge), TLS-SRP through tlslite-ng, the
``curl_header_debug_func`` / ``__curl_ssl_ctx_finalizer`` trace lines, and the
translation of ssl / httpx / tlslite / OS errors into curl-style texts
(:class:`fortishell.errors.TransportError`).  Nothing here knows RFC 7030.
"""

from __future__ import annotations

import ipaddress
import re
import select
import os
import socket
import ssl
import tempfile
import time
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpcore
import httpx
from tlslite import HandshakeSettings, TLSConnection
from tlslite.errors import TLSAbruptCloseError, TLSError, TLSRemoteAlert

from fortishell import errors

from . import catalogue as C
from .protocol import EstRequest, EstResponse, Output, TlsInfo
from .sockets import AckingStream

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "FortiOS-EST"


@dataclass
class TransportConfig:
    host: str
    port: int
    connect_to: tuple[str, int] | None = None  # where to connect (lab host map); None: host itself
    trust_pems: list[str] = field(default_factory=list)
    trust_label: str | None = None  # name of a single trusted CA (option 9) for the trace
    client_cert_pem: str | None = None
    client_key_pem: str | None = None  # unencrypted PEM (decrypted by the engine)
    source_ip: str | None = None
    http_username: str | None = None
    http_password: str | None = None
    srp_username: str | None = None
    srp_password: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"


# ------------------------------------------------------------------ errors
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


def curl_error_text(exc: BaseException, cfg: TransportConfig, elapsed_ms: int) -> str:
    """The curl ``Error buf`` text for a failure while talking to the server."""
    for cur in _chain(exc):
        if isinstance(cur, ssl.SSLCertVerificationError):
            if cur.verify_code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
                return f"SSL: no alternative certificate subject name matches target host name '{cfg.host}'"
            return f"SSL certificate problem: {cur.verify_message}"
        if isinstance(cur, (httpx.ConnectError, httpcore.ConnectError)) and str(cur).startswith(SRP_FAILED):
            return str(cur)
        if isinstance(cur, ConnectionRefusedError):
            return f"Failed to connect to {cfg.host} port {cfg.port} after {elapsed_ms} ms: Connection refused"
        if isinstance(cur, socket.gaierror):
            return f"Could not resolve host: {cfg.host}"
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
            return f"Failed to connect to {cfg.host} port {cfg.port} after {elapsed_ms} ms: {cur.strerror}"
    return f"Failure when receiving data from the peer ({type(exc).__name__})"


# ------------------------------------------------------------------ network backend
class _SrpStream(httpcore.NetworkStream):
    """A TLS-SRP connection (tlslite-ng) presented as an httpcore stream."""

    def __init__(self, conn: TLSConnection, sock: socket.socket) -> None:
        self._conn, self._sock = conn, sock
        version = {(3, 3): "TLSv1.2", (3, 2): "TLSv1.1", (3, 1): "TLSv1"}.get(conn.version, str(conn.version))
        self.info = TlsInfo(version=version, cipher=conn.getCipherName())

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._sock.settimeout(timeout)
        try:
            return self._conn.recv(max_bytes)
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
        self._sock.settimeout(timeout)
        try:
            self._conn.sendall(buffer)
        except socket.timeout as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc

    def close(self) -> None:
        try:
            self._conn.close()
        except (TLSError, OSError):
            pass
        self._sock.close()

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "socket":
            return self._sock
        if info == "is_readable":  # idle but readable: the server closed it (or sent junk)
            return is_socket_readable(self._sock)
        if info == "tls_info":
            return self.info
        return None


class _Stream(httpcore.NetworkStream):
    """A plain TCP stream whose ``start_tls`` prints the SSL_CTX trace and may do TLS-SRP."""

    def __init__(self, inner: httpcore.NetworkStream, owner: "_Backend") -> None:
        self._inner, self._owner = inner, owner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        cfg, out = self._owner.cfg, self._owner.out
        if cfg.srp_username:
            return AckingStream(self._start_srp(cfg, server_hostname, timeout))
        if cfg.trust_label:
            out.emit(C.SSL_CA_LOADED, name=cfg.trust_label)
        else:
            out.emit(C.SSL_GLOBAL_CAS)
        out.emit(C.SSL_EX_DATA)
        return AckingStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def _start_srp(self, cfg: TransportConfig, host: str | None, timeout: float | None) -> httpcore.NetworkStream:
        sock: socket.socket = self._inner.get_extra_info("socket")
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
        return _SrpStream(conn, sock)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, cfg: TransportConfig, out: Output) -> None:
        self.cfg, self.out = cfg, out
        self._sync = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        target = self.cfg.connect_to or (host, port)
        return _Stream(self._sync.connect_tcp(target[0], target[1], timeout, local_address, socket_options), self)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


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


class _HttpTransport(httpx.HTTPTransport):
    """httpx's transport with our network backend (host map, SRP, TLS trace)."""

    def __init__(self, ssl_context: ssl.SSLContext, backend: _Backend, local_address: str | None) -> None:
        super().__init__(verify=ssl_context)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=1, local_address=local_address,
            network_backend=backend, retries=0,
        )


# ------------------------------------------------------------------ auth
class BasicThenDigest(httpx.Auth):
    """HTTP Basic sent up front; answer a Digest challenge with httpx's DigestAuth."""

    def __init__(self, username: str, password: str) -> None:
        self._basic = httpx.BasicAuth(username, password)
        self._digest = httpx.DigestAuth(username, password)
        self._use_digest = False

    def auth_flow(self, request: httpx.Request) -> typing.Generator[httpx.Request, httpx.Response, None]:
        if self._use_digest:
            yield from self._digest.auth_flow(request)
            return
        request.headers["Authorization"] = self._basic._auth_header
        response = yield request
        challenge = response.headers.get("www-authenticate", "")
        if response.status_code != 401 or not challenge.lower().startswith("digest"):
            return
        self._use_digest = True
        del request.headers["Authorization"]
        flow = self._digest.auth_flow(request)
        next(flow)
        try:
            retry = flow.send(response)
        except StopIteration:
            return
        response = yield retry
        try:
            flow.send(response)
        except StopIteration:
            pass


# ------------------------------------------------------------------ the transport
def make_ssl_context(cfg: TransportConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # tls-unique (proof-of-possession) needs TLS 1.2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    pems = "\n".join(cfg.trust_pems)
    if pems.strip():
        try:
            ctx.load_verify_locations(cadata=pems)
        except ssl.SSLError as exc:
            raise errors.TransportError(f"cannot load the CA certificates: {exc.reason}") from exc
    if cfg.client_cert_pem and cfg.client_key_pem:
        fd, path = tempfile.mkstemp(prefix="fortishell-est-", suffix=".pem")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(cfg.client_key_pem + "\n" + cfg.client_cert_pem)
            ctx.load_cert_chain(path)
        except ssl.SSLError as exc:
            raise errors.TransportError(f"cannot load the client certificate: {exc.reason}") from exc
        finally:
            os.unlink(path)
    return ctx


class EstTransport:
    """Sends :class:`EstRequest` objects over one kept-alive TLS connection."""

    def __init__(self, cfg: TransportConfig, out: Output) -> None:
        self.cfg, self.out = cfg, out
        backend = _Backend(cfg, out)
        transport = _HttpTransport(make_ssl_context(cfg), backend, cfg.source_ip)
        auth = BasicThenDigest(cfg.http_username, cfg.http_password or "") if cfg.http_username else None
        self._client = httpx.Client(
            transport=transport, auth=auth, timeout=httpx.Timeout(cfg.timeout),
            base_url=cfg.base_url, event_hooks={"response": [self._headers_hook]},
            headers={"User-Agent": USER_AGENT, "Accept": "*/*"}, follow_redirects=False, trust_env=False,
        )

    def _headers_hook(self, response: httpx.Response) -> None:
        reason = response.reason_phrase
        self.out.emit(C.HEADER_RECEIVED, line=f"{response.http_version} {response.status_code} {reason}".rstrip())
        for key, value in response.headers.raw:
            self.out.emit(C.HEADER_RECEIVED, line=f"{key.decode('latin-1')}: {value.decode('latin-1')}")
        self.out.emit(C.HEADER_RECEIVED, line="")

    def send(self, req: EstRequest) -> EstResponse:
        started = time.monotonic()
        try:
            response = self._client.request(req.method, req.path, headers=list(req.headers), content=req.body)
            tls = _tls_info(response)
        except (httpx.HTTPError, httpcore.NetworkError, OSError, TLSError, ssl.SSLError) as exc:
            ms = int((time.monotonic() - started) * 1000)
            raise errors.TransportError(curl_error_text(exc, self.cfg, ms)) from None
        return EstResponse(
            status=response.status_code, reason=response.reason_phrase, http_version=response.http_version,
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw),
            body=response.content, tls=tls,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "EstTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tls_info(response: httpx.Response) -> TlsInfo | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    sslobj = stream.get_extra_info("ssl_object")
    if sslobj is None:
        return stream.get_extra_info("tls_info")  # TLS-SRP (tlslite) or None
    try:
        unique = sslobj.get_channel_binding("tls-unique")
    except (ValueError, ssl.SSLError):
        unique = None
    cipher = sslobj.cipher()
    return TlsInfo(version=sslobj.version(), cipher=cipher[0] if cipher else None, tls_unique=unique)
