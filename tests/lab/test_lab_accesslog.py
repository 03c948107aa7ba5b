"""The lab responder's access log: the ``lab-server`` command (real TLS, curl as client) and the
line format for every kind of client identity."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from labkit import ROOT
from test_lab_external import EST, csr_files, curl, need  # noqa: F401 - csr_files is a fixture

from fortishell.lab.accesslog import describe_faults, format_line
from fortishell.lab.estapp import Reply, Request
from fortishell.lab.faults import FaultState
from fortishell.lab.state import FIRST_SERIAL

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 127\.0\.0\.1:\d+ tls-user=(\S+) http-user=(\S+) op=(\S+) "
    r"label=(\S+) status=(\S+) serial=(\S+) ms=\d+\.\d$"
)


def test_lab_server_logs_every_request(tmp_path: Path, ca_file: Path, csr_files) -> None:  # noqa: ANN001
    need("curl")
    log = tmp_path / "access.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fortishell.lab.cli", "--port", "0", "--ephemeral", "--access-log", str(log),
         "--retry-after", "1", "0", "--fault-endpoint", "simpleenroll"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    try:
        url = proc.stdout.readline().split()[5]
        faults = proc.stdout.readline()
        assert proc.stdout.readline().startswith("lab CA SHA-256 Fingerprint: ")
        assert faults.startswith("faults: retry-after=1x0s (on simpleenroll); state in memory (--ephemeral); "
                                 f"access log: standard output, {log}"), faults
        _, b64 = csr_files("logged")
        post = ["--cacert", str(ca_file), "--data-binary", f"@{b64}", "-H", "Content-Type: application/pkcs10",
                "-o", "/dev/null", "-w", "%{http_code}"]
        assert curl("--cacert", str(ca_file), "-o", "/dev/null", url + EST + "cacerts").returncode == 0
        assert curl(*post, "-u", "estuser:wrong", url + EST + "simpleenroll").stdout == "401"
        assert curl(*post, "-u", "estuser:estpwd", url + EST + "simpleenroll").stdout == "202"
        assert curl(*post, "-u", "estuser:estpwd", url + EST + "room7/simpleenroll").stdout == "200"
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(4)]
        # the instructor turns a fault on through the admin endpoint: the log says what is in force
        assert curl("--cacert", str(ca_file), "-d", '{"status_500": true}', "-o", "/dev/null", "-w", "%{http_code}",
                    url + "/.lab/faults").stdout == "200"
        admin = [proc.stdout.readline().rstrip("\n") for _ in range(2)]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    fields = [LINE.match(ln) for ln in lines]
    assert all(fields), lines
    got = [m.groups() for m in fields if m]
    assert got == [
        ("-", "-", "cacerts", "-", "200", "-"),
        ("-", "estuser", "simpleenroll", "-", "401", "-"),
        ("-", "estuser", "simpleenroll", "-", "202", "-"),
        ("-", "estuser", "simpleenroll", "room7", "200", "07:46:97"),  # the device's spelling
    ]
    assert " op=.lab/faults label=- status=200 " in admin[0]
    assert admin[1] == "faults: status-500 (on simpleenroll)"
    assert log.read_text().splitlines() == lines + admin  # the file gets the same lines


def _request(**kw: object) -> Request:
    base: dict[str, object] = dict(method="GET", target=EST + "cacerts", headers=[], body=b"", peer=("127.0.0.1", 4242))
    base.update(kw)
    return Request(**base)  # type: ignore[arg-type]


def _client_cert(cn: str) -> x509.Certificate:
    import datetime as dt

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime(2023, 4, 6, tzinfo=dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def test_identities_in_the_line() -> None:
    ok = Reply(200, [])
    digest = _request(headers=[("authorization", 'Digest username="dave", realm="estrealm", nonce="n"')])
    assert " http-user=dave " in format_line(digest, ok, 0.001)
    srp = _request(srp_user="srpuser", peer=("::1", 5))
    line = format_line(srp, ok, 0.0125)
    assert " [::1]:5 tls-user=srpuser " in line and line.endswith(" ms=12.5")
    cert = _request(method="POST", target=EST + "simplereenroll", peer_cert=_client_cert("firewall-portal1"))
    assert " tls-user=firewall-portal1 http-user=- op=simplereenroll " in format_line(cert, Reply(401, []), 0)
    basic = "Basic " + base64.b64encode("evil user\nx:pw".encode()).decode()
    line = format_line(_request(headers=[("authorization", basic)], target="/.lab/faults"), Reply(403, []), 0)
    assert " http-user=evil?user?x op=.lab/faults label=- status=403 " in line  # one line, whatever was sent
    dropped = Reply(200, [], mode="drop")
    assert " status=200(dropped) " in format_line(_request(), dropped, 0)


def test_fault_summary() -> None:
    assert describe_faults(FaultState()) == "none"
    assert describe_faults(FaultState(status_500=True, delay_seconds=1.5)) == \
        "status-500, delay-seconds=1.5 (on every EST operation)"
