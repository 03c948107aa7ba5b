"""Helpers of the SCEP tests. An independent SCEP server for the interop tests: Debian's ``scepserver`` (micromdm/scep) on a
loopback port, with its own CA in a temporary depot.  Outside CI a missing binary skips the tests
that need it; under CI (``CI=true``) it fails them, since ``.ci/run`` installs the package."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

CHALLENGE = "interop-secret"


@dataclass(frozen=True)
class ScepServer:
    url: str
    ca: x509.Certificate
    depot: Path


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI") or os.environ.get("FORTISHELL_CI"):
            pytest.fail(f"{binary} is missing: .ci/run installs the Debian package 'scep'")
        pytest.skip(f"{binary} is not installed (Debian package 'scep')")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"scepserver exited: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("scepserver did not start listening")


@pytest.fixture(scope="module")
def scepserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScepServer]:
    binary = need("scepserver")
    depot = tmp_path_factory.mktemp("scep-depot") / "depot"
    subprocess.run([binary, "ca", "-init", "-depot", str(depot), "-keySize", "2048", "-years", "2",
                    "-organization", "interop"], check=True, capture_output=True, timeout=60)
    log = depot.parent / "scepserver.log"  # a file, not a pipe nobody drains (a full pipe would stall the server)
    for attempt in range(3):  # the binary needs a port number: a free one can be taken by another worker meanwhile
        port = _free_port()
        with log.open("wb") as out:
            proc = subprocess.Popen([binary, "-depot", str(depot), "-port", str(port), "-challenge", CHALLENGE,
                                     "-allowrenew", "0"], stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_listening(port, proc, log, time.monotonic() + 20)
            break
        except RuntimeError:
            proc.kill()
            proc.wait()
            if attempt == 2:
                raise
    try:
        ca = x509.load_pem_x509_certificate((depot / "ca.pem").read_bytes())
        yield ScepServer(f"http://127.0.0.1:{port}/scep", ca, depot)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
