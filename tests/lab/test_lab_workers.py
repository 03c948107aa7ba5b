"""``fortishell lab-server --workers N`` (issue 22, speed): worker processes over one listening
socket share one lab state (unique serials, a complete issued index), the fault knobs (a change
through ``POST /.lab/faults`` and the ``--retry-after`` count hold for every worker) and the
access log (whole lines); no worker outlives the parent.  The real binary, real TLS on loopback."""

from __future__ import annotations

import hashlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from labkit import basic, certs_from_reply, client_context, csr_b64, enroll_headers, make_csr, raw_request

from fortishell.lab import cli
from fortishell.lab.state import LabState
from fortishell.x509text import serial_colon

EXE = Path(sys.executable).parent / "fortishell"
EST = "/.well-known/est/"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z 127\.0\.0\.1:\d+ tls-user=\S+ http-user=\S+ op=\S+ label=\S+ "
                  r"status=\S+ serial=\S+ ms=\d+\.\d$")


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pids: set[int], seconds: float = 15.0) -> set[int]:
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {p for p in pids if _alive(p)}


def _digest(nonce: str) -> str:
    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    uri = EST + "simpleenroll"
    response = md5(f"{md5('estuser:estrealm:estpwd')}:{nonce}:00000001:c0ffee:auth:{md5('POST:' + uri)}")
    return (f'Digest username="estuser", realm="estrealm", nonce="{nonce}", uri="{uri}", algorithm=MD5, qop=auth, '
            f'nc=00000001, cnonce="c0ffee", response="{response}"')


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], int, list[str]]:
    proc = subprocess.Popen([str(EXE), "--state-dir", str(tmp_path / "st"), "lab-server", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(3)]
    assert lines[0].startswith("EST lab responder listening on https://127.0.0.1:"), lines
    return proc, int(lines[0].split()[5].rsplit(":", 1)[1]), lines


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts the workers through /proc")
def test_workers_share_state_faults_and_access_log(tmp_path: Path, lab_ca) -> None:  # noqa: ANN001
    log = tmp_path / "access.log"
    proc, port, lines = _start(tmp_path, "--workers", "3", "--quiet", "--access-log", str(log),
                               "--retry-after", "3", "0", "--fault-endpoint", "simpleenroll")
    ctx = client_context(lab_ca)
    csrs = {f"student-{i:02d}": csr_b64(make_csr(f"student-{i:02d}")[1]) for i in range(36)}

    def enroll(cn: str) -> tuple[int, int | None]:
        reply = raw_request(port, ctx, "POST", EST + "simpleenroll", body=csrs[cn], headers=enroll_headers(basic()))
        if reply.status != 200:
            return reply.status, None
        (cert,) = certs_from_reply(reply.body)
        return 200, cert.serial_number

    try:
        assert "; 3 worker processes; Ctrl-C stops it" in lines[0], lines[0]
        workers = _children(proc.pid)
        assert len(workers) == 3, workers
        with ThreadPoolExecutor(12) as pool:
            results = dict(zip(csrs, pool.map(enroll, csrs)))
        # --retry-after 3: three 202s in all, not three per worker
        assert sorted(status for status, _ in results.values()).count(202) == 3, results
        retried = [cn for cn, (status, _) in results.items() if status == 202]
        for cn in retried:
            results[cn] = enroll(cn)
        assert {status for status, _ in results.values()} == {200}, results
        serials = {cn: serial for cn, (_, serial) in results.items()}
        assert len(set(serials.values())) == len(csrs)  # every serial once, whichever worker issued it
        issued = LabState(tmp_path / "st" / "est-lab").issued()
        assert {serial: issued[serial]["subject"] for serial in serials.values()} == \
               {serial: f"CN={cn}" for cn, serial in serials.items()}
        # a fault set through one worker is in force in every worker (12 connections at once)
        post = raw_request(port, ctx, "POST", "/.lab/faults", body=json.dumps({"status_500": True}).encode(),
                           headers={"Content-Type": "application/json"})
        assert post.status == 200, post.body
        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(lambda _: raw_request(port, ctx, "POST", EST + "simpleenroll",
                                                           body=csrs["student-00"],
                                                           headers=enroll_headers(basic())).status, range(12)))
        assert statuses == [500] * 12
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert _wait_gone(workers, 1.0) == set()  # the parent reaped them before it exited
    assert proc.stderr is not None and proc.stderr.read() == ""
    # the access log: whole lines from every worker, one per request
    entries = log.read_text().splitlines()
    faults_lines = [e for e in entries if e.startswith("faults: ")]
    assert faults_lines == ["faults: status-500 (on simpleenroll)"], faults_lines
    entries = [e for e in entries if not e.startswith("faults: ")]
    assert [e for e in entries if not LINE.match(e)] == []
    assert len(entries) == len(csrs) + 3 + 1 + 12
    logged = [e.split(" serial=")[1].split()[0] for e in entries if " status=200 " in e and "simpleenroll" in e]
    assert sorted(logged) == sorted(serial_colon(s) for s in serials.values())


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts the workers through /proc")
def test_workers_end_with_their_parent_and_a_lost_one_is_reported(tmp_path: Path, lab_ca) -> None:  # noqa: ANN001
    proc, port, lines = _start(tmp_path, "--workers", "2", "--quiet", "--auth", "digest")
    ctx = client_context(lab_ca)
    try:
        assert "; 2 worker processes; " in lines[0], lines[0]
        workers = _children(proc.pid)
        assert len(workers) == 2, workers
        # a Digest nonce one worker gave is good with every worker (one nonce key, made before the fork)
        challenge = raw_request(port, ctx, "POST", EST + "simpleenroll", body=b"x", headers=enroll_headers())
        assert challenge.status == 401
        nonce = re.search(r'nonce="([^"]+)"', challenge.header("WWW-Authenticate") or "")
        assert nonce is not None
        body = csr_b64(make_csr("digest-student")[1])
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(lambda _: raw_request(port, ctx, "POST", EST + "simpleenroll", body=body,
                                                           headers=enroll_headers(_digest(nonce[1]))).status,
                                     range(12)))
        assert statuses == [200] * 12
        # one worker lost: the parent says so and the other serves on
        lost = min(workers)
        os.kill(lost, signal.SIGKILL)
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 15)
        assert ready, "no word of the lost worker"
        assert proc.stderr.readline() == f"fortishell lab-server: worker process {lost} ended (killed by signal 9); 1 left\n"
        assert raw_request(port, ctx, "GET", EST + "cacerts").status == 200
        workers.discard(lost)
    finally:
        proc.kill()  # no chance to stop them: they must notice on their own
        proc.wait(timeout=30)
    leftover = _wait_gone(workers)
    for pid in leftover:  # a failing run leaves nothing running behind it
        os.kill(pid, signal.SIGKILL)
    assert leftover == set()


