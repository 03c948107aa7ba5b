"""README "Teaching with fortishell": the documented commands, run as written (the installed
binary for ``python3 -m fortishell``, a test directory for /tmp/, a free loopback port); of the
one ``lab start`` line per exercise, which differ in the name only, two representatives."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from labexercises import BY_NAME, ROOT, Replay, fortishell_binary
from test_labs_catalogue import typed_lines


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Teaching with fortishell")
    return text[start:text.index("\n## ", start + 3)]


def _blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", _section(), re.M | re.S)


def _argv(line: str, tmp_path: Path, port: int | None = None) -> list[str]:
    line = line.replace("/tmp/", f"{tmp_path}/")
    if port is not None:
        line = re.sub(r"--port \d+", f"--port {port}", line)
    words = shlex.split(line)
    assert words[:3] == ["python3", "-m", "fortishell"], line
    return [str(fortishell_binary()), *words[3:]]


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1", COLUMNS="200")
    env.pop("FORCE_COLOR", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _block_with(word: str) -> list[str]:
    blocks = [b for b in _blocks() if word in b]
    assert len(blocks) == 1, f"README documents {word!r} in {len(blocks)} blocks"
    return [ln for ln in blocks[0].splitlines() if ln.strip()]


@pytest.fixture()
def background(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


# The start commands run here (each typed through, then checked): a guide example with a (y/n)
# question and the failing exercise (kept going).  test_labs_catalogue starts example1-enroll and
# exercise-crl (multi-part) the same way; the README's lines differ in the name only (checked below).
STARTED = ("example3-regenerate", "exercise-untrusted-ca")


def test_the_readme_has_one_start_command_per_exercise() -> None:
    lines = _block_with("lab start")
    assert {shlex.split(ln)[-1] for ln in lines} == set(BY_NAME)
    # one form: what runs for the exercises started below runs for every other one
    assert all(shlex.split(ln)[:-1] == ["python3", "-m", "fortishell", "lab", "start"] for ln in lines), lines


@pytest.mark.parametrize("line", [ln for ln in _block_with("lab start") if shlex.split(ln)[-1] in STARTED],
                         ids=lambda ln: shlex.split(ln)[-1])
def test_one_command_starts_each_exercise(line: str, tmp_path: Path) -> None:
    name = shlex.split(line)[-1]
    proc = subprocess.run(_argv(line, tmp_path), input=typed_lines(name), capture_output=True, text=True,
                          env=_env(tmp_path), cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    transcript = re.search(r"transcript: (\S+)", proc.stderr).group(1)  # type: ignore[union-attr]
    check = subprocess.run([str(fortishell_binary()), "lab", "check", name, transcript], capture_output=True,
                           text=True, env=_env(tmp_path), timeout=60, check=False)
    assert check.returncode == 0 and f"{name}: PASS" in check.stdout, check.stdout


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")
def test_serving_a_room_seeded_with_an_exercise(tmp_path: Path, background: list[subprocess.Popen[str]]) -> None:
    (line,) = _block_with("serve --exercise")
    port = _free_port()
    proc = subprocess.Popen(_argv(line, tmp_path, port), stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
    background.append(proc)
    assert proc.stderr is not None
    banner = proc.stderr.readline()
    assert f"SSH on 127.0.0.1:{port}" in banner, banner
    ssh = subprocess.run(["ssh", "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                          "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-F", "/dev/null", "student1@127.0.0.1",
                          "get vpn certificate ca | grep G_CA_Cert_1"], capture_output=True, text=True, timeout=30,
                         stdin=subprocess.DEVNULL)
    # the factory users file knows admin only: student1 is refused, admin gets the seeded device
    assert ssh.returncode == 255
    ssh = subprocess.run(["ssh", "-p", str(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                          "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-F", "/dev/null", "admin@127.0.0.1",
                          "get vpn certificate ca | grep G_CA_Cert_1"], capture_output=True, text=True, timeout=30,
                         stdin=subprocess.DEVNULL)
    assert ssh.returncode == 0, ssh.stderr
    assert "G_CA_Cert_1" in ssh.stdout.split("\n", 1)[1]


def test_watching_the_responders_log(tmp_path: Path, background: list[subprocess.Popen[str]]) -> None:
    (line,) = _block_with("lab-server")
    port = _free_port()
    proc = subprocess.Popen(_argv(line, tmp_path, port), stdout=subprocess.PIPE, text=True, env=_env(tmp_path))
    background.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith(f"EST lab responder listening on https://127.0.0.1:{port}")
    assert proc.stdout.readline().startswith("faults: none")
    assert proc.stdout.readline().startswith("lab CA SHA-256 Fingerprint: ")
    student = subprocess.run([str(fortishell_binary()), "--lab-server", f"https://127.0.0.1:{port}", "lab", "check",
                              "example1-enroll"], capture_output=True, text=True, env=_env(tmp_path), timeout=120,
                             check=False)
    assert student.returncode == 0, student.stdout + student.stderr
    screen = [proc.stdout.readline() for _ in range(3)]
    assert [re.search(r" op=(\S+) ", ln).group(1) for ln in screen] == ["cacerts", "csrattrs", "simpleenroll"]  # type: ignore[union-attr]
    assert "http-user=estuser" in screen[2] and "status=200" in screen[2] and "serial=-" not in screen[2]
    deadline = time.monotonic() + 10
    log = tmp_path / "lab-access.log"
    while time.monotonic() < deadline and len(log.read_text().splitlines()) < 3:
        time.sleep(0.1)
    assert log.read_text().splitlines() == [ln.rstrip("\n") for ln in screen]


def test_grading_a_folder(tmp_path: Path, replayed: Callable[[str], Replay]) -> None:
    (line,) = _block_with("lab grade")
    folder = tmp_path / "transcripts"
    folder.mkdir()
    (folder / "student1.txt").write_text(replayed("example1-enroll").proc.stdout)
    proc = subprocess.run(_argv(line, tmp_path), capture_output=True, text=True, env=_env(tmp_path), timeout=60,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 of 1 passed" in proc.stdout and "student1.txt" in proc.stdout
    (folder / "student2.txt").write_text("FortiProxy # exit\n")
    assert subprocess.run(_argv(line, tmp_path), capture_output=True, text=True, env=_env(tmp_path), timeout=60,
                          check=False).returncode == 1
