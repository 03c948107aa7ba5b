"""lab/httpthread.py: a plain-HTTP lab service that cannot bind says so in one line; stop frees the port."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler

import pytest

from fortishell.errors import LabError
from fortishell.lab.httpthread import HttpThread


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
