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
from fortishell.est.transport import EstTransport, TransportConfig


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
    port = _free_port()
    proc = subprocess.Popen(
        ["gnutls-serv", "--http", "-p", str(port), "--srppasswd", str(passwd), "--srppasswdconf", str(conf),
         "--priority", "NORMAL:-VERS-TLS1.3:+SRP"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                time.sleep(0.2)  # let gnutls-serv finish with the probe connection before the real one
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("gnutls-serv did not start")
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _transport(port: int, password: str, out: Collect) -> EstTransport:
    return EstTransport(TransportConfig("srp.lab", port, connect_to=("127.0.0.1", port),
                                        srp_username="srpuser", srp_password=password, timeout=5.0), out)


@pytest.mark.xfail(strict=False, reason="intermittent: gnutls-serv closes about 1 in 3 tlslite SRP "
                   "connections right after the handshake (Broken pipe on the request); under investigation")
def test_srp_handshake_with_gnutls(gnutls_srp):
    out = Collect()
    with _transport(gnutls_srp, "srppwd", out) as t:
        resp = t.send(EstRequest("GET", "/"))
    assert resp.status == 200
    assert b"GnuTLS" in resp.body or b"<HTML>" in resp.body.upper()
    assert out.lines[0].startswith("[1651] curl_header_debug_func: Header received:HTTP/1.")
    assert resp.tls is not None and resp.tls.version == "TLSv1.2"
    assert b"SRP" in resp.body  # gnutls-serv's page names the key exchange it negotiated


def test_srp_wrong_password_with_gnutls(gnutls_srp):
    with pytest.raises(errors.TransportError) as info:
        with _transport(gnutls_srp, "not-it", Collect()) as t:
            t.send(EstRequest("GET", "/"))
    assert info.value.lines[0].startswith("TLS-SRP handshake failed")
