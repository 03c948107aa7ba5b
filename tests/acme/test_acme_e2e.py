"""End-to-end: the ``fortishell`` command with ``--acme-http-port`` gets a certificate from pebble."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

EXE = Path(sys.executable).parent / "fortishell"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fortishell(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state"))
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, env=env, timeout=120)


def test_run_with_acme_http_port_obtains_a_certificate_from_pebble(tmp_path: Path, pebble_for: object) -> None:
    port = _free_port()  # released for fortishell: pebble must know the port before the device listens
    peb = pebble_for(port)  # type: ignore[operator]
    script = tmp_path / "acme.cli"
    script.write_text(
        "config vpn certificate ca\nedit PebbleRoot\nset ca \"" + peb.root_pem.strip() + "\"\nnext\nend\n"
        "config system acme\nset interface port1\nend\n"
        "config vpn certificate local\nedit peb\nset enroll-protocol acme2\ny\n"
        f"set acme-ca-url {peb.directory}\nset acme-domain fgt.example.com\nend\n"
        "get system acme acc-details\n"
        "diagnose sys acme status-full fgt.example.com\n"
    )
    done = _fortishell(["--acme-http-port", str(port), "run", str(script)], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "== [ ACME-127.0.0.1-0000 ]" in done.stdout
    assert '"finished": true' in done.stdout
    assert "failed" not in done.stdout
    conf = (tmp_path / "state" / "fortishell.conf").read_text()
    assert 'edit "peb"' in conf and "BEGIN CERTIFICATE" in conf.split('edit "peb"')[1]


def test_acme_http_port_is_checked_and_does_not_apply_to_lab_server(tmp_path: Path) -> None:
    done = _fortishell(["--acme-http-port", "70000", "run", "-"], tmp_path)
    assert done.returncode == 2 and "port 70000 is out of range (1-65535)" in done.stderr
    done = _fortishell(["--acme-http-port", "8080", "lab-server"], tmp_path)
    assert done.returncode == 2
    assert "--acme-http-port does not apply to 'lab-server'" in done.stderr


def test_lab_exercise_devices_take_the_acme_http_port(tmp_path: Path) -> None:
    """Issue 20 item 4: ``fortishell --acme-http-port P lab check|start``: the exercise's device answers
    http-01 on P.  P taken by another socket: the device cannot listen there and the check fails
    with the ACME failure line; P free: the same check passes."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        taken = _fortishell(["--acme-http-port", str(port), "lab", "check", "--show", "exercise-acme-1"], tmp_path)
    assert taken.returncode == 1, taken.stdout + taken.stderr
    assert "Traceback" not in taken.stdout + taken.stderr
    assert "cannot listen for the http-01 challenge: Address already in use" in taken.stdout
    done = _fortishell(["--acme-http-port", str(port), "lab", "check", "exercise-acme-1"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
