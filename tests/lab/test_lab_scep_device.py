"""Both halves together: the device's SCEP client (shell commands, scep/) against the lab SCEP
responder of a classroom lab-server (single CA, manual approval), the trainer approving with
lab-ca in between.  In process: one device, the lab EST responder (for the lab root) and the
SCEP service on loopback, the students' --lab-server URL carrying ``scep=P``."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.lab import cacli
from fortishell.lab.accesslog import AccessLog
from fortishell.lab.ca import LabCA
from fortishell.lab.scepapp import ScepApp, ScepFaults
from fortishell.lab.scepserver import ScepService
from fortishell.lab.server import EstResponder
from fortishell.lab.state import LabState
from fortishell.shell.device import Device
from fortishell.shell.session import Session

LOCAL = ("vpn", "certificate", "local")
NOW = dt.datetime(2026, 3, 2, 9, 0, 0, tzinfo=dt.timezone.utc)


def _ok(session: Session, line: str, answer: bool | None = None) -> list[str]:
    result = session.execute(line)
    asked: list[str] = []
    if answer is not None:
        assert result.question is not None, result.lines
        asked = result.lines + result.question.text
        result = result.question.answer(answer)
    assert result.rc == 0, result.lines
    return asked + result.lines


def test_pending_request_approved_by_the_trainer(tmp_path: Path, make_responder,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    lab = tmp_path / "trainer" / "est-lab"
    est: EstResponder = make_responder(state_dir=lab, clock=Clock(fixed=NOW))
    log = io.StringIO()
    app = ScepApp(LabCA.shipped(), LabState(lab), lab, now=Clock(fixed=NOW).now,
                  faults=ScepFaults(manual=True), single_ca=True)
    scep = ScepService(app, on_request=AccessLog([log]).scep).start()
    device = Device.open(tmp_path / "student.conf", tmp_path / "student", Clock(fixed=NOW),
                         f"https://127.0.0.1:{est.port}/?scep={scep.port}")
    try:
        session = Session(device)
        _ok(session, "execute vpn certificate ca import est https://testrfc7030.com:8443", True)  # the lab root
        shown = _ok(session, "execute vpn certificate ca import auto http://scep.lab/certsrv/mscep/mscep.dll", True)
        assert "        Subject:     CN = estExampleSCEPCA" in shown
        _ok(session, 'execute vpn certificate local generate rsa scep1 2048 scep1 "" "" "" "" "" "" "" '
                     'http://scep.lab/certsrv/mscep/mscep.dll fortinet-lab')
        entry = device.cmdb.entry(LOCAL, "scep1")
        assert entry is not None and not entry.get("certificate")  # held: PENDING, the CSR kept
        (held,) = app.pending.all()
        assert held.status == "pending" and held.subject == "CN=scep1"

        # the trainer approves by the first characters of the id, as lab-ca show printed it
        assert cacli.main(["approve", held.transaction_id[:6].lower(), "--lab-state", str(lab)], tmp_path) == 0
        assert capsys.readouterr().out == f"SCEP request {held.transaction_id} (CN=scep1) approved\n"

        device.clock.set(NOW + dt.timedelta(minutes=6))  # the device polls every 5 minutes
        _ok(session, "get vpn certificate local details scep1")
        entry = device.cmdb.entry(LOCAL, "scep1")
        assert entry is not None and entry.get("certificate")
        details = "\n".join(_ok(session, "get vpn certificate local details scep1"))
        assert "Issuer:      CN = estExampleSCEPCA" in details and "Subject:     CN = scep1" in details
        assert app.pending.get(held.transaction_id).status == "issued"  # type: ignore[union-attr]
        ops = [line.split(" op=")[1].split(" label=")[0] for line in log.getvalue().splitlines()]
        assert f"scep-PKCSReq:{held.transaction_id}" in ops and f"scep-CertPoll:{held.transaction_id}" in ops
    finally:
        device.close()
        scep.stop()


def test_a_rejected_request_is_logged_and_no_longer_polled(tmp_path: Path) -> None:
    """The embedded lab's /approval/scep holds the request; the trainer rejects it (lab-ca reject
    --all on the device's lab state); the next poll gets FAILURE: the event log says so, the entry
    keeps its CSR and is not polled again."""
    device = Device.open(tmp_path / "c.conf", tmp_path / "state", Clock(fixed=NOW))
    try:
        session = Session(device)
        url = "http://scep.lab/approval/scep"
        _ok(session, f"execute vpn certificate ca import auto {url}", True)
        _ok(session, f'execute vpn certificate local generate rsa held1 2048 held1 "" "" "" "" "" "" "" {url} '
                     "fortinet-lab")
        assert cacli.main(["reject", "--all"], tmp_path / "state") == 0
        device.clock.set(NOW + dt.timedelta(minutes=6))
        _ok(session, "get system status")  # a command boundary: the due poll runs
        log = "\n".join(_ok(session, "execute log display"))
        assert "SCEP request of certificate held1: SCEP enrollment of certificate 'held1' failed: request failed, " \
               "failInfo badRequest" in log, log
        entry = device.cmdb.entry(LOCAL, "held1")
        assert entry is not None and entry.get("csr") and not entry.get("certificate")
        assert device.scep.pending() == []  # given up: not polled again
    finally:
        device.close()
