"""lab/httpthread.py: a plain-HTTP lab service that cannot bind says so in one line; stop frees the port."""

from __future__ import annotations

import logging
import socket
from http.server import BaseHTTPRequestHandler

import pytest

from fortishell.errors import LabError
from fortishell.lab.httpthread import HttpService, HttpThread, LoggedHandler


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_a_port_in_use_is_one_line_and_stop_frees_the_port() -> None:
    served = HttpThread.start("127.0.0.1", 0, _Ok, what="the lab test server", name="fortishell-test")
    port = served.port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert conn.recv(64).startswith(b"HTTP/1.0 204")
    with pytest.raises(LabError) as refused:
        HttpThread.start("127.0.0.1", port, _Ok, what="the lab test server", name="fortishell-test")
    assert refused.value.lines == [f"Cannot start the lab test server on 127.0.0.1:{port}: Address already in use"]
    served.stop()
    served.stop()  # idempotent
    again = HttpThread.start("127.0.0.1", port, _Ok, what="the lab test server", name="fortishell-test")
    again.stop()


def test_a_logged_handler_writes_its_access_lines_to_its_logger_not_stderr(
        caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    class Quiet(LoggedHandler):
        log = logging.getLogger("fortishell.lab.test-httpthread")

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(204)
            self.end_headers()

    class Service(HttpService):
        def __init__(self) -> None:
            self.host, self.port = "127.0.0.1", 0

    service = Service()
    service._serve(Quiet, what="the lab test server", name="fortishell-test")
    try:
        with caplog.at_level(logging.DEBUG, logger="fortishell.lab.test-httpthread"):
            with socket.create_connection(service.address, timeout=5) as conn:
                conn.sendall(b"GET /quiet HTTP/1.0\r\n\r\n")
                reply = conn.makefile("rb").read()  # HTTP/1.0: until the server closes, the line logged
                assert reply.startswith(b"HTTP/1.0 204")
    finally:
        service.stop()
    service.stop()  # idempotent
    assert any("GET /quiet" in r.getMessage() for r in caplog.records
               if r.name == "fortishell.lab.test-httpthread" and r.levelno == logging.DEBUG), caplog.records
    assert "GET /quiet" not in capfd.readouterr().err
