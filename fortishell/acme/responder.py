"""The device's HTTP challenge responder: answers ``GET /.well-known/acme-challenge/<token>`` (http-01).

On FortiOS it is port 80 of the interface named in ``config system acme``.
Here it listens on loopback: on the port of the global option
``--acme-http-port`` (so that an external ACME server such as pebble reaches
it at the ``httpPort`` of its configuration), else on an ephemeral port that
the embedded lab ACME server uses as "the device's port 80".  Started on
first use, serving only the tokens of orders in progress.  Built on the
standard library's HTTP server (no hand-written HTTP).
"""

from __future__ import annotations

import threading
from http import HTTPStatus
import logging
from http.server import BaseHTTPRequestHandler

from ..quiethttp import QuietHTTPServer

PREFIX = "/.well-known/acme-challenge/"


class _Server(QuietHTTPServer):
    error_log = logging.getLogger("fortishell.acme")
    answers: dict[str, str]
    log: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FortiOS-ACME"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        answer = self.server.answers.get(path[len(PREFIX):]) if path.startswith(PREFIX) else None
        self.server.log.append(f"GET {path} {200 if answer is not None else 404}")
        body = (answer if answer is not None else "Not Found").encode("ascii")
        self.send_response(HTTPStatus.OK if answer is not None else HTTPStatus.NOT_FOUND)
        self.send_header("Content-Type", "application/octet-stream" if answer is not None else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        return  # the responder's log is self.server.log, never stderr


class ChallengeResponder:
    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host, self.requested_port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._answers: dict[str, str] = {}
        self.log: list[str] = []

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (started on first use); raises OSError when the port is taken."""
        with self._lock:
            if self._server is None:
                server = _Server((self.host, self.requested_port), _Handler)
                server.answers, server.log = self._answers, self.log
                self._server = server
                # stop() waits up to one poll interval: 50 ms (an idle 20 wake-ups a second) keeps a device's
                # close, a lab-server's Ctrl-C and every test teardown quick
                self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                                name="fortishell-acme-http01", daemon=True)
                self._thread.start()
            host, port = self._server.server_address[:2]
            return str(host), int(port)

    def serve(self, token: str, key_authorization: str) -> None:
        self.address  # noqa: B018 - started before the CA is told the challenge is ready
        self._answers[token] = key_authorization

    def withdraw(self, token: str) -> None:
        self._answers.pop(token, None)

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(2.0)
