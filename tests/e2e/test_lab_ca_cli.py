"""End-to-end: ``fortishell lab-ca`` and ``fortishell lab-server --tftp-port/--crl-port`` as a trainer runs them."""

from __future__ import annotations

import contextlib
import hashlib
import io
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

from fortishell.lab.ca import LabCA
from fortishell.lab.state import LabState
from fortishell.shell.commands.certs_est import sha256_fingerprint

EXE = Path(sys.executable).parent / "fortishell"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=120)


def _run_here(*args: str) -> subprocess.CompletedProcess[str]:
    """``fortishell ARGS`` through the command line's entry point in this process (for tests of
    what a command answers, not of the program: the others here start the installed binary)."""
    from fortishell.cli_main import run_main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = run_main(list(args))
        except SystemExit as exc:  # argparse leaves this way
            rc = exc.code if isinstance(exc.code, int) else 2
    return subprocess.CompletedProcess(["fortishell", *args], rc, out.getvalue(), err.getvalue())


def _csr(path: Path, cn: str = "student1") -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
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
    unknown = _run("--state-dir", str(state), "lab-ca", "revoke", "0x99")
    assert unknown.returncode == 1 and unknown.stderr == "fortishell lab-ca: Serial 99 was not issued by this lab CA\n"
    revoked = _run("--state-dir", str(state), "--clock", "2023-04-06 22:45:00", "lab-ca", "revoke", "0x74697")
    assert revoked.returncode == 0 and revoked.stdout == "revoked serial 07:46:97\n"
    crl = _run("--state-dir", str(state), "--clock", "2023-04-06 22:50:00", "lab-ca", "crl")
    text = subprocess.run(["openssl", "crl", "-noout", "-text"], input=crl.stdout, capture_output=True, text=True)
    assert "Serial Number: 074697" in text.stdout and "Revocation Date: Apr  6 22:45:00 2023 GMT" in text.stdout


