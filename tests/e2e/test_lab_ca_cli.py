"""End-to-end: ``fortishell lab-ca`` and ``fortishell lab-server --tftp-port/--crl-port`` as a trainer runs them."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

EXE = Path(sys.executable).parent / "fortishell"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=120)


def _csr(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "student1")]))
           .sign(key, hashes.SHA256()))
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))


def test_sign_revoke_and_crl(tmp_path: Path) -> None:
    _csr(tmp_path / "s.csr")
    state = tmp_path / "state"
    signed = _run("--state-dir", str(state), "--clock", "2023-04-06 22:40:00", "lab-ca", "sign", str(tmp_path / "s.csr"))
    assert signed.returncode == 0, signed.stderr
    cert = x509.load_pem_x509_certificate(signed.stdout.encode())
    assert cert.serial_number == 476823 and not any(
        isinstance(e.value, x509.CRLDistributionPoints) for e in cert.extensions)
    x509text = subprocess.run(["openssl", "x509", "-noout", "-issuer"], input=signed.stdout, capture_output=True,
                              text=True)
    assert x509text.stdout.strip() == "issuer=CN = estExampleCA"
    unknown = _run("--state-dir", str(state), "lab-ca", "revoke", "99")
    assert unknown.returncode == 1 and unknown.stderr.startswith("lab-ca: Serial 99 (0x63) was not issued")
    revoked = _run("--state-dir", str(state), "--clock", "2023-04-06 22:45:00", "lab-ca", "revoke", "0x74697")
    assert revoked.returncode == 0 and revoked.stdout == "revoked serial 476823 (0x74697)\n"
    crl = _run("--state-dir", str(state), "--clock", "2023-04-06 22:50:00", "lab-ca", "crl")
    text = subprocess.run(["openssl", "crl", "-noout", "-text"], input=crl.stdout, capture_output=True, text=True)
    assert "Serial Number: 074697" in text.stdout and "Revocation Date: Apr  6 22:45:00 2023 GMT" in text.stdout


def test_lab_server_serves_tftp_and_the_crl(tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    (root / "hello.txt").write_text("hello class\n")
    proc = subprocess.Popen([str(EXE), "lab-server", "--port", "0", "--tftp-port", "0", "--tftp-root", str(root),
                             "--crl-port", "0", "--state-dir", str(tmp_path / "lab")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        # listening line, fault knobs line, then one line per classroom service and the students' URL
        lines = [proc.stdout.readline() for _ in range(5)]
        assert lines[0].startswith("EST lab responder listening on") and lines[1].startswith("faults: ")
        lines = lines[1:]
        tftp_port = int(re.search(r"TFTP server listening on 127\.0\.0\.1:(\d+)", lines[1]).group(1))
        crl_url = re.search(r"CRL published at (\S+)", lines[2]).group(1)
        got = subprocess.run(["curl", "-sS", "--max-time", "20", f"tftp://127.0.0.1:{tftp_port}/hello.txt"],
                             capture_output=True, text=True, timeout=30)
        assert got.stdout == "hello class\n"
        der = subprocess.run(["curl", "-sS", "--max-time", "20", crl_url], capture_output=True, timeout=30).stdout
        assert x509.load_der_x509_crl(der).issuer.rfc4514_string() == "CN=estExampleCA"
        # a student's shell on that classroom server: tftp.lab is the trainer's TFTP server
        student_url = re.search(r"--lab-server '(\S+)'", lines[3]).group(1)
        script = tmp_path / "student.cli"
        script.write_text("execute vpn certificate ca export tftp Fortinet_CA_SSL from-student.pem tftp.lab\n")
        student = subprocess.run([str(EXE), "--state-dir", str(tmp_path / "student"), "--lab-server", student_url,
                                  "run", str(script)], capture_output=True, text=True, timeout=120)
        assert "Done." in student.stdout, student.stdout + student.stderr
        deadline = time.monotonic() + 10  # the server writes the last block after acknowledging it
        while "-----END CERTIFICATE-----" not in (root / "from-student.pem").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (root / "from-student.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - reported by the assertion below
            proc.kill()
            pytest.fail("lab-server did not stop on SIGINT")
    assert proc.returncode == 0
