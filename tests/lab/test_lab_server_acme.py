"""``fortishell lab-server --acme-port`` (issue 20 item 5): a student's device gets an ACME
certificate from the classroom's ACME server in a separate process, which validates http-01 by
fetching from the address the device asked from, at the ``http01=`` port of the students' URL;
issued from the lab CA state (the EST serial counter) and logged in the EST access-log format.
The real binary on 127.0.0.1: one lab-server, one student ``run``."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fortishell.lab.state import FIRST_SERIAL
from fortishell.x509text import serial_colon

EXE = Path(sys.executable).parent / "fortishell"
LAB_CONF = Path(__file__).resolve().parents[2] / "sample-configs" / "lab.conf"
SCRIPT = """\
config system acme
set interface port1
end
config vpn certificate local
edit acme-portal
set enroll-protocol acme2
y
set acme-ca-url https://acme.lab/directory
set acme-domain portal.lab.example
end
diagnose sys acme status-full portal.lab.example
get vpn certificate local details acme-portal
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def trainer(tmp_path: Path):  # noqa: ANN201
    http01 = _free_port()
    log = tmp_path / "access.log"
    env = {k: v for k, v in os.environ.items() if k != "FORTISHELL_STATE_DIR"}
    proc = subprocess.Popen([str(EXE), "--state-dir", str(tmp_path / "trainer"), "lab-server", "--port", "0",
                             "--acme-port", "0", "--acme-http01-port", str(http01), "--quiet",
                             "--access-log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(5)]
    yield proc, lines, http01, log
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=20) == 0
    except subprocess.TimeoutExpired:  # pragma: no cover - reported
        proc.kill()
        pytest.fail("lab-server did not stop on SIGINT")


def test_student_gets_an_acme_certificate_from_the_classroom(tmp_path: Path, trainer) -> None:  # noqa: ANN001
    proc, lines, http01, log = trainer
    assert lines[0].startswith("EST lab responder listening on https://127.0.0.1:"), lines
    assert re.match(rf"ACME server at https://127\.0\.0\.1:\d+/directory \(acme\.lab; http-01 validated at "
                    rf"port {http01} of each student's address\)$", lines[3].rstrip("\n")), lines
    url = re.search(r"--lab-server '(\S+)'", lines[4]).group(1)  # type: ignore[union-attr]
    assert re.search(rf"[?&]acme=\d+&http01={http01}\b", url), url
    student = tmp_path / "student"
    student.mkdir()
    shutil.copy(LAB_CONF, student / "lab.conf")  # trusts the lab CA (G_CA_Cert_1), hence acme.lab
    (tmp_path / "acme.cli").write_text(SCRIPT)
    done = subprocess.run([str(EXE), "--state-dir", str(student), "--config", str(student / "lab.conf"),
                           "--lab-server", url, "run", str(tmp_path / "acme.cli")],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    # the certificate the classroom's ACME server issued, from the lab state's serial counter
    assert f"Serial Num: {serial_colon(FIRST_SERIAL)}" in done.stdout or serial_colon(FIRST_SERIAL) in done.stdout, \
        done.stdout
    assert (tmp_path / "trainer" / "est-lab" / "issued" / f"{FIRST_SERIAL}.pem").exists()
    # the trainer's access log, EST format: the challenge and the finalize with the serial issued
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "op=acme-cert " not in log.read_text():
        time.sleep(0.05)
    entries = log.read_text().splitlines()
    pattern = re.compile(r"^\S+Z 127\.0\.0\.1:\d+ tls-user=- http-user=- op=(acme-\S+) label=- status=(\d+) "
                         r"serial=(\S+) ms=\d+\.\d$")
    parsed = [pattern.match(line) for line in entries]
    assert all(parsed), entries
    ops = [(m.group(1), m.group(2), m.group(3)) for m in parsed if m]
    assert ("acme-chall", "200", "-") in ops, ops
    assert ("acme-finalize", "200", serial_colon(FIRST_SERIAL)) in ops, ops


def test_wrong_http01_port_fails_the_order(tmp_path: Path, trainer) -> None:  # noqa: ANN001
    """The server really fetches from the device: a device answering elsewhere gets no certificate."""
    _, lines, http01, log = trainer
    url = re.search(r"--lab-server '(\S+)'", lines[4]).group(1)  # type: ignore[union-attr]
    student = tmp_path / "student"
    student.mkdir()
    shutil.copy(LAB_CONF, student / "lab.conf")
    (tmp_path / "acme.cli").write_text(SCRIPT)
    done = subprocess.run([str(EXE), "--state-dir", str(student), "--config", str(student / "lab.conf"),
                           "--acme-http-port", str(_free_port()), "--lab-server", url, "run", "--keep-going",
                           str(tmp_path / "acme.cli")], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "trainer" / "est-lab" / "issued" / f"{FIRST_SERIAL}.pem").exists()
    assert "op=acme-finalize" not in log.read_text()
