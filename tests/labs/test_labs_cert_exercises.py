"""The certificate-workflow exercises that export files, run as a trainer runs them (installed
binary, --expect, the catalogue's steps), and the files they leave opened with openssl.

Every certificate-workflow exercise is also replayed in the long form by the documented-commands
test (test_labs_exercises: sample-configs/README.md's commands as written, ``--expect`` on each
part) and on the catalogue's steps by ``lab check`` (test_labs_catalogue); here one run of each
exporting exercise serves both its transcripts and its files."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

import pytest
from certexercises import BY_NAME, run

pytestmark = pytest.mark.timeout(300)


def _run_all_steps(name: str, workdir: Path) -> Path:
    """Every step of ``name`` passes (scripts: their transcripts match); the lab TFTP folder."""
    for label, proc in run(BY_NAME[name], workdir):
        assert proc.returncode == 0, f"{label}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr}"
        if label.startswith("exercise-"):
            assert "expect: transcript matches" in proc.stdout + proc.stderr, label
    return workdir / "state" / "tftp"


def test_pkcs12_exercise_matches_and_its_export_opens_with_openssl(tmp_path: Path) -> None:
    p12 = _run_all_steps("exercise-pkcs12", tmp_path) / "p12-copy.p12"
    opened = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-passin", "pass:Lab-Passw0rd", "-nokeys"],
                            capture_output=True, text=True, timeout=60)
    assert opened.returncode == 0 and "subject=CN = p12-source" in opened.stdout


def test_csr_tftp_exercise_matches_and_the_signed_certificate_verifies(tmp_path: Path) -> None:
    tftp = _run_all_steps("exercise-csr-tftp", tmp_path)
    at = str(int(datetime.datetime(2023, 4, 7, tzinfo=datetime.timezone.utc).timestamp()))  # the lab's clock
    signed = subprocess.run(["openssl", "verify", "-attime", at, "-CAfile", str(tftp / "lab-ca.cer"), str(tftp / "web-csr.cer")],
                            capture_output=True, text=True, timeout=60)
    assert signed.returncode == 0, signed.stdout + signed.stderr
