"""The lab TFTP server (with curl as the independent client), the lab CRL and the port map."""

from __future__ import annotations

import io
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509

from fortishell.errors import LabError
from fortishell.lab import network as labnet
from fortishell.lab.accesslog import AccessLog
from fortishell.lab.crl import CRL_PATH, CrlFetch, CrlService, build_crl
from fortishell.lab.state import LabState
from fortishell.lab.tftp import TftpFailure, TftpService, TftpTransfer, tftp_get, tftp_put

LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1:(\d+) tls-user=- http-user=- op=(\S+) "
    r"label=- status=(\S+) serial=- ms=\d+\.\d$"
)


@pytest.fixture()
def tftp(tmp_path: Path):
    service = TftpService(tmp_path / "tftp").start()
    yield service
    service.stop()


def _curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True, timeout=30)


def test_curl_downloads_and_uploads(tftp: TftpService, tmp_path: Path) -> None:
    (tftp.root / "hello.txt").write_bytes(b"hello lab\n" * 200)  # several 512-byte blocks
    got = _curl(f"tftp://127.0.0.1:{tftp.port}/hello.txt")
    assert got.returncode == 0 and got.stdout == b"hello lab\n" * 200
    src = tmp_path / "up.bin"
    src.write_bytes(bytes(range(256)) * 9)
    assert _curl("-T", str(src), f"tftp://127.0.0.1:{tftp.port}/up.bin").returncode == 0
    assert tftp.wait_idle()  # the server writes the last block after acknowledging it
    assert (tftp.root / "up.bin").read_bytes() == src.read_bytes()
    missing = _curl(f"tftp://127.0.0.1:{tftp.port}/nope.txt")
    assert missing.returncode != 0


def test_client_functions_and_their_failures(tftp: TftpService, tmp_path: Path) -> None:
    (tmp_path / "outside").write_bytes(b"not for students\n")  # real, one level above the root
    tftp_put(tftp.address, "a.cer", b"x" * 1025)
    assert tftp_get(tftp.address, "a.cer") == b"x" * 1025
    with pytest.raises(TftpFailure, match="File not found"):
        tftp_get(tftp.address, "missing.cer")
    with pytest.raises(TftpFailure):
        tftp_get(tftp.address, "../outside")


def test_lab_hosts_answer_only_on_their_ports(tmp_path: Path) -> None:
    net = labnet.LabNetwork(state_dir=tmp_path)
    try:
        assert net.resolve("testrfc7030.com", 9999) == labnet.REFUSED
        assert net.resolve("tftp.lab", 69) == labnet.REFUSED  # TFTP is UDP
        host, port = net.resolve("192.0.2.69", 69, "udp")
        assert (host, port) == net.resolve("tftp.lab", 69, "udp")
        assert (tmp_path / "tftp").is_dir()
        assert net.resolve("crl.lab", 8443) == labnet.REFUSED
        crl_addr = net.resolve("192.0.2.80", 80)
        assert crl_addr is not None and crl_addr != labnet.REFUSED
        import socket

        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(labnet.REFUSED, timeout=2).close()
        assert net.resolve("example.com", 80) is None
    finally:
        net.close()


def test_crl_lists_revocations_and_is_served_over_http(tmp_path: Path, lab_ca, clock) -> None:
    state = LabState(tmp_path / "lab")
    state.record(476823, subject="CN=a", not_after="2024-01-01", pem="", op="test")
    with pytest.raises(LabError):
        state.revoke(12345, "2023-04-06T22:40:00+00:00")  # never issued
    assert state.revoke(476823, "2023-04-06T22:40:00+00:00") is True
    assert state.revoke(476823, "2023-04-06T22:41:00+00:00") is False
    assert LabState(tmp_path / "lab").revoked() == {476823: "2023-04-06T22:40:00+00:00"}
    service = CrlService(state, lab_ca, clock).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{service.port}{CRL_PATH}", timeout=10) as resp:
            assert resp.headers["Content-Type"] == "application/pkix-crl"
            der = resp.read()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{service.port}/other.crl", timeout=10)
    finally:
        service.stop()
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(lab_ca.cert.public_key())
    assert [r.serial_number for r in crl] == [476823]
    text = subprocess.run(["openssl", "crl", "-inform", "DER", "-noout", "-text"], input=der,
                          capture_output=True, timeout=30)
    assert text.returncode == 0 and b"Serial Number: 074697" in text.stdout
    assert build_crl(lab_ca, {}, clock.now()).next_update_utc is not None


