"""``fortishell serve --exercise NAME`` / ``--config FILE``: the installed binary, devices seeded
from the exercise, kept across logins and restarts, removed by ``--reset``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from pathlib import Path

import pytest

EXE = Path(sys.executable).parent / "fortishell"
ROOT = Path(__file__).resolve().parents[2]


class Served:
    def __init__(self, args: list[str], state: Path) -> None:
        env = dict(os.environ, FORTISHELL_STATE_DIR=str(state))
        self.proc = subprocess.Popen([str(EXE), "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stderr is not None
        self.banner = self.proc.stderr.readline()
        m = re.search(r"SSH on 127\.0\.0\.1:(\d+)", self.banner)
        assert m, self.banner + self.proc.stderr.read()
        self.port = int(m.group(1))

    def stop(self) -> None:
        self.proc.terminate()
        assert self.proc.wait(timeout=20) == 0


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[list[Served]]:
    running: list[Served] = []
    yield running
    for s in running:
        if s.proc.poll() is None:
            s.stop()


def _serve(running: list[Served], args: list[str], state: Path) -> Served:
    s = Served(args, state)
    running.append(s)
    return s


def test_exercise_seeds_each_device_with_its_configuration_and_clock(served: list[Served], tmp_path: Path,
                                                                     shell: Callable[..., Any]) -> None:
    s = _serve(served, ["--exercise", "example1-enroll"], tmp_path / "state")
    assert "each starting from example1-enroll at 2023-04-06 22:37:34" in s.banner
    for _login in (1, 2):  # a second login finds the same device
        sh = shell(s.port)
        assert "G_CA_Cert_1" in sh.cmd("get vpn certificate ca | grep G_CA_Cert_1")
        status = sh.cmd("get system status | grep 'System time'")
        assert "Apr  6 22:37:34 2023" in status, status
    conf = tmp_path / "state" / "rooms" / "example1-enroll" / "users" / "admin" / "fortishell.conf"
    assert 'edit "G_CA_Cert_1"' in conf.read_text()
    assert "est-test101" not in (ROOT / "sample-configs" / "lab.conf").read_text()


def test_devices_persist_across_restarts_until_reset(served: list[Served], tmp_path: Path,
                                                     shell: Callable[..., Any]) -> None:
    state = tmp_path / "state"
    seed = tmp_path / "seed.conf"
    seed.write_bytes((ROOT / "sample-configs" / "lab.conf").read_bytes())
    s = _serve(served, ["--config", str(seed)], state)
    sh = shell(s.port)
    sh.cmd("config vpn certificate local")
    sh.cmd("edit kept-cert")
    sh.cmd("end")
    s.stop()

    s = _serve(served, ["--config", str(seed)], state)
    sh = shell(s.port)
    assert "kept-cert" in sh.cmd("get vpn certificate local | grep kept-cert")
    s.stop()

    s = _serve(served, ["--config", str(seed), "--reset"], state)
    sh = shell(s.port)
    out = sh.cmd("get vpn certificate local | grep kept-cert")
    assert "kept-cert" not in out.split("\n", 1)[1]
    assert "G_CA_Cert_1" in sh.cmd("get vpn certificate ca | grep G_CA_Cert_1")  # the seed again
    assert seed.read_bytes() == (ROOT / "sample-configs" / "lab.conf").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--exercise", "nope"], "no exercise 'nope'"),
    (["--config", "/nonexistent.conf"], "no configuration file"),
    (["--exercise", "example1-enroll", "--config", "x"], "not allowed with argument"),
    (["--port", "65536"], "argument --port"),
    (["--clock", "yesterday"], "argument --clock"),
])
def test_bad_serve_options_are_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.run([str(EXE), "serve", *args], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_help_says_devices_persist_and_how_to_reset() -> None:
    out = subprocess.run([str(EXE), "serve", "--help"], capture_output=True, text=True, timeout=60).stdout
    flat = " ".join(out.split())
    assert "Devices persist" in flat and "--reset" in flat and "(default:" in flat
