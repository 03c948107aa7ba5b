"""No Python warning ever reaches a user (issue 18).  A PKCS#7 certificate set in chain order (not DER
SET order) made cryptography's PKCS#7 loader warn while it fell back to BER; the client now reads the
structure as BER itself (``est/pki.py``), so the transcript and debug.log stay clean.  Any other
library warning is routed to debug.log (``warnlog.py``)."""

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


def test_chain_order_pkcs7_is_read_without_a_warning(tmp_path: Path) -> None:
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
    log = (state / "debug.log").read_text() if (state / "debug.log").exists() else ""
    assert "falling back to parsing as BER" not in log and "UserWarning" not in log


def test_a_library_warning_goes_to_debug_log_not_the_terminal(tmp_path: Path) -> None:
    """What the entry point and each device do (``warnlog.capture`` / ``warnlog.attach``), in a
    process of its own: a warning raised by library code lands in the log file, not on stderr."""
    log = tmp_path / "debug.log"
    code = (
        "import logging, warnings\n"
        "from fortishell import warnlog\n"
        "warnlog.capture()\n"
        f"handler = logging.FileHandler({str(log)!r})\n"
        "handler.setFormatter(logging.Formatter('%(levelname)s %(name)s %(message)s'))\n"
        "warnlog.attach(handler)\n"
        "warnings.warn('a library changed its mind', UserWarning)\n"
        "warnings.warn('and deprecates this', DeprecationWarning)\n"
    )
    proc = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    text = log.read_text()
    assert "WARNING py.warnings" in text and "UserWarning: a library changed its mind" in text
    assert "DeprecationWarning: and deprecates this" in text
