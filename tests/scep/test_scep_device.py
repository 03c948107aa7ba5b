"""The SCEP client on a device: Ctrl-C during an enrollment (``Device.cancel``, what the REPL's
Ctrl-C and SIGINT call: the blocked request returns at once, one line, nothing stored); the
driver's store checks against other sessions; a failed renewal's trace on the scep application; a
store whose configuration file cannot be written (kept, the save failure shown); an EC key's poll."""


import socket
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509

from disk_faults import config_save_fails
from fortishell.cmdb import store
from fortishell.est import pki
from fortishell.shell.device import Device
from fortishell.shell.session import Session
from fortishell.shell.result import Result

LOCAL = ("vpn", "certificate", "local")


def test_ctrl_c_ends_a_blocked_enrollment_and_stores_nothing(session: Session, device: Device,
                                                              tmp_path: Path) -> None:
    with socket.socket() as listener:  # a server that accepts and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        before = device.config_path.read_bytes()
        results: list[Result] = []
        worker = threading.Thread(target=lambda: results.append(session.execute(
            f'execute vpn certificate local generate rsa dev9 2048 dev9.lab "" "" "" "" "" "" "" '
            f'http://127.0.0.1:{port}/scep secret')))
        worker.start()
        conn, _ = listener.accept()  # the GetCACert request is on its way
        with conn:
            deadline = time.monotonic() + 5
            while not device.cancel() and time.monotonic() < deadline:
                time.sleep(0.01)
            started = time.monotonic()
            worker.join(5)
            assert not worker.is_alive() and time.monotonic() - started < 2
    assert results[0].lines == ["SCEP enrollment of certificate 'dev9' cancelled.", "Command fail. Return code -1"]
    assert device.cmdb.entry(LOCAL, "dev9") is None and device.config_path.read_bytes() == before


def test_a_store_refuses_an_entry_made_or_deleted_meanwhile(device: Device) -> None:
    """A new enrollment must not overwrite an entry another session created while it ran, and a
    poll or renewal must not bring back an entry deleted meanwhile: the driver's store checks both."""
    from fortishell.scep.driver import ScepDriver
    from fortishell.scep.events import FlowFailure, StoreLocal

    driver = ScepDriver(device.cmdb, device.clock, None, None)
    event = StoreLocal("late", (("comments", "from SCEP"),))
    with pytest.raises(FlowFailure, match="was deleted meanwhile"):
        driver._store(event, new=False)
    assert device.cmdb.entry(LOCAL, "late") is None
    with device.cmdb.transaction() as tx:
        tx.put(LOCAL, "late", {"comments": "typed by someone else"})
    with pytest.raises(FlowFailure, match="was created meanwhile"):
        driver._store(event, new=True)
    assert device.cmdb.entry(LOCAL, "late").get("comments") == "typed by someone else"


def test_a_failed_scep_renewal_traces_on_the_scep_application(session: Session, device: Device) -> None:
    """The renewal service's failure line for an SCEP certificate is the SCEP daemon's, shown with
    `diagnose debug application scep`, not with est; the old certificate stays."""
    url = "http://scep.lab/scep"
    asked = session.execute(f"execute vpn certificate ca import auto {url}")
    assert asked.question is not None and asked.question.answer(True).rc == 0
    assert session.execute(f'execute vpn certificate local generate rsa ren1 2048 ren1 "" "" "" "" "" "" "" {url} '
                           "fortinet-lab").rc == 0
    before = device.cmdb.entry(LOCAL, "ren1").get("certificate")
    lines: list[str] = []
    device.set_sink(lines.append)
    for line in ("diagnose debug application scep -1", "diagnose debug enable", "config vpn certificate local",
                 "edit ren1", "set scep-url http://127.0.0.1:1/scep", "set auto-regenerate-days 400", "end"):
        assert session.execute(line).rc == 0, line
    device.poll_renewals(force=True)
    failed = [ln for ln in lines if ln.startswith("__scep_auto_regen: Failed to renew certificate ren1: ")]
    assert failed and failed[0].endswith(". Retry in 5 minutes."), lines
    assert not any(ln.startswith("[2512] est_auto_regen") for ln in lines)
    assert device.cmdb.entry(LOCAL, "ren1").get("certificate") == before


