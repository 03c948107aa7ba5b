"""The responder ends every TLS connection with close_notify (strict clients read cleanly).

A strict client is Python ``ssl`` with ``suppress_ragged_eofs=False``: a TCP close
without close_notify raises ``SSLEOFError`` ("unexpected eof while reading"), a
close_notify reads as ``b""``.  ApacheBench (``ab``) counts a reply without
close_notify as a failed request.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest
from labkit import ROOT, basic, client_context, csr_b64, enroll_headers, make_csr

CACERTS = "/.well-known/est/cacerts"


def strict_connect(port: int, ctx: ssl.SSLContext) -> ssl.SSLSocket:
    tcp = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(tcp, server_hostname="testrfc7030.com", suppress_ragged_eofs=False)


def request(method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b"",
            version: str = "HTTP/1.1") -> bytes:
    hdrs = {"Host": "testrfc7030.com", **(headers or {})}
    if body:
        hdrs["Content-Length"] = str(len(body))
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    return head.encode() + body


def read_to_end(tls: ssl.SSLSocket) -> bytes:
    """Everything until the server's close_notify; a ragged EOF raises SSLEOFError."""
    data = b""
    while True:
        chunk = tls.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_connection_close_reply_ends_with_close_notify(responder, lab_ca):
    with strict_connect(responder.port, client_context(lab_ca)) as tls:
        tls.sendall(request("GET", CACERTS, headers={"Connection": "close"}))
        data = read_to_end(tls)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\n") and b"Content-Length: " in data


def test_http10_replies_end_with_close_notify(responder, lab_ca):
    for path in (CACERTS, "/.well-known/est/csrattrs", "/nothing-here"):
        with strict_connect(responder.port, client_context(lab_ca)) as tls:
            tls.sendall(request("GET", path, version="HTTP/1.0"))
            data = read_to_end(tls)
        assert data.startswith(b"HTTP/1.1 "), path


def test_error_replies_and_faults_end_with_close_notify(make_responder, lab_ca):
    r = make_responder()
    _, csr = make_csr()
    with strict_connect(r.port, client_context(lab_ca)) as tls:  # a malformed request: 400, then close
        tls.sendall(b"GARBAGE\r\n\r\n")
        assert read_to_end(tls).startswith(b"HTTP/1.1 400 ")
    r.faults.set(drop_connection=True)
    with strict_connect(r.port, client_context(lab_ca)) as tls:  # no answer, but a clean end
        tls.sendall(request("POST", "/.well-known/est/simpleenroll", headers=enroll_headers(basic()),
                            body=csr_b64(csr)))
        assert read_to_end(tls) == b""


def test_keep_alive_then_client_close_notify_is_answered(responder, lab_ca):
    with strict_connect(responder.port, client_context(lab_ca)) as tls:
        for _ in range(3):
            tls.sendall(request("GET", CACERTS))
            head = tls.recv(65536)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            body = head.partition(b"\r\n\r\n")[2]
            while len(body) < length:
                body += tls.recv(65536)
        tls.settimeout(5)
        raw = tls.unwrap()  # our close_notify, then the server's (or SSLEOFError)
        raw.close()


def test_idle_cut_off_ends_with_close_notify(make_responder, lab_ca):
    # the deadline covers the handshake and the request too: under the suite's own load a handshake
    # took over 1.5 s (the server, cut mid-handshake, answered decode_error); 3 s leaves it room
    r = make_responder(io_timeout=3.0)
    with strict_connect(r.port, client_context(lab_ca)) as tls:
        tls.sendall(request("GET", CACERTS))
        started = time.monotonic()
        data = read_to_end(tls)  # the reply, then the idle keep-alive connection is closed cleanly
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert time.monotonic() - started < 10


def test_idle_cut_offs_of_many_connections_all_end_with_close_notify(make_responder, lab_ca):
    # The cut-off comes from each connection's own read timeout, never from shutting its reading
    # side: OpenSSL 3 answers that end-of-file with a fatal decode_error alert.  Many connections
    # cut at once make the old race (reaper tick vs. read timeout) all but certain to show.
    r = make_responder(io_timeout=0.5)
    ctx = client_context(lab_ca)
    conns = [strict_connect(r.port, ctx) for _ in range(16)]
    try:
        for tls in conns:
            tls.sendall(request("GET", CACERTS))
        for tls in conns:
            assert read_to_end(tls).startswith(b"HTTP/1.1 200 OK\r\n")  # SSLError on an alert
    finally:
        for tls in conns:
            tls.close()


def test_srp_connection_ends_with_close_notify(responder):
    from tlslite.api import HandshakeSettings, TLSConnection

    sock = socket.create_connection(("127.0.0.1", responder.port), timeout=10)
    conn = TLSConnection(sock)
    conn.ignoreAbruptClose = False  # strict: an EOF without close_notify raises TLSAbruptCloseError
    settings = HandshakeSettings()
    settings.maxVersion = (3, 3)
    conn.handshakeClientSRP("srpuser", "srppwd", settings=settings)
    conn.sendall(request("GET", CACERTS, headers={"Connection": "close"}))
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")


def test_split_writes_sends_header_and_body_as_two_records(make_responder, lab_ca):
    """``split_writes``: the header block is one TLS record, the body another (an
    ``ssl`` read returns one record's data at most); by default they travel together."""
    r = make_responder()
    for split in (False, True):
        r.faults.set(split_writes=split)
        with strict_connect(r.port, client_context(lab_ca)) as tls:
            tls.sendall(request("GET", CACERTS, headers={"Connection": "close"}))
            time.sleep(0.2)  # let everything arrive: only record boundaries separate the reads
            first = tls.recv(65536)
            rest = read_to_end(tls)
        if split:
            assert first.endswith(b"\r\n\r\n") and rest.startswith(b"MI")
        else:
            assert b"\r\n\r\nMI" in first and rest == b""


def need(tool: str) -> str:
    """A missing tool fails the test when CI is set (.ci/run installs it), and skips it otherwise."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is required in CI (install it in .ci/run)")
        pytest.skip(f"{tool} not installed")
    return path


def test_apachebench_reports_no_failed_requests(responder):
    url = f"https://127.0.0.1:{responder.port}{CACERTS}"
    out = subprocess.run([need("ab"), "-n", "200", "-c", "4", url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"^Complete requests:\s+200$", out.stdout, re.M), out.stdout
    assert re.search(r"^Failed requests:\s+0$", out.stdout, re.M), out.stdout
    assert "SSL read failed" not in out.stderr, out.stderr


def test_lab_server_split_writes_flag(tmp_path, lab_ca):
    """``fortishell lab-server --split-writes``: the knob from the command line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "fortishell", "lab-server", "--port", "0", "--ephemeral", "--split-writes"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("EST lab responder listening on https://127.0.0.1:"), line + proc.stderr.read()
        port = int(line.split()[5].rsplit(":", 1)[1])
        with strict_connect(port, client_context(lab_ca)) as tls:
            tls.sendall(request("GET", CACERTS, headers={"Connection": "close"}))
            time.sleep(0.2)
            first = tls.recv(65536)
            rest = read_to_end(tls)
        assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"\r\n\r\n")
        assert rest.startswith(b"MI")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
