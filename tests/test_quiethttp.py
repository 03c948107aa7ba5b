"""fortishell/quiethttp.py: a request handler that fails writes nothing to stderr (a shell user's
terminal); a peer's hang-up is one debug line, any other failure an error with its traceback."""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from fortishell.quiethttp import QuietHTTPServer


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/reset":
            raise ConnectionResetError(104, "Connection reset by peer")
        raise ValueError("a bug")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(QuietHTTPServer):
    error_log = logging.getLogger("fortishell.test-quiethttp")


@pytest.mark.parametrize(("path", "level", "text"), [("/reset", logging.DEBUG, "Connection reset by peer"),
                                                      ("/bug", logging.ERROR, "ValueError: a bug")])
def test_request_errors_go_to_the_logger_not_stderr(path: str, level: int, text: str,
                                                    caplog: pytest.LogCaptureFixture,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    server = _Server(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="fortishell.test-quiethttp"):
            with socket.create_connection(server.server_address[:2], timeout=5) as conn:
                conn.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
                assert conn.recv(64) == b""  # the handler failed: the connection just ends
            server.shutdown()
            thread.join(5)
    finally:
        server.server_close()
    assert capfd.readouterr().err == ""
    records = [r for r in caplog.records if r.name == "fortishell.test-quiethttp"]
    assert [r.levelno for r in records] == [level] and text in records[0].getMessage()
