"""Interop: the Debian package scep's ``scepclient`` (micromdm/scep) enrolls against our lab
SCEP responder over real HTTP on loopback (issue 19, item 6).

Two launches: a CA+RA enrollment that succeeds (``-ca-fingerprint`` names the RA: scepclient
otherwise envelopes to every certificate GetCACert sent, the lab root's EC key among them, as it
must for NDES), and a wrong challenge against the single-CA responder (CertRep FAILURE badRequest).
scepclient reuses a ``csr.pem`` in its key's directory: each run gets a fresh one.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fortishell.clock import Clock
from fortishell.lab.accesslog import AccessLog
from fortishell.lab.ca import LabCA
from fortishell.lab.scepapp import ScepApp
from fortishell.lab.scepserver import ScepService
from fortishell.lab.state import LabState

SCEPCLIENT = shutil.which("scepclient")


@pytest.fixture()
def scepclient() -> str:
    if SCEPCLIENT is None:
        if os.environ.get("CI") or os.environ.get("FORTISHELL_CI"):
            pytest.fail("scepclient (Debian package scep) is missing: .ci/run installs it")
        pytest.skip("scepclient is not installed (Debian package scep): the interop test needs it")
    return SCEPCLIENT


def _serve(lab: Path, log: io.StringIO, *, single_ca: bool) -> ScepService:
    app = ScepApp(LabCA.shipped(), LabState(lab), lab, now=Clock().now, single_ca=single_ca)
    return ScepService(app, on_request=AccessLog([log]).scep).start()


def _enroll(exe: str, where: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    where.mkdir()
    return subprocess.run([exe, "-server-url", url, "-private-key", str(where / "key.pem"), "-cn", "student1",
                           *extra], cwd=where, capture_output=True, text=True, timeout=60)


def test_scepclient_enrolls_with_the_challenge(scepclient: str, tmp_path: Path) -> None:
    log = io.StringIO()
    service = _serve(tmp_path / "lab", log, single_ca=False)
    try:
        ra = service.app.identity.cert
        fingerprint = hashlib.sha256(ra.public_bytes(serialization.Encoding.DER)).hexdigest()
        run = _enroll(scepclient, tmp_path / "ok", service.url, "-challenge", "fortinet-lab",
                      "-ca-fingerprint", fingerprint)
    finally:
        service.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "pkiStatus=SUCCESS" in run.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "ok" / "client.pem").read_bytes())
    cert.verify_directly_issued_by(LabCA.shipped().cert)
    key = serialization.load_pem_private_key((tmp_path / "ok" / "key.pem").read_bytes(), None)
    assert cert.public_key() == key.public_key()
    assert cert.subject.rfc4514_string() == "CN=student1"
    assert cert.serial_number in LabState(tmp_path / "lab").issued()
    ops = [line.split(" op=")[1].split(" ")[0] for line in log.getvalue().splitlines()]
    assert ops[:2] == ["scep-GetCACert", "scep-GetCACaps"] and ops[2].startswith("scep-PKCSReq:")
    assert " status=SUCCESS serial=" in log.getvalue()


def test_scepclient_wrong_challenge_fails_bad_request(scepclient: str, tmp_path: Path) -> None:
    log = io.StringIO()
    service = _serve(tmp_path / "lab", log, single_ca=True)
    try:
        run = _enroll(scepclient, tmp_path / "bad", service.url, "-challenge", "not-the-secret")
    finally:
        service.stop()
    assert run.returncode == 1
    assert "PKCSReq (19) request failed, failInfo: badRequest (2)" in run.stdout
    assert not (tmp_path / "bad" / "client.pem").exists()
    assert LabState(tmp_path / "lab").issued() == {}
    assert " status=FAILURE(badRequest) serial=- " in log.getvalue()
