"""CSRs, TFTP import/export, PKCS#12, CA import, CRL import: real TFTP/HTTP on loopback, openssl as a peer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fortishell.lab.ca import LabCA
from fortishell.lab.state import LabState
from fortishell.shell.device import Device
from fortishell.shell.session import Session

CRL_URL = "http://crl.lab/estExampleCA.crl"


def ok(session: Session, line: str) -> list[str]:
    result = session.execute(line)
    assert result.rc == 0, (line, result.lines)
    return result.lines


def fails(session: Session, device: Device, line: str) -> list[str]:
    """The command fails with one line + Command fail, and changes neither CMDB nor file."""
    before = device.config_path.read_bytes()
    snap = device.cmdb.snapshot()
    result = session.execute(line)
    assert result.rc != 0, line
    assert len(result.lines) == 2 and result.lines[1].startswith("Command fail. Return code ")
    assert device.config_path.read_bytes() == before
    after = device.cmdb.snapshot()
    assert after.tables == snap.tables and after.objects == snap.objects
    return result.lines


@pytest.fixture()
def tftp_dir(device: Device) -> Path:
    return device.state_dir / "tftp"


def _sign(device: Device, csr_pem: bytes, serial: int) -> bytes:
    ca = LabCA.shipped()
    cert = ca.issue(x509.load_pem_x509_csr(csr_pem), now=device.clock.now(), serial=serial)
    LabState(device.state_dir / "est-lab").record(serial, subject="", not_after="", pem="", op="test")
    return cert.public_bytes(serialization.Encoding.PEM)


def test_csr_tftp_sign_import(session: Session, device: Device, tftp_dir: Path) -> None:
    ok(session, 'execute vpn certificate local generate rsa web1 2048 web1.lab US "" "" Lab IT "" DNS:web1.lab')
    lines = ok(session, "get vpn certificate local web1")
    assert "state               : PENDING" in lines
    assert any(line.startswith("csr                 : -----BEGIN CERTIFICATE REQUEST-----") for line in lines)
    assert ok(session, "execute vpn certificate local export tftp web1 csr web1.csr 192.0.2.69") == ["Done."]
    csr_pem = (tftp_dir / "web1.csr").read_bytes()
    req = subprocess.run(["openssl", "req", "-noout", "-subject", "-verify"], input=csr_pem, capture_output=True)
    assert req.returncode == 0 and b"CN = web1.lab" in req.stdout
    # a certificate for some other key does not complete the request
    ok(session, "execute vpn certificate local generate ec other secp256r1 other.lab")
    other = device.cmdb.entry(("vpn", "certificate", "local"), "other").get("csr").encode()
    (tftp_dir / "wrong.cer").write_bytes(_sign(device, other, 476900))
    session.execute("config vpn certificate local")
    ok(session, "delete other")
    ok(session, "end")
    err = fails(session, device, "execute vpn certificate local import tftp wrong.cer 192.0.2.69")
    assert err[0] == "The certificate does not match any pending certificate request."
    assert fails(session, device, "execute vpn certificate local import tftp none.cer tftp.lab")[0] == (
        "Failed to get file 'none.cer' from tftp server tftp.lab: File not found")
    # the right one completes it
    (tftp_dir / "web1.cer").write_bytes(_sign(device, csr_pem, 476901))
    assert ok(session, "execute vpn certificate local import tftp web1.cer tftp.lab") == ["Done."]
    lines = ok(session, "get vpn certificate local web1")
    assert "state               : OK" in lines and not any(line.startswith("csr ") for line in lines)
    details = ok(session, "get vpn certificate local details web1")
    assert details[:4] == ["== [ web1 ]", "Name:        web1", "Subject:     CN = web1.lab",
                           "Issuer:      CN = estExampleCA"]
    assert "Serial Num:  07:46:e5" in details
    # cer export opens with openssl x509
    ok(session, "execute vpn certificate local export tftp web1 cer web1-out.cer 192.0.2.69")
    out = subprocess.run(["openssl", "x509", "-in", str(tftp_dir / "web1-out.cer"), "-noout", "-serial"],
                         capture_output=True)
    assert out.stdout.strip() == b"serial=0746E5"


def test_pkcs12_export_and_reimport(session: Session, device: Device, tftp_dir: Path) -> None:
    ok(session, "execute vpn certificate local generate ec app1 secp384r1 app1.lab")
    ok(session, "execute vpn certificate local export tftp app1 csr app1.csr tftp.lab")
    (tftp_dir / "app1.cer").write_bytes(_sign(device, (tftp_dir / "app1.csr").read_bytes(), 476950))
    ok(session, "execute vpn certificate local import tftp app1.cer tftp.lab")
    assert fails(session, device, "execute vpn certificate local export tftp app1 p12 app1.p12 tftp.lab")[0] == (
        "A PKCS#12 export needs a password.")
    ok(session, "execute vpn certificate local export tftp app1 p12 app1-copy.p12 tftp.lab s3cret")
    p12 = tftp_dir / "app1-copy.p12"
    opened = subprocess.run(["openssl", "pkcs12", "-in", str(p12), "-passin", "pass:s3cret", "-nodes"],
                            capture_output=True)
    assert opened.returncode == 0 and b"BEGIN PRIVATE KEY" in opened.stdout and b"CN = app1.lab" in opened.stdout
    err = fails(session, device, "execute vpn certificate local import tftp app1-copy.p12 tftp.lab p12 nope")
    assert err[0] == "Failed to import 'app1-copy.p12': wrong password for the PKCS#12 file."
    ok(session, "execute vpn certificate local import tftp app1-copy.p12 tftp.lab p12 s3cret")
    copy = device.cmdb.entry(("vpn", "certificate", "local"), "app1-copy")
    orig = device.cmdb.entry(("vpn", "certificate", "local"), "app1")
    assert copy.get("certificate") == orig.get("certificate")
    assert fails(session, device, "execute vpn certificate local import tftp app1-copy.p12 tftp.lab p12 s3cret")[0] \
        == "Certificate 'app1-copy' already exists."


def test_ca_import_export_bundle_and_crl(session: Session, device: Device, tftp_dir: Path) -> None:
    ca = LabCA.shipped()
    tftp_dir.mkdir(parents=True, exist_ok=True)
    (tftp_dir / "labca.pem").write_text(ca.cert_pem)
    ok(session, "execute vpn certificate ca import tftp labca.pem 192.0.2.69")
    assert device.cmdb.entry(("vpn", "certificate", "ca"), "G_CA_Cert_1").get("ca") == ca.cert_pem.strip("\n")
    assert fails(session, device, "execute vpn certificate ca import tftp labca.pem 192.0.2.69")[0] == (
        "CA certificate already exists as 'G_CA_Cert_1'.")
    ok(session, "execute vpn certificate ca export tftp G_CA_Cert_1 out.pem 192.0.2.69")
    assert x509.load_pem_x509_certificate((tftp_dir / "out.pem").read_bytes()) == ca.cert
    other = LabCA.new()
    (tftp_dir / "bundle.pem").write_text(other.cert_pem + ca.cert_pem)
    ok(session, "execute vpn certificate ca import bundle bundle.pem tftp.lab")
    second = device.cmdb.entry(("vpn", "certificate", "ca"), "G_CA_Cert_2")
    assert second.get("source") == "bundle" and device.cmdb.entry(("vpn", "certificate", "ca"), "G_CA_Cert_3") is None
    # CRL: revoke in the lab state, then import it
    state = LabState(device.state_dir / "est-lab")
    state.record(476823, subject="CN=x", not_after="", pem="", op="test")
    state.revoke(476823, "2023-04-06T22:40:00+00:00")
    for line in ("config vpn certificate crl", "edit lab-crl", f"set http-url {CRL_URL}", "next",
                 "edit off-port", "set http-url http://crl.lab:8080/estExampleCA.crl", "end"):
        ok(session, line)
    assert ok(session, "execute vpn certificate crl import auto lab-crl") == ["Done."]
    lines = ok(session, "get vpn certificate crl lab-crl")
    assert "        Issuer:      CN = estExampleCA" in lines
    assert "                Serial Num: 07:46:97" in lines
    err = fails(session, device, "execute vpn certificate crl import auto off-port")
    assert err[0].startswith("Failed to connect to crl.lab port 8080 after ") and err[0].endswith(
        "Connection refused")


def test_a_crl_that_does_not_parse(session: Session, device: Device, monkeypatch: pytest.MonkeyPatch) -> None:
    from fortishell.shell import filexfer

    for line in ("config vpn certificate crl", "edit c1", f"set http-url {CRL_URL}", "end"):
        ok(session, line)
    monkeypatch.setattr(filexfer, "http_get", lambda network, url: b"<html>not a CRL</html>")
    assert fails(session, device, "execute vpn certificate crl import auto c1")[0] == (
        "Failed to import the CRL: the CRL does not parse.")


def test_enrollment_to_a_port_without_service_is_refused(session: Session, device: Device) -> None:
    for line in ("diagnose debug application est -1", "diagnose debug enable"):
        ok(session, line)
    trace: list[str] = []
    device.set_sink(trace.append)
    result = session.execute("execute vpn certificate local generate est x1 ec-secp256r1 "
                             "https://testrfc7030.com:9999 CN=x DNS:x.lab estuser estpwd")
    assert result.rc != 0
    assert any(line.startswith("[1795] est_curl_req: Error buf: Failed to connect to testrfc7030.com port 9999 "
                               "after ") and line.endswith("Connection refused,") for line in trace)


def test_tftp_to_hosts_without_a_tftp_server(session: Session, device: Device) -> None:
    err = fails(session, device, "execute vpn certificate ca import tftp x.pem testrfc7030.com")
    assert err[0] == "Failed to get file 'x.pem' from tftp server testrfc7030.com: Connection refused"
    err = fails(session, device, "execute vpn certificate ca export tftp Fortinet_CA_SSL x.pem 10.1.1.1")
    assert err[0] == "Failed to connect to tftp server 10.1.1.1: timed out"


def test_passwords_of_the_certificate_commands_stay_out_of_history() -> None:
    from fortishell.shell.histform import history_form

    assert history_form("execute vpn certificate local export tftp a p12 a.p12 tftp.lab s3cret") == (
        "execute vpn certificate local export tftp a p12 a.p12 tftp.lab *")
    assert history_form("exec vpn cert local import tftp a.p12 tftp.lab p12 s3cret").endswith(" p12 *")
    assert history_form("execute vpn certificate ca import est https://h:8443 lbl user pw") == (
        "execute vpn certificate ca import est https://h:8443 lbl user *")
    masked = history_form('execute vpn certificate local generate rsa r 2048 s "" "" "" "" "" "" "" "" chal "" "" kpw')
    assert masked.split()[-1] == "*" and "chal" not in masked and "kpw" not in masked
