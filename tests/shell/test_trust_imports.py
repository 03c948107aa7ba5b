"""The trust rules of the import commands: what enters the CA store, which key must have signed a CRL.

Real TFTP and HTTP on loopback through the lab network; each refusal leaves the configuration
file and the CMDB as they were.
"""

from __future__ import annotations

from fortishell.lab.ca import LabCA
from fortishell.shell.device import Device
from fortishell.shell.session import Session

CA = ("vpn", "certificate", "ca")
CRL = ("vpn", "certificate", "crl")
CRL_URL = "http://crl.lab/estExampleCA.crl"


def ok(session: Session, line: str) -> list[str]:
    result = session.execute(line)
    assert result.rc == 0, (line, result.lines)
    return result.lines


def refused(session: Session, device: Device, line: str) -> str:
    """``line`` fails with one line + Command fail, changing neither the file nor the CMDB."""
    assert device.config_path is not None
    before, snap = device.config_path.read_bytes(), device.cmdb.snapshot()
    result = session.execute(line)
    assert result.rc == -1 and len(result.lines) == 2, (line, result.lines)
    assert result.lines[1] == "Command fail. Return code -1"
    assert device.config_path.read_bytes() == before
    after = device.cmdb.snapshot()
    assert after.tables == snap.tables and after.objects == snap.objects
    return result.lines[0]


def tftp_file(device: Device, name: str, text: str) -> None:
    root = device.state_dir / "tftp"
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)


def test_crl_signed_by_a_look_alike_key_is_refused(session: Session, device: Device) -> None:
    """The CRL names CN=estExampleCA as issuer, but another key signed it."""
    lab = LabCA.shipped()
    tftp_file(device, "labca.pem", lab.cert_pem)
    ok(session, "execute vpn certificate ca import tftp labca.pem tftp.lab")
    look_alike = LabCA.new()  # CN=estExampleCA, another key
    assert look_alike.cert.subject == lab.cert.subject and look_alike.cert != lab.cert
    look_alike.save(device.state_dir / "est-lab" / "ca")  # the lab CRL service signs with it
    for line in ("config vpn certificate crl", "edit lab-crl", f"set http-url {CRL_URL}", "end"):
        ok(session, line)
    line = refused(session, device, "execute vpn certificate crl import auto lab-crl")
    assert line == ("Failed to import the CRL: its signature does not verify with the key of CA certificate "
                    "'CN = estExampleCA'.")
    assert not device.cmdb.entry(CRL, "lab-crl").get("crl")


def test_ca_import_tftp_refuses_a_certificate_that_is_not_a_ca(session: Session, device: Device) -> None:
    tftp_file(device, "server.pem", LabCA.shipped().server_cert_pem)  # CA:FALSE, issued by the lab root
    line = refused(session, device, "execute vpn certificate ca import tftp server.pem tftp.lab")
    assert line == "Failed to import 'server.pem': 'CN = testrfc7030.com' is not a CA certificate."
    assert device.cmdb.entry(CA, "G_CA_Cert_1") is None


def test_ca_import_bundle_refuses_a_bundle_holding_a_non_ca(session: Session, device: Device) -> None:
    lab = LabCA.shipped()
    tftp_file(device, "bundle.pem", lab.cert_pem + lab.server_cert_pem)
    line = refused(session, device, "execute vpn certificate ca import bundle bundle.pem tftp.lab")
    assert line == "Failed to import 'bundle.pem': 'CN = testrfc7030.com' is not a CA certificate."
    assert device.cmdb.entry(CA, "G_CA_Cert_1") is None  # not even the CA of the bundle
    tftp_file(device, "ok.pem", lab.cert_pem)
    ok(session, "execute vpn certificate ca import bundle ok.pem tftp.lab")
    assert device.cmdb.entry(CA, "G_CA_Cert_1").get("source") == "bundle"


def test_ca_import_bundle_of_end_entity_certificates_only(session: Session, device: Device) -> None:
    tftp_file(device, "leaf.pem", LabCA.shipped().server_cert_pem)
    line = refused(session, device, "execute vpn certificate ca import bundle leaf.pem tftp.lab")
    assert line.endswith("is not a CA certificate.")

