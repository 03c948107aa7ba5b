"""Background renewal (a daemon thread while no command runs), edit holds, the device lock, start-up cost."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lifecycle_helpers import DEBUG_ON, ENROLL, local_cert, replay

from fortishell.clock import Clock
from fortishell.shell.device import Device
from fortishell.shell.session import Session


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture()
def live_device(tmp_path: Path, config_path: Path) -> Iterator[Device]:
    """A device on a running clock (time passes by itself)."""
    dev = Device.open(config_path, tmp_path / "state", Clock())
    yield dev
    dev.close()


def _enroll_with_days(device: Device, days: int) -> None:
    replay(device, ENROLL + f"\nconfig vpn certificate local\nedit est-test101\nset auto-regenerate-days {days}"
                   "\nnext\nend\n")


def test_background_thread_renews_when_its_time_comes(live_device) -> None:
    dev = live_device
    _enroll_with_days(dev, 30)
    old = local_cert(dev)
    lines: list[str] = []
    replay(dev, DEBUG_ON)
    dev.set_sink(lines.append)
    # 31 whole days (+0.3 s) before expiry: not due yet; due 0.3 s later without any command or clock jump
    dev.clock.set(old.not_valid_after_utc - dt.timedelta(days=31, seconds=0.3))
    assert dev.poll_renewals() == []
    dev.start_background(interval=0.02)
    assert wait_for(lambda: local_cert(dev).serial_number != old.serial_number)
    assert wait_for(lambda: "[2477] est_simple_reenroll: POST ret:0" in lines)
    assert lines[0] == "[1024] reconstruct_est_ctx: Reconstruction succeeded"
    thread = dev._bg_thread
    dev.close()
    assert thread is not None and not thread.is_alive()


def test_time_passing_is_noticed_by_a_plain_poll(live_device) -> None:
    dev = live_device
    _enroll_with_days(dev, 30)
    old = local_cert(dev)
    dev.clock.set(old.not_valid_after_utc - dt.timedelta(days=31, seconds=0.15))
    assert dev.poll_renewals() == []
    assert dev.poll_renewals() == []  # nothing changed, nothing due: cheap
    time.sleep(0.2)
    outcomes = dev.poll_renewals()
    assert [(o.name, o.ok) for o in outcomes] == [("est-test101", True)]


def test_an_open_edit_holds_the_certificate_until_next(device) -> None:
    _enroll_with_days(device, 30)
    old = local_cert(device)
    editor = Session(device)
    for line in ("config vpn certificate local", "edit est-test101", "set comments renewed-later"):
        assert editor.execute(line).rc == 0
    device.clock.set(old.not_valid_after_utc - dt.timedelta(days=10))
    assert device.poll_renewals() == []  # what a background tick would do
    assert local_cert(device).serial_number == old.serial_number
    assert editor.execute("next").rc == 0  # commit, then the boundary renews
    new = local_cert(device)
    assert new.serial_number != old.serial_number
    entry = device.cmdb.entry(("vpn", "certificate", "local"), "est-test101")
    assert entry.get("comments") == "renewed-later"


def test_background_waits_while_a_command_holds_the_device(device) -> None:
    _enroll_with_days(device, 30)
    old = local_cert(device)
    device.start_background(interval=0.01)
    with device.lock:  # what Session.execute holds while a command (e.g. a commit) runs
        device.clock.set(old.not_valid_after_utc - dt.timedelta(days=10))
        time.sleep(0.15)
        assert local_cert(device).serial_number == old.serial_number
    assert wait_for(lambda: local_cert(device).serial_number != old.serial_number)


def test_no_two_renewals_at_once(device) -> None:
    _enroll_with_days(device, 30)
    old = local_cert(device)
    device.clock.set(old.not_valid_after_utc - dt.timedelta(days=10))
    results: list[list] = []
    gate = threading.Barrier(4)

    def poll() -> None:
        gate.wait()
        results.append(device.poll_renewals(wait=False))

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sum(len(r) for r in results) == 1
    assert local_cert(device).serial_number != old.serial_number


def test_start_up_does_not_load_the_est_stack(config_path: Path, tmp_path: Path) -> None:
    code = f"""
import sys
from pathlib import Path
from fortishell.clock import Clock
from fortishell.shell.device import Device
from fortishell.shell.session import Session
dev = Device.open(Path({str(config_path)!r}), Path({str(tmp_path / 'st')!r}), Clock())
sess = Session(dev)
sess.prompt
r = sess.execute("get system status")
assert r.rc == 0, r.lines
loaded = [m for m in ("httpx", "fortishell.est.engine", "fortishell.lab.server") if m in sys.modules]
print(loaded)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    # the time to the first prompt is measured by bench/config_load.py, not here
    assert out.stdout.strip() == "[]"
