"""AcmeServer: the lab ACME server on TLS (``acme.lab``, HTTPS 443 on the lab network).

The HTTPS plumbing around :class:`~fortishell.lab.acmeapp.AcmeApp`: the
standard library's threading HTTP server, TLS per connection in the handler
thread (a slow client never blocks the listener), ``close_notify`` before every
close, a TLS certificate for ``acme.lab`` / ``localhost`` / 127.0.0.1 issued by
the lab CA, and the http-01 validator: a real HTTP GET of
``http://<domain>/.well-known/acme-challenge/<token>`` sent to the address
``http01_target(domain)`` gives (the device's challenge responder in the
embedded lab; ``127.0.0.1:<port>`` for a classroom or certbot's standalone
responder).  One access-log line per request (``log``); an unexpected error answers 500
(``serverInternal``) with its traceback on the ``fortishell.lab`` logger.

A classroom ``lab-server --acme-port P`` gives ``http01_port``: the validator then fetches
from the address the challenge-ready request came from, at that port (each student's
device answers there: ``--acme-http-port``, or the ``http01=`` of the ``--lab-server``
URL), gives ``state`` (the lab CA state: issued serials continue the EST responder's
counter and are indexed for ``lab-ca revoke``), ``records`` (its accounts and orders kept in
``<state-dir>/est-lab/acme.json``, :mod:`.acmestate`) and ``on_request`` (the access log, one
line per request in the EST responder's format).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import logging
import socket
import ssl
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .acmeapp import AcmeApp, AcmeFaults, Reply
from .acmestate import RecordFile
from .ca import LabCA
from .httpthread import LabHTTPServer
from .state import LabState

SERVER_NAMES = ("acme.lab", "localhost", "127.0.0.1")
log = logging.getLogger("fortishell.lab")
Target = Callable[[str], "tuple[str, int] | None"]
# the classroom access log: (client, op, status, seconds, serial issued or None)
RequestHook = Callable[["tuple[str, int]", str, str, float, "int | None"], None]


def acme_op(path: str) -> str:
    """The ACME resource a request path names (``directory``, ``new-order``, ``chall``, ...)."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    op = parts[1] if len(parts) > 1 and parts[0] == "acme" else (parts[0] or "-")
    return "".join(ch if ch.isprintable() and not ch.isspace() else "?" for ch in op)[:40]


def access_line(client: tuple[str, int] | Any, method: str, path: str, status: int, seconds: float) -> str:
    """One access-log line, in the EST responder's style (``accesslog.py``): real UTC time,
    client, ``op`` (the ACME resource: ``directory``, ``new-nonce``, ``new-account``,
    ``new-order``, ``authz``, ``chall``, ``finalize``, ``order``, ``cert``, ``acct``), method,
    status, milliseconds."""
    op = acme_op(path)
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    host, port = (client[0], client[1]) if isinstance(client, tuple) else ("-", 0)
    return f"{when} {host}:{port} op={op} method={method} status={status} ms={seconds * 1000:.1f}"


class _Server(LabHTTPServer):
    app: AcmeApp
    tls: ssl.SSLContext
    log: list[str]
    on_request: RequestHook | None

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a failed handshake: nothing to answer
        try:
            super().finish_request(conn, client_address)
        finally:
            try:
                conn.unwrap()  # close_notify
            except (ssl.SSLError, OSError):
                pass  # the client closed first: nothing left to say on this connection


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "fortishell-lab-acme"
    sys_version = ""

    def _serve(self) -> None:
        started = time.perf_counter()
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            host = self.headers.get("Host") or "acme.lab"
            issued = len(self.server.app.issued)
            reply = self.server.app.handle(self.command, self.path.split("?", 1)[0], body, f"https://{host}",
                                           str(self.client_address[0]))
        except Exception:  # noqa: BLE001 - a lab server bug: 500, the traceback on the lab logger
            log.error("lab ACME server: %s %s failed\n%s", self.command, self.path, traceback.format_exc())
            reply = Reply(500, b'{"type": "urn:ietf:params:acme:error:serverInternal", "detail": "internal error"}',
                          (("Content-Type", "application/problem+json"),))
            issued = len(self.server.app.issued)
        seconds = time.perf_counter() - started
        self.server.log.append(access_line(self.client_address, self.command, self.path, reply.status, seconds))
        hook = self.server.on_request
        if hook is not None:  # told before the reply goes out (sequential requests log in order)
            new = self.server.app.issued[issued:]
            serial = new[-1].serial_number if new and self.path.startswith("/acme/finalize/") else None
            op = "acme-" + acme_op(self.path)
            hook((str(self.client_address[0]), int(self.client_address[1])), op, str(reply.status), seconds, serial)
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_HEAD = _serve  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


class AcmeServer:
    def __init__(self, ca: LabCA, http01_target: Target, *, host: str = "127.0.0.1", port: int = 0,
                 now: Callable[[], _dt.datetime] | None = None, faults: AcmeFaults | None = None,
                 http01_port: int | None = None, state: LabState | None = None,
                 on_request: RequestHook | None = None, records: RecordFile | None = None) -> None:
        self.ca, self.http01_target, self.http01_port = ca, http01_target, http01_port
        self.on_request = on_request
        self.app = AcmeApp(ca, self._validate, now=now, faults=faults, state=state, records=records)
        self.host, self.requested_port = host, port
        self.log: list[str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> AcmeFaults:
        return self.app.faults

    def start(self) -> "AcmeServer":
        server = _Server((self.host, self.requested_port), _Handler)
        server.app, server.tls, server.log = self.app, self._tls_context(), self.log
        server.on_request = self.on_request
        self._server = server
        # stop() waits up to one poll interval: 50 ms (an idle 20 wake-ups a second) keeps a device's
        # close, a lab-server's Ctrl-C and every test teardown quick
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fortishell-lab-acme", daemon=True)
        self._thread.start()
        return self

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(2.0)
        self.app.close()

    def _validate(self, domain: str, token: str, client: str = "") -> tuple[bool, str]:
        # a classroom: the device that said the challenge is ready answers at its address
        target = (client, self.http01_port) if self.http01_port and client else self.http01_target(domain)
        if target is None:
            return False, f"DNS problem: no address for {domain}"
        host, port = target
        host = f"[{host}]" if ":" in host else host  # an IPv6 client's address
        url = f"http://{host}:{port}/.well-known/acme-challenge/{token}"
        try:
            resp = httpx.get(url, headers={"Host": domain}, timeout=5.0)
        except httpx.HTTPError as exc:
            return False, f"Fetching http://{domain}/.well-known/acme-challenge/{token}: Connection refused" \
                if isinstance(exc, httpx.ConnectError) else f"Fetching {domain}: {type(exc).__name__}"
        if resp.status_code != 200:
            return False, f"Invalid response from http://{domain}/.well-known/acme-challenge/{token}: " \
                          f"{resp.status_code}"
        return True, resp.text

    def _tls_context(self) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _dt.datetime.now(_dt.timezone.utc)
        sans: list[x509.GeneralName] = []
        for name in SERVER_NAMES:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAMES[0])]))
            .issuer_name(self.ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.ca.cert.not_valid_before_utc)
            .not_valid_after(self.ca.cert.not_valid_after_utc)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(self.ca.key, hashes.SHA256())
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory(prefix="fortishell-acme-tls-") as tmp:
            cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
            key_path.chmod(0o600)
            ctx.load_cert_chain(cert_path, key_path)
        return ctx