def test_lab_server_serves_tftp_and_the_crl(tmp_path: Path) -> None:
    root = tmp_path / "files"
    root.mkdir()
    (root / "hello.txt").write_text("hello class\n")
    log = tmp_path / "access.log"
    proc = subprocess.Popen([str(EXE), "--state-dir", str(tmp_path / "trainer"), "lab-server", "--port", "0",
                             "--tftp-port", "0", "--tftp-root", str(root), "--crl-port", "0", "--access-log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        # listening line, fault knobs line, the CA's fingerprint, then one line per classroom service
        # and the students' URL
        lines = [proc.stdout.readline() for _ in range(6)]
        assert lines[0].startswith("EST lab responder listening on") and lines[1].startswith("faults: ")
        # issue 22 item 5: the fingerprint students compare, the one lab-ca show prints for this state
        shown = _run("--state-dir", str(tmp_path / "trainer"), "lab-ca", "show")
        assert lines[2] == f"lab CA SHA-256 Fingerprint: {sha256_fingerprint(LabCA.shipped().cert)}\n"
        assert lines[2].split(": ", 1)[1] in shown.stdout
        lines = lines[2:]
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
    # the trainer's access log: the TFTP and CRL requests, in the EST lines' format
    entries = [re.match(r"\S+Z 127\.0\.0\.1:\d+ tls-user=- http-user=- op=(\S+) label=- status=(\S+) serial=- "
                        r"ms=\d+\.\d$", line) for line in log.read_text().splitlines()]
    assert all(entries), log.read_text()
    assert [m.group(1, 2) for m in entries if m] == [
        ("tftp-get:hello.txt", "ok"), ("estExampleCA.crl", "200"), ("tftp-put:from-student.pem", "ok")]


def test_one_spelling_of_a_serial(tmp_path: Path) -> None:
    """lab-ca writes serials as the device does (07:46:9a) and revoke takes that, hex and decimal
    (in this process: 16 commands; test_sign_revoke_and_crl runs sign, revoke and crl as programs)."""
    lab = tmp_path / "lab"
    issued = []
    for n in range(4):
        _csr(tmp_path / f"{n}.csr", f"student{n}")
        signed = _run_here("lab-ca", "--lab-state", str(lab), "sign", str(tmp_path / f"{n}.csr"), "-o", str(tmp_path / f"{n}.cer"))
        assert signed.returncode == 0, signed.stderr
        issued.append(signed.stdout)
    assert issued == [f"issued serial 07:46:{b} -> {tmp_path / f'{n}.cer'}\n" for n, b in enumerate(("97", "98", "99", "9a"))]

    def revoke(text: str, *more: str) -> subprocess.CompletedProcess[str]:
        return _run_here("lab-ca", "--lab-state", str(lab), "revoke", text, *more)

    assert revoke("07:46:97").stdout == "revoked serial 07:46:97\n"  # the device's form (get ... details)
    assert revoke("74698").stdout == "revoked serial 07:46:98\n"  # digits only: the reading that was issued
    assert revoke("0x74699").stdout == "revoked serial 07:46:99\n"
    assert revoke("476825").stdout == "serial 07:46:99 was already revoked\n"  # decimal
    # --clock after the action, hex with letters
    assert revoke("7469a", "--clock", "2023-04-06 22:45:00").stdout == "revoked serial 07:46:9a\n"
    assert revoke("07:46:9A").stdout == "serial 07:46:9a was already revoked\n"
    crl = x509.load_pem_x509_crl(_run_here("lab-ca", "--lab-state", str(lab), "crl").stdout.encode())
    assert sorted(r.serial_number for r in crl) == [0x74697, 0x74698, 0x74699, 0x7469A]
    assert crl.get_revoked_certificate_by_serial_number(0x7469A).revocation_date_utc.isoformat() == \
        "2023-04-06T22:45:00+00:00"

    bad = revoke("07:46:zz")
    assert bad.returncode == 1 and bad.stderr.startswith("fortishell lab-ca: '07:46:zz' is not a serial number")
    none = revoke("12")
    assert none.returncode == 1 and none.stderr == \
        "fortishell lab-ca: Neither 0c (12 in decimal) nor 12 (0x12) was issued by this lab CA\n"
    LabState(lab).record(74699, subject="CN=x", not_after="x", pem="", op="test")  # 74699 decimal AND 0x74699
    both = revoke("74699")
    assert both.returncode == 1 and "names two issued serials, 01:23:cb (decimal) and 07:46:99 (hex)" in both.stderr
    assert revoke("01:23:cb").stdout == "revoked serial 01:23:cb\n"


def test_show_prints_the_ca_and_its_fingerprint(tmp_path: Path) -> None:
    shipped = _run("lab-ca", "--lab-state", str(tmp_path / "lab"), "show")
    assert shipped.returncode == 0, shipped.stderr
    ca = LabCA.shipped().cert
    pem = shipped.stdout[shipped.stdout.index("-----BEGIN CERTIFICATE-----"):]
    assert x509.load_pem_x509_certificate(pem.encode()) == ca
    head = shipped.stdout[:shipped.stdout.index("-----BEGIN")].splitlines()
    assert head[0] == "Subject:     CN = estExampleCA" and head[4] == "Serial Num:  " + ":".join(
        f"{ca.serial_number:x}".zfill(16)[i:i + 2] for i in range(0, 16, 2))
    # the fingerprint as `ca import est` prints it, and as openssl computes it
    assert head[5] == f"SHA-256 Fingerprint: {sha256_fingerprint(ca)}"
    openssl = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem,
                             capture_output=True, text=True, timeout=30)
    assert openssl.stdout.strip().split("=", 1)[1] == head[5].split(": ", 1)[1]
    assert head[5].split(": ", 1)[1].replace(":", "").lower() == hashlib.sha256(
        ca.public_bytes(serialization.Encoding.DER)).hexdigest()
    # a lab state with a CA of its own (lab-server --new-ca --state-dir) shows that one
    own = LabCA.new()
    own.save(tmp_path / "own" / "ca")
    shown = _run("lab-ca", "show", "--lab-state", str(tmp_path / "own"))
    assert f"SHA-256 Fingerprint: {sha256_fingerprint(own.cert)}\n" in shown.stdout
    assert sha256_fingerprint(own.cert) != sha256_fingerprint(ca)
