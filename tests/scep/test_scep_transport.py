"""The SCEP client over real sockets against servers that are not SCEP servers: each gives one
FortiOS-style line and stores nothing (never an internal error)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fortishell.shell.device import Device
from fortishell.shell.session import Session

LOCAL = ("vpn", "certificate", "local")


def _generate(url: str) -> str:
    return f'execute vpn certificate local generate rsa web1 2048 web1.lab "" "" "" "" "" "" "" {url} secret'


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"<html><body><h1>404 Not Found</h1></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture()
def web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/certsrv/mscep/mscep.dll"
    server.shutdown()
    server.server_close()


def test_a_web_server_that_is_not_a_scep_server(session: Session, device: Device, web_server: str) -> None:
    result = session.execute(_generate(web_server))
    assert result.lines == ["SCEP enrollment of certificate 'web1' failed: server returned status code 404",
                            "Command fail. Return code -1"]
    assert device.cmdb.entry(LOCAL, "web1") is None


def test_a_server_that_hangs_up_and_a_closed_port(session: Session, device: Device) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def hang_up() -> None:
            conn, _ = listener.accept()
            conn.recv(4096)
            conn.close()

        threading.Thread(target=hang_up, daemon=True).start()
        result = session.execute(_generate(f"http://127.0.0.1:{port}/scep"))
    # curl's wording, as the EST client words the same failures (est/curlerrors.py)
    assert result.lines[0] == ("SCEP enrollment of certificate 'web1' failed: cannot reach the SCEP server: "
                               "Empty reply from server")
    refused = session.execute(_generate(f"http://127.0.0.1:{port}/scep"))  # nothing listens any more
    assert re.fullmatch(r"SCEP enrollment of certificate 'web1' failed: cannot reach the SCEP server: Failed to "
                        rf"connect to 127\.0\.0\.1 port {port} after \d+ ms: Connection refused", refused.lines[0])
    assert device.cmdb.entry(LOCAL, "web1") is None


class _Flood(BaseHTTPRequestHandler):
    """A hostile server: a GetCACert reply far larger than any certificate."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "application/x-x509-ca-cert")
        self.send_header("Content-Length", str(8 * 1024 * 1024))
        self.end_headers()
        try:
            for _ in range(128):
                self.wfile.write(b"\0" * 65536)
        except OSError:
            pass  # the client stopped reading: what the test wants

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_a_reply_without_end_is_cut_off_not_buffered(session: Session, device: Device) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flood)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = session.execute(_generate(f"http://127.0.0.1:{server.server_address[1]}/scep"))
    finally:
        server.shutdown()
        server.server_close()
    assert result.lines[0] == ("SCEP enrollment of certificate 'web1' failed: cannot reach the SCEP server: "
                               "reply larger than 256 KiB")
    assert device.cmdb.entry(LOCAL, "web1") is None


def test_a_bad_url_is_a_value_error(session: Session) -> None:
    result = session.execute(_generate("ftp://scep.lab/scep"))
    assert result.rc == -1 and result.lines[:3] == ["Invalid SCEP URL (http://host[:port]/path).", "",
                                                    "value parse error before 'ftp://scep.lab/scep'"]
