"""TLS-SRP of the EST transport against GnuTLS's gnutls-serv (an SRP implementation from elsewhere)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from fortishell import errors
from fortishell.est.protocol import EstRequest
from fortishell.est.transport import EstTransport, SrpStream, TransportConfig


class Collect:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def emit(self, point, **values) -> None:
        self.lines.append(point.render(values))

    def raw(self, text: str) -> None:
        self.lines.append(text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gnutls_srp(tmp_path):
    if not (shutil.which("gnutls-serv") and shutil.which("srptool")):
        if os.environ.get("CI"):
            pytest.fail("gnutls-bin (gnutls-serv, srptool) is required in CI")
        pytest.skip("gnutls-bin is not installed (apt-get install -y gnutls-bin)")
    conf, passwd = tmp_path / "tpasswd.conf", tmp_path / "tpasswd"
    subprocess.run(["srptool", "--create-conf", str(conf)], check=True, capture_output=True)
    subprocess.run(["srptool", "--passwd", str(passwd), "--passwd-conf", str(conf), "-u", "srpuser"],
                   input=b"srppwd\n", check=True, capture_output=True, timeout=10)
    port, log = _free_port(), tmp_path / "gnutls-serv.log"
    with open(log, "wb") as sink:
        # --http answers one request per connection and closes it right after the response
        proc = subprocess.Popen(
            ["gnutls-serv", "--http", "-p", str(port), "--srppasswd", str(passwd), "--srppasswdconf", str(conf),
             "--priority", "NORMAL:-VERS-TLS1.3:+SRP"],
            stdout=subprocess.DEVNULL, stderr=sink)
    try:
        # gnutls-serv writes "... listening on IPv4 0.0.0.0 port N...done" once listen() returned:
        # wait for that instead of probing with a connection of our own
        ready = f"listening on IPv4 0.0.0.0 port {port}...done"
        deadline = time.monotonic() + 10
        while ready not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"gnutls-serv did not start: {log.read_text(errors='replace')!r}")
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _transport(port: int, password: str, out: Collect) -> EstTransport:
    return EstTransport(TransportConfig("srp.lab", port, connect_to=("127.0.0.1", port),
                                        srp_username="srpuser", srp_password=password, timeout=5.0))


def test_srp_handshake_with_gnutls(gnutls_srp):
    out = Collect()
    with _transport(gnutls_srp, "srppwd", out) as t:
        resp = t.send(EstRequest("GET", "/"))
    assert resp.status == 200 and resp.status_line == "HTTP/1.0 200 OK"
    assert out.lines == []  # the transport traces nothing; the flow renders the lines
    assert resp.tls is not None and resp.tls.new_connection
    assert resp.tls is not None and resp.tls.version == "TLSv1.2"
    page = resp.body.decode("latin-1")  # gnutls-serv's page describes the session it negotiated
    assert "This is <a href=\"http://www.gnu.org/software/gnutls\">GnuTLS</a>" in page
    assert "Connected as user 'srpuser'." in page
    assert "<TD>Key Exchange:</TD><TD>SRP</TD>" in page
    assert "<TD>Protocol version:</TD><TD>TLS1.2</TD>" in page
    assert "Server Name: srp.lab" in page
    assert "User-Agent: FortiOS-EST" in page  # the request headers it echoes back


def test_srp_connections_back_to_back_with_gnutls(gnutls_srp):
    """gnutls-serv closes each connection as soon as it has answered: nothing may follow the request."""
    for _ in range(6):
        with _transport(gnutls_srp, "srppwd", Collect()) as t:
            assert t.send(EstRequest("GET", "/")).status == 200


class _RecordingConn:
    """Stands in for a tlslite connection: records what would become TLS records."""

    version = (3, 3)

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def getCipherName(self) -> str:
        return "aes256"

    def sendall(self, data: bytes) -> None:
        self.sent.append(bytes(data))


def test_srp_empty_write_sends_no_record():
    """httpcore ends every request with an empty write; tlslite would send a zero-length record for it."""
    conn = _RecordingConn()
    a, b = socket.socketpair()
    with a, b:
        stream = SrpStream(conn, a)  # type: ignore[arg-type]
        stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=1.0)
        stream.write(b"", timeout=1.0)
    assert conn.sent == [b"GET / HTTP/1.1\r\n\r\n"]


def test_srp_wrong_password_with_gnutls(gnutls_srp):
    with pytest.raises(errors.TransportError) as info:
        with _transport(gnutls_srp, "not-it", Collect()) as t:
            t.send(EstRequest("GET", "/"))
    assert info.value.lines[0].startswith("TLS-SRP handshake failed")
