"""EST results stored when the configuration file then cannot be written (the disk is full): the
store's transaction committed, so the entry holds the new certificate, as ``end`` keeps a change
it could not save.  The enrollment (or renewal) is done, not failed; the save failure is shown
once (the command's output, or debug.log for a renewal) and the next save writes the entry.
In process, on a device whose lab network answers testrfc7030.com (real TLS on loopback)."""


import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from disk_faults import config_save_fails
from fortishell.clock import Clock
from fortishell.cmdb import store
from fortishell.est import pki
from fortishell.lab.ca import LabCA
from fortishell.shell.device import Device
from fortishell.shell.session import Session

LOCAL = ("vpn", "certificate", "local")
CA = ("vpn", "certificate", "ca")
LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
URL = "https://testrfc7030.com:8443"


def _generate(name: str) -> str:
    return (f"execute vpn certificate local generate est {name} ec-secp256r1 {URL} CN={name} \"\" estuser estpwd "
            "G_CA_Cert_1")


@pytest.fixture()
def device(tmp_path: Path) -> Iterator[Device]:
    dev = Device.open(tmp_path / "fortishell.conf", tmp_path / "state", Clock(fixed=LAB_TIME))
    yield dev
    dev.close()


@pytest.fixture()
def session(device: Device) -> Session:
    return Session(device)


def _fingerprint() -> str:
    return hashlib.sha256(LabCA.shipped().cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _cert(device: Device, name: str) -> x509.Certificate:
    entry = device.cmdb.entry(LOCAL, name)
    assert entry is not None
    cert = x509.load_pem_x509_certificate(str(entry.get("certificate")).encode())
    key = pki.load_key(str(entry.get("private-key")), str(entry.get("password")))
    assert cert.public_key() == key.public_key() and entry.get("state") == "OK"
    return cert


def test_an_enrollment_whose_save_fails_is_kept_and_the_save_failure_shown_once(
        session: Session, device: Device, monkeypatch: pytest.MonkeyPatch) -> None:
    """``generate est`` (its CA imported first, as in the guide): the certificate's store fails to
    save (one line, before ``Done.``) and is kept; ``generate est`` of the existing name (a
    re-enrollment) alike.  It said "failed" while the entry held the certificate."""
    assert session.execute(f'execute vpn certificate ca import est {URL} "" "" "" "" "" "" "" {_fingerprint()}').rc == 0
    saved = device.config_path.read_bytes()
    failed = config_save_fails(monkeypatch, device.config_path)
    result = session.execute(_generate("full1"))
    assert (result.rc, result.lines) == (0, [failed, "Done."])
    assert device.config_path.read_bytes() == saved
    first = _cert(device, "full1")
    asked = session.execute("execute vpn certificate local generate est full1")
    assert asked.question is not None
    again = asked.question.answer(True)
    assert (again.rc, again.lines) == (0, [failed, "Done."])
    assert _cert(device, "full1") != first
    monkeypatch.undo()
    device.save()
    assert b'edit "full1"' in device.config_path.read_bytes()


def test_a_renewal_whose_save_fails_is_kept_counts_as_renewed_and_is_logged(
        session: Session, device: Device, monkeypatch: pytest.MonkeyPatch) -> None:
    """The renewal started at ``end``'s boundary: the ``end`` shows its own save failure; the
    renewal stores the new certificate, counts as renewed (event log, no RENEWAL FAILED, no
    back-off) and writes its save failure to debug.log (a renewal has no command to show it)."""
    assert session.execute(f'execute vpn certificate ca import est {URL} "" "" "" "" "" "" "" {_fingerprint()}').rc == 0
    assert session.execute(_generate("ren1")).lines == ["Done."]
    old = _cert(device, "ren1")
    failed = config_save_fails(monkeypatch, device.config_path)
    for line in ("config vpn certificate local", "edit ren1", "set auto-regenerate-days 400"):
        assert session.execute(line).rc == 0, line
    ended = session.execute("end")  # due at once, renewed at this boundary
    assert ended.lines == [failed]
    assert _cert(device, "ren1") != old
    logged = [(e.logdesc, e.msg) for e in device.eventlog.entries() if "ren1" in e.msg]
    assert logged == [("Certificate renewed", "Certificate ren1 was renewed with EST")]
    assert f"renewal of ren1: {failed}" in (device.state_dir / "debug.log").read_text()


def test_the_engines_stores_keep_a_committed_change_and_fail_a_refused_one() -> None:
    """The rule in the engine's two stores: a save that fails after the commit is noted once
    (the CA certificates' store and the certificate's of one enrollment fail alike) and the
    change kept; a value the CMDB refuses rolls back and fails the operation."""
    from fortishell.cmdb.model import Cmdb
    from fortishell.errors import ConfigFileError
    from fortishell.est.engine import EstEngine
    from fortishell.est.events import FlowFailure, StoreCaCerts, StoreLocal

    cmdb = Cmdb()
    full = "cannot write configuration file f.conf: [Errno 28] No space left on device"

    def saves_badly(changes: Any) -> None:
        raise ConfigFileError(full)

    cmdb.on_commit(saves_badly)
    engine = EstEngine(cmdb, None, None, None)
    notes: list[str] = []
    stored = engine._store_ca(StoreCaCerts((LabCA.shipped().cert,), URL, None), notes)
    assert stored.names == ("G_CA_Cert_1",) and cmdb.entry(CA, "G_CA_Cert_1") is not None
    assert engine._store_local(StoreLocal("kept", (("comments", "x"),)), notes).names == ("kept",)
    assert notes == [full] and cmdb.entry(LOCAL, "kept") is not None
    with pytest.raises(FlowFailure):
        engine._store_local(StoreLocal("refused", (("no-such-attr", "x"),)), notes)
    assert cmdb.entry(LOCAL, "refused") is None and notes == [full]