def test_tftp_requests_are_access_logged(tmp_path: Path) -> None:
    """Every request that reaches the lab's code, as TftpTransfer events and as access-log lines."""
    events: list[TftpTransfer] = []
    stream = io.StringIO()
    log = AccessLog([stream])

    def hook(transfer: TftpTransfer) -> None:
        events.append(transfer)
        log.tftp(transfer)

    (tmp_path / "secret.txt").write_bytes(b"outside\n")
    service = TftpService(tmp_path / "tftp", on_transfer=hook).start()
    try:
        (service.root / "hello.txt").write_bytes(b"hello lab\n" * 200)  # 2000 bytes: four blocks
        (service.root / "even.bin").write_bytes(b"e" * 1024)  # a whole number of blocks (an empty last one)
        src = tmp_path / "up.bin"
        src.write_bytes(bytes(range(256)) * 9)
        url = f"tftp://127.0.0.1:{service.port}/"
        assert _curl(url + "hello.txt").stdout == b"hello lab\n" * 200
        assert _curl(url + "even.bin").stdout == b"e" * 1024
        assert _curl(url + "nope.txt").returncode != 0
        assert _curl("-T", str(src), url + "up.bin").returncode == 0
        assert _curl("-T", str(src), url + "no/such/dir/up.bin").returncode != 0
        tftp_put(service.address, "short.cer", b"x" * 10)  # the device's own client: one short block
        assert service.wait_idle()
    finally:
        service.stop()
    got = [(e.op, e.name, e.status, e.size) for e in events]
    assert got == [("get", "hello.txt", "ok", 2000), ("get", "even.bin", "ok", 1024), ("get", "nope.txt", "not-found", 0),
                   ("put", "up.bin", "ok", 2304), ("put", "no/such/dir/up.bin", "access-violation", 0),
                   ("put", "short.cer", "ok", 10)]
    assert all(e.peer[0] == "127.0.0.1" and e.peer[1] > 0 and e.seconds >= 0 for e in events)
    lines = stream.getvalue().splitlines()
    fields = [LOG_LINE.match(line) for line in lines]
    assert all(fields), lines
    assert [m.group(2, 3) for m in fields if m] == [
        ("tftp-get:hello.txt", "ok"), ("tftp-get:even.bin", "ok"), ("tftp-get:nope.txt", "not-found"),
        ("tftp-put:up.bin", "ok"), ("tftp-put:no/such/dir/up.bin", "access-violation"), ("tftp-put:short.cer", "ok")]


def test_an_interrupted_upload_is_logged_incomplete(tmp_path: Path) -> None:
    events: list[TftpTransfer] = []
    service = TftpService(tmp_path / "tftp", on_transfer=events.append).start()
    try:
        import socket
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(struct.pack("!H", 2) + b"half.bin\0octet\0", service.address)  # WRQ
            _, server = sock.recvfrom(1024)  # ACK 0 from the transfer's own port
            sock.sendto(struct.pack("!HH", 3, 1) + b"h" * 512, server)  # one full block, then silence
            sock.recvfrom(1024)  # ACK 1
    finally:
        service.stop()  # the session ends unfinished
    assert [(e.op, e.name, e.status, e.size) for e in events] == [("put", "half.bin", "incomplete", 512)]


def test_crl_requests_are_access_logged(tmp_path: Path, lab_ca, clock) -> None:
    events: list[CrlFetch] = []
    stream = io.StringIO()
    log = AccessLog([stream])

    def hook(fetch: CrlFetch) -> None:
        events.append(fetch)
        log.crl(fetch)

    service = CrlService(LabState(tmp_path / "lab"), lab_ca, clock, on_request=hook).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{service.port}{CRL_PATH}", timeout=10) as resp:
            resp.read()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{service.port}/other.crl?x=1", timeout=10)
    finally:
        service.stop()
    assert [(e.target, e.status) for e in events] == [(CRL_PATH, 200), ("/other.crl?x=1", 404)]
    fields = [LOG_LINE.match(line) for line in stream.getvalue().splitlines()]
    assert [m.group(2, 3) for m in fields if m] == [("estExampleCA.crl", "200"), ("other.crl", "404")]
