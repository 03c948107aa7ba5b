"""``fortishell lab-server`` keeps its state on disk by default (issue 22 item 5): in
``<state-dir>/est-lab``, ``<state-dir>`` resolved as for the shell, so a restart continues the
serial counter instead of issuing 07:46:97 again to another subject.  The real binary, real TLS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from labkit import basic, certs_from_reply, client_context, csr_b64, enroll_headers, make_csr, raw_request

from fortishell.lab.state import FIRST_SERIAL
from fortishell.x509text import serial_colon

EXE = Path(sys.executable).parent / "fortishell"
EST = "/.well-known/est/"


def _serve_and_enroll(args: list[str], env: dict[str, str], cn: str, lab_ca) -> tuple[list[str], int]:  # noqa: ANN001
    """Start lab-server, enroll one CSR for ``cn``, stop it: (start-up lines, issued serial)."""
    proc = subprocess.Popen([str(EXE), *args, "lab-server", "--port", "0", "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[0].startswith("EST lab responder listening on https://127.0.0.1:"), lines
        port = int(lines[0].split()[5].rsplit(":", 1)[1])
        reply = raw_request(port, client_context(lab_ca), "POST", EST + "simpleenroll",
                            body=csr_b64(make_csr(cn)[1]), headers=enroll_headers(basic()))
        assert reply.status == 200, reply.body
        (cert,) = certs_from_reply(reply.body)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert proc.stderr is not None and proc.stderr.read() == ""
    return lines, cert.serial_number


def test_restart_continues_the_serial_counter(tmp_path: Path, lab_ca) -> None:  # noqa: ANN001
    state = tmp_path / "state"
    home = tmp_path / "home"  # the default's default: nothing may land there when a state dir is named
    env = {k: v for k, v in os.environ.items() if k not in ("FORTISHELL_STATE_DIR", "XDG_STATE_HOME")}
    env["HOME"] = str(home)
    first, serial1 = _serve_and_enroll(["--state-dir", str(state)], env, "student-a", lab_ca)
    assert f"; state in {state / 'est-lab'};" in first[1], first[1]
    assert serial1 == FIRST_SERIAL
    # the same place spelled through the environment, as the shell resolves it
    second, serial2 = _serve_and_enroll([], {**env, "FORTISHELL_STATE_DIR": str(state)}, "student-b", lab_ca)
    assert f"; state in {state / 'est-lab'};" in second[1], second[1]
    assert serial2 == FIRST_SERIAL + 1, serial_colon(serial2)
    assert (state / "est-lab" / "issued" / f"{serial2}.pem").exists()
    assert not home.exists()
    # lab-ca on the same --state-dir sees both (it reads the same lab state)
    revoke = subprocess.run([str(EXE), "--state-dir", str(state), "lab-ca", "revoke", serial_colon(serial2)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert revoke.returncode == 0, revoke.stderr


def test_default_is_the_shells_default_state_dir(tmp_path: Path, lab_ca) -> None:  # noqa: ANN001
    """No --state-dir, no FORTISHELL_STATE_DIR: $XDG_STATE_HOME/fortishell/est-lab, as the shell's."""
    env = {k: v for k, v in os.environ.items() if k != "FORTISHELL_STATE_DIR"}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    lines, serial = _serve_and_enroll([], env, "student-c", lab_ca)
    where = tmp_path / "xdg" / "fortishell" / "est-lab"
    assert f"; state in {where};" in lines[1], lines[1]
    assert (where / "issued" / f"{serial}.pem").exists()


def test_ephemeral_keeps_nothing(tmp_path: Path) -> None:
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.Popen([str(EXE), "lab-server", "--port", "0", "--ephemeral"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        assert "; state in memory (--ephemeral);" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert not (tmp_path / "state").exists()
