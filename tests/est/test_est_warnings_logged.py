"""No Python warning ever reaches a user (issue 18): a PKCS#7 certificate set in chain order (not DER
SET order) makes cryptography warn while it falls back to BER; through the installed ``fortishell``
command the transcript stays clean and debug.log records the warning."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from fortishell.lab.server import EstResponder, ResponderConfig

EXE = Path(sys.executable).parent / "fortishell"
URL = "https://testrfc7030.com:8443"


def test_chain_order_pkcs7_warning_goes_to_debug_log_not_the_transcript(tmp_path: Path) -> None:
    if not EXE.exists():
        pytest.fail(f"the fortishell command is not installed next to {sys.executable}")
    with EstResponder(ResponderConfig(state_dir=tmp_path / "lab")) as lab:
        lab.faults.set(chain_order=True)  # the enrollment reply: issued certificate, then the CA
        pin = hashlib.sha256(lab.ca.cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        script = tmp_path / "enroll.cli"
        script.write_text(
            f'execute vpn certificate ca import est {URL} "" "" "" "" "" "" "" {pin}\n'
            f'execute vpn certificate local generate est c1 ec-secp256r1 {URL} "CN=c1" "" estuser estpwd '
            "G_CA_Cert_1\n")
        state = tmp_path / "state"
        proc = subprocess.run([str(EXE), "--state-dir", str(state), "--lab-server", lab.url, "run", str(script)],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("Done.") == 2, proc.stdout
    assert proc.stderr == ""
    assert "Warning" not in proc.stdout and "warn" not in proc.stdout.lower()
    log = (state / "debug.log").read_text()
    assert "WARNING" in log and "could not be parsed as DER, falling back to parsing as BER" in log
