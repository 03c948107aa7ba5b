"""The lab SCEP responder on HTTP (lab/scepserver.py): the lab network's scep.lab, lab-server's
--scep-* options, the access log, and lab-ca approve / reject / show on its pending store."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import httpx
import pytest
from scepkit import LAB_TIME, Requester

from fortishell.clock import Clock
from fortishell.lab import cacli, classroom
from fortishell.lab.accesslog import AccessLog
from fortishell.lab.ca import LabCA
from fortishell.lab.cli import build_parser
from fortishell.lab.network import REFUSED, LabNetwork
from fortishell.lab.scepca import identity
from fortishell.lab.scepserver import ScepService
from fortishell.lab.state import LabState
from fortishell.scep.message import PkiStatus
from fortishell.x509text import sha256_fingerprint


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scep-http-seed")
    identity(LabCA.shipped(), root / "est-lab", single_ca=False)
    return root


@pytest.fixture()
def state_root(tmp_path: Path, seeded: Path) -> Path:
    shutil.copytree(seeded, tmp_path / "state")
    return tmp_path / "state"


def test_scep_lab_is_served_lazily_on_the_lab_network(state_root: Path) -> None:
    net = LabNetwork(state_dir=state_root, clock=Clock(fixed=LAB_TIME))
    try:
        assert net.scep is None
        where = net.resolve("scep.lab", 80)
        assert where is not None and net.scep is not None and where == net.scep.address
        assert net.resolve("192.0.2.88", 80) == where  # its documentation address
        assert net.resolve("scep.lab", 443) == REFUSED
        ping = net.ping("scep.lab", count=1)
        assert ping[0] == "PING scep.lab (192.0.2.88): 56 data bytes" and "1 packets received" in ping[-2]
        host, port = where
        caps = httpx.get(f"http://{host}:{port}/certsrv/mscep/mscep.dll?operation=GetCACaps", timeout=10)
        assert caps.status_code == 200 and caps.headers["content-type"] == "text/plain"
        assert "POSTPKIOperation" in caps.text.split("\n")
        # a PKCSReq over POST with the default challenge, issuing from this state directory's lab
        ra = net.scep.app.identity.cert
        req = Requester.new()
        reply = httpx.post(f"http://{host}:{port}/scep?operation=PKIOperation", content=req.pkcsreq(ra),
                           headers={"Content-Type": "application/x-pki-message"}, timeout=10)
        assert reply.headers["content-type"] == "application/x-pki-message"
        cert = req.certificate(req.read(reply.content, ra))
        assert cert.serial_number in LabState(state_root / "est-lab").issued()
        too_big = httpx.post(f"http://{host}:{port}/scep?operation=PKIOperation", content=b"x" * 70000, timeout=10)
        assert too_big.status_code == 413
    finally:
        net.close()
    assert net.scep is None


def test_classroom_url_maps_scep_to_the_lab_server() -> None:
    net = LabNetwork(lab_server_url="https://10.0.0.5:8443/?crl=8080&scep=8088")
    assert net.resolve("scep.lab", 80) == ("10.0.0.5", 8088)
    assert net.scep is None  # nothing started in this process
    from fortishell.errors import LabError
    with pytest.raises(LabError, match="Bad scep port"):
        LabNetwork(lab_server_url="https://10.0.0.5:8443/?scep=http")


def test_lab_server_scep_options_manual_approval_and_lab_ca(state_root: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    help_text = " ".join(parser.format_help().split())
    for flag in ("--scep-port", "--scep-challenge", "--scep-manual", "--scep-single-ca", "--scep-bad-request",
                 "--scep-bad-message-check", "--scep-bad-time"):
        assert flag in help_text
    assert "(default: fortinet-lab)" in help_text
    args = parser.parse_args(["--scep-port", "0", "--scep-manual", "--scep-challenge", "s3cret"])
    args.state_root, args.state_dir = state_root, state_root / "est-lab"  # as lab-server's main sets them
    out = io.StringIO()
    log = AccessLog([out])
    services, lines = classroom.start(args, Clock(fixed=LAB_TIME), "https://127.0.0.1:8443", log)
    try:
        (scep,) = services
        assert isinstance(scep, ScepService)
        assert lines[0].startswith(f"SCEP responder at http://127.0.0.1:{scep.port}/scep (scep.lab; CA+RA; "
                                   "faults: manual; challenge: from --scep-challenge)")
        assert lines[1] == ("SCEP RA CN=estExampleCA SCEP RA SHA-256 Fingerprint: "
                            f"{sha256_fingerprint(scep.app.identity.cert)}")
        assert lines[-1] == f"students: fortishell --lab-server 'https://127.0.0.1:8443/?scep={scep.port}'"
        ra = scep.app.identity.cert
        url = f"http://127.0.0.1:{scep.port}/scep?operation=PKIOperation"
        req = Requester.new()
        first = httpx.post(url, content=req.pkcsreq(ra, challenge="s3cret"), timeout=10)
        assert req.read(first.content, ra).status == PkiStatus.PENDING
        assert f" op=scep-PKCSReq:{req.txid} label=- status=PENDING serial=- " in out.getvalue()

        lab = ["--lab-state", str(state_root / "est-lab")]
        assert cacli.main(["show", *lab], state_root) == 0
        shown = capsys.readouterr().out
        assert "SCEP requests (fortishell lab-ca approve|reject TRANSACTION-ID):" in shown
        assert f"  {req.txid}  pending   2023-04-06T22:37:34+00:00  CN=student1" in shown
        assert cacli.main(["approve", req.txid, *lab], state_root) == 0
        assert capsys.readouterr().out == f"SCEP request {req.txid} (CN=student1) approved\n"
        assert cacli.main(["reject", req.txid, *lab], state_root) == 1
        assert capsys.readouterr().err == f"fortishell lab-ca: SCEP request {req.txid} was already approved\n"

        polled = httpx.post(url, content=req.poll(ra, LabCA.shipped().cert.subject), timeout=10)
        cert = req.certificate(req.read(polled.content, ra))
        assert f"status=SUCCESS serial={':'.join(f'{cert.serial_number:06x}'[i:i + 2] for i in (0, 2, 4))} " \
            in out.getvalue()
        assert cacli.main(["show", *lab], state_root) == 0
        assert f"  {req.txid}  issued  " in capsys.readouterr().out
    finally:
        for service in services:
            service.stop()


def test_lab_ca_show_without_requests_and_unknown_transaction(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cacli.main(["show"], tmp_path) == 0
    head = capsys.readouterr().out.split("-----BEGIN")[0].splitlines()
    assert head[5].startswith("SHA-256 Fingerprint: ") and head[6].startswith("Issues at:")
    assert head[8] == "SCEP requests: none"
    assert cacli.main(["approve", "0123"], tmp_path) == 1
    assert capsys.readouterr().err == ("fortishell lab-ca: No SCEP request with transaction id 0123 "
                                       "(pending: none)\n")


def test_manual_approval_needs_the_state_on_disk(capsys: pytest.CaptureFixture[str]) -> None:
    from fortishell.lab.cli import main
    assert main(["--ephemeral", "--port", "0", "--scep-port", "0", "--scep-manual"]) == 1
    assert capsys.readouterr().err == ("fortishell lab-server: --scep-manual keeps the requests in the lab state, where "
                                       "lab-ca approve finds them: it cannot be used with --ephemeral\n")


def test_an_unexpected_error_is_500_with_its_traceback_logged(state_root: Path, caplog: pytest.LogCaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    lab = state_root / "est-lab"
    service = ScepService.for_lab(LabCA.shipped(), LabState(lab), lab).start()

    def broken(_request: object) -> None:
        raise RuntimeError("a lab bug")

    monkeypatch.setattr(service.app, "handle", broken)
    try:
        with caplog.at_level("ERROR", logger="fortishell.lab"):
            reply = httpx.get(f"{service.url}?operation=GetCACaps", timeout=10)
    finally:
        service.stop()
    assert (reply.status_code, reply.text) == (500, "internal error\n")
    (record,) = [r for r in caplog.records if r.name == "fortishell.lab"]
    assert "lab SCEP server: GET /scep?operation=GetCACaps failed" in record.getMessage()
    assert "RuntimeError: a lab bug" in record.getMessage()


def test_a_silent_client_is_cut_off(state_root: Path) -> None:
    import socket
    lab = state_root / "est-lab"
    service = ScepService(ScepService.for_lab(LabCA.shipped(), LabState(lab), lab).app, io_timeout=0.1).start()
    try:
        with socket.create_connection(service.address, timeout=5) as sock:
            sock.sendall(b"GET /scep?operation=GetCACaps HTTP/1.0\r\n")  # and never the end of the head
            assert sock.recv(100) == b""  # closed by the server, well before our 5 s
    finally:
        service.stop()