def test_a_pending_scep_request_with_an_ec_key_fails_as_on_the_device(session: Session, device: Device) -> None:
    """``generate ec`` then ``enroll-protocol scep``: a pending SCEP request whose key is EC.  Its poll
    reads the key and fails as the device does (KB 404520) before anything is sent: one line in the
    event log, the entry unchanged (the RSA check of the driver's key loading, ``scep/driver._rsa``)."""
    asked = session.execute("execute vpn certificate ca import auto http://scep.lab/scep")  # trusted: it would answer
    assert asked.question is not None and asked.question.answer(True).rc == 0
    for line in ("execute vpn certificate local generate ec ecp secp256r1 ecp.lab", "config vpn certificate local",
                 "edit ecp", "set enroll-protocol scep", "set scep-url http://scep.lab/scep", "end"):
        assert session.execute(line).rc == 0, line
    before = device.cmdb.entry(LOCAL, "ecp")
    assert before.get("csr") and not before.get("certificate")
    device.poll_renewals(force=True)
    failed = [e.msg for e in device.eventlog.entries() if e.logdesc == "Certificate enrollment failed"]
    assert failed == ["SCEP request of certificate ecp: Couldn't read inner PKCS#7 (SCEP needs an RSA key)."]
    assert device.cmdb.entry(LOCAL, "ecp") == before


def test_a_certificate_whose_save_fails_is_kept_and_the_save_failure_shown(session: Session, device: Device,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The store's transaction commits, then the configuration file cannot be written (the disk is
    full): the certificate is issued and stored with its key, as ``end`` keeps a change it could not
    save, and the command shows the save failure in one line instead of calling the enrollment failed
    (it was not: the entry holds the certificate).  The file keeps what it had; the next save writes it."""
    url = "http://scep.lab/scep"
    asked = session.execute(f"execute vpn certificate ca import auto {url}")
    assert asked.question is not None and asked.question.answer(True).rc == 0
    saved = device.config_path.read_bytes()
    failed = config_save_fails(monkeypatch, device.config_path)
    result = session.execute(f'execute vpn certificate local generate rsa full1 2048 full1 "" "" "" "" "" "" "" '
                             f"{url} fortinet-lab")
    assert (result.rc, result.lines) == (0, [failed])
    assert device.config_path.read_bytes() == saved
    entry = device.cmdb.entry(LOCAL, "full1")
    cert = x509.load_pem_x509_certificate(str(entry.get("certificate")).encode())
    key = pki.load_key(str(entry.get("private-key")), str(entry.get("password")))
    assert cert.public_key() == key.public_key() and entry.get("state") == "OK"
    monkeypatch.undo()
    device.save()
    assert b"edit \"full1\"" in device.config_path.read_bytes()


def test_a_renewal_whose_save_fails_is_kept_and_counts_as_renewed(session: Session, device: Device,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The renewal path of the same rule: the configuration file cannot be written, so the ``end``
    that turns renewal on shows the save failure, and the renewal it starts stores the new
    certificate and counts as done (event log "renewed", no back-off), not as failed."""
    url = "http://scep.lab/scep"
    asked = session.execute(f"execute vpn certificate ca import auto {url}")
    assert asked.question is not None and asked.question.answer(True).rc == 0
    assert session.execute(f'execute vpn certificate local generate rsa ren2 2048 ren2 "" "" "" "" "" "" "" {url} '
                           "fortinet-lab").rc == 0
    old = device.cmdb.entry(LOCAL, "ren2").get("certificate")
    failed = config_save_fails(monkeypatch, device.config_path)
    for line in ("config vpn certificate local", "edit ren2", "set scep-password fortinet-lab",
                 "set auto-regenerate-days 400"):
        assert session.execute(line).rc == 0, line
    ended = session.execute("end")  # the renewal runs at this command's boundary
    assert ended.lines == [failed]
    assert device.cmdb.entry(LOCAL, "ren2").get("certificate") not in ("", None, old)
    logged = [(e.logdesc, e.msg) for e in device.eventlog.entries() if "ren2" in e.msg]
    assert logged == [("Certificate renewed", "Certificate ren2 was renewed with SCEP")]
