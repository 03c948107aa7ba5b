"""An ACME certificate stored when the configuration file then cannot be written (the disk is
full): the store's transaction committed, so the entry holds the certificate, as ``end`` keeps a
change it could not save.  The order (or renewal) is done, not failed; the save failure is shown
once (the ``end``'s output, debug.log for a renewal) and the next save writes the entry.  In
process, against the embedded lab ACME server (acme.lab)."""


import datetime as dt
import json

import pytest
from acmekit import LOCAL, run
from cryptography import x509

from disk_faults import config_save_fails
from fortishell.cmdb import store
from fortishell.est import pki
from fortishell.shell.device import Device
from fortishell.shell.session import Session

ORDER = ("config vpn certificate local", "edit acme1", "set enroll-protocol acme2", "y",
         "set acme-ca-url https://acme.lab/directory", "set acme-domain fgt.lab.example",
         "set acme-email admin@lab.example", "end")
INTERFACE = ("config system acme", "set interface port1", "end")


def _cert(device: Device) -> x509.Certificate:
    entry = device.cmdb.entry(LOCAL, "acme1")
    assert entry is not None and entry.get("certificate")
    cert = x509.load_pem_x509_certificate(str(entry.get("certificate")).encode())
    key = pki.load_key(str(entry.get("private-key")), str(entry.get("password")))
    assert cert.public_key() == key.public_key() and entry.get("state") == "OK"
    return cert


def test_an_order_whose_save_fails_is_kept_and_the_save_failure_shown_once(
        device: Device, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``end`` that orders: its own save and the certificate's fail alike, one line shown; the
    order is done (status valid, no error).  Then a renewal in the window: renewed (event log, no
    back-off), its save failure in debug.log.  It said the order failed while the entry held the
    certificate, and the renewal was logged as failed and backed off."""
    assert run(session, *INTERFACE) == []
    saved = device.config_path.read_bytes()
    failed = config_save_fails(monkeypatch, device.config_path)
    assert run(session, *ORDER) == [failed]
    first = _cert(device)
    assert device.config_path.read_bytes() == saved
    status = json.loads("\n".join(run(session, "diagnose sys acme status-full fgt.lab.example")))
    assert status["errors"] == 0 and status["last"]["status"] == "valid"

    device.clock.set(first.not_valid_after_utc - dt.timedelta(days=29))
    device.poll_renewals()
    assert _cert(device).serial_number != first.serial_number
    logged = [(e.logdesc, e.msg) for e in device.eventlog.entries() if "acme1" in e.msg]
    assert logged == [("Certificate renewed", "Certificate acme1 was renewed with ACME")]
    assert f"ACME renewal of acme1: {failed}" in (device.state_dir / "debug.log").read_text()
    monkeypatch.undo()
    device.save()
    assert b'edit "acme1"' in device.config_path.read_bytes()
