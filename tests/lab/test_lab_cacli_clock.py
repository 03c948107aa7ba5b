"""``lab-ca show`` states which clock dates what the lab CA issues (the issuer's clock, never a
student's device clock), and ``lab-ca sign`` issues at exactly that time."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fortishell.lab import cacli


def _csr(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "student1")]))
           .sign(key, hashes.SHA256()))
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))


def test_show_states_the_issuing_clock_and_sign_follows_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cacli.main(["show"], tmp_path, clock="2023-04-06 22:37:34") == 0
    shown = capsys.readouterr().out
    head = shown[:shown.index("-----BEGIN")].splitlines()
    assert "Issues at:   2023-04-06 22:37:34  GMT (--clock)" in head, head
    note = " ".join(head[head.index("Issues at:   2023-04-06 22:37:34  GMT (--clock)") + 1:])
    assert "not the student's device clock" in note and "lab-server --clock" in note, head
    _csr(tmp_path / "s.csr")
    assert cacli.main(["sign", str(tmp_path / "s.csr"), "-o", str(tmp_path / "s.pem")], tmp_path,
                      clock="2023-04-06 22:37:34") == 0
    cert = x509.load_pem_x509_certificate((tmp_path / "s.pem").read_bytes())
    assert f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S}" == "2023-04-06 22:37:34"


def test_show_without_a_clock_says_the_real_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cacli.main(["show"], tmp_path) == 0
    head = capsys.readouterr().out.split("-----BEGIN")[0].splitlines()
    assert any(line.startswith("Issues at:   the real time") for line in head), head


def test_sign_refuses_a_csr_before_it_uses_a_serial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``lab-ca sign`` of a CSR the lab will not sign (no CN) fails in one line and uses no serial:
    the next signed certificate has the very next serial."""
    from fortishell.lab.state import LabState

    key = ec.generate_private_key(ec.SECP256R1())
    no_cn = (x509.CertificateSigningRequestBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lab")])).sign(key, hashes.SHA256()))
    (tmp_path / "bad.csr").write_bytes(no_cn.public_bytes(serialization.Encoding.PEM))
    _csr(tmp_path / "s.csr")
    lab = tmp_path / "est-lab"
    first = LabState(lab).next_serial()
    assert cacli.main(["--lab-state", str(lab), "sign", str(tmp_path / "bad.csr")], tmp_path) != 0
    assert "CSR subject has no CN" in capsys.readouterr().err
    assert cacli.main(["--lab-state", str(lab), "sign", str(tmp_path / "s.csr"), "-o", str(tmp_path / "s.pem")],
                      tmp_path) == 0
    assert x509.load_pem_x509_certificate((tmp_path / "s.pem").read_bytes()).serial_number == first + 1
