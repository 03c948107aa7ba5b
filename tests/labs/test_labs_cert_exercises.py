"""The certificate-workflow exercises, run as a trainer runs them (installed binary, --expect)."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

import pytest
from certexercises import CERT_EXERCISES, CertExercise, run

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("ex", CERT_EXERCISES, ids=lambda e: e.name)
def test_exercise_matches_its_expected_transcripts(ex: CertExercise, tmp_path: Path) -> None:
    for label, proc in run(ex, tmp_path):
        assert proc.returncode == 0, f"{label}: exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr}"
        if label.startswith("exercise-"):
            assert "expect: transcript matches" in proc.stdout + proc.stderr, label


def test_the_exported_files_open_with_openssl(tmp_path: Path) -> None:
    by_name = {e.name: e for e in CERT_EXERCISES}
    for label, proc in run(by_name["exercise-pkcs12"], tmp_path / "p12"):
        assert proc.returncode == 0, label
    p12 = tmp_path / "p12" / "state" / "tftp" / "p12-copy.p12"
    opened = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-passin", "pass:Lab-Passw0rd", "-nokeys"],
                            capture_output=True, text=True, timeout=60)
    assert opened.returncode == 0 and "subject=CN = p12-source" in opened.stdout
    for label, proc in run(by_name["exercise-csr-tftp"], tmp_path / "csr"):
        assert proc.returncode == 0, label
    tftp = tmp_path / "csr" / "state" / "tftp"
    at = str(int(datetime.datetime(2023, 4, 7, tzinfo=datetime.timezone.utc).timestamp()))  # the lab's clock
    signed = subprocess.run(["openssl", "verify", "-attime", at, "-CAfile", str(tftp / "lab-ca.cer"), str(tftp / "web-csr.cer")],
                            capture_output=True, text=True, timeout=60)
    assert signed.returncode == 0, signed.stdout + signed.stderr