@pytest.mark.parametrize(("value", "message"), [
    ("0", "argument --workers: 0 is not between 1 and 1024"),
    ("1025", "argument --workers: 1025 is not between 1 and 1024"),
    ("two", "argument --workers: 'two' is not a whole number"),
    ("-2", "argument --workers: -2 is negative"),
])
def test_workers_option_is_checked(value: str, message: str, capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exc:
        cli.main(["--workers", value])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_workers_option_parses_and_defaults_to_the_cores() -> None:
    assert cli.build_parser().parse_args(["--workers", "1"]).workers == 1
    assert cli.build_parser().parse_args([]).workers is None  # main: workers.default_workers()
    from fortishell.lab import workers

    assert workers.default_workers() == len(os.sched_getaffinity(0))


def test_shared_faults_behave_as_faults() -> None:
    """The knobs every worker sees: validated, counted and cleared as a process's own Faults."""
    from fortishell.errors import LabError
    from fortishell.lab.faults import FaultState
    from fortishell.lab.workers import SharedFaults

    knobs = SharedFaults(retry_after=(2, 5), endpoints=["simpleenroll"])
    assert (knobs.applies("simpleenroll"), knobs.applies("cacerts")) == (True, False)
    assert [knobs.take_retry(), knobs.take_retry(), knobs.take_retry()] == [5, 5, None]
    with pytest.raises(LabError, match="unknown fault knob"):
        knobs.set(status_500=True, no_such_knob=True)
    assert knobs.status_500 is False  # nothing of a refused change is kept
    knobs.set(delay_seconds="1.5", status_500=1)
    assert (knobs.snapshot().delay_seconds, knobs.snapshot().status_500) == (1.5, True)
    assert knobs.as_dict()["endpoints"] == ["simpleenroll"]
    knobs.clear()
    assert knobs.snapshot() == FaultState()
