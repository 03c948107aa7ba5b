"""Device.open and the lock of its configuration file (cmdb/owner.py), within one process.

The e2e tests (tests/e2e/test_owner_lock.py) hold the cases of two processes; these hold what
one process does with several devices: serve opens many, tests open and reopen them.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.cmdb import journal, owner
from fortishell.errors import ConfigFileError, ConfigInUse
from fortishell.shell.device import Device
from fortishell.shell.session import Session

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)


def open_device(conf: Path, state: Path) -> Device:
    return Device.open(conf, state, Clock(fixed=LAB_TIME), journal=True)


def commit(dev: Device, name: str) -> None:
    sess = Session(dev)
    for line in ("config vpn certificate local", f"edit {name}", f"set comments {name}", "end"):
        assert sess.execute(line).rc == 0, line
    assert dev.sync() == []


def test_a_second_device_on_an_open_file_is_refused_and_a_reopen_after_close_works(tmp_path: Path) -> None:
    conf = tmp_path / "fortishell.conf"
    first = open_device(conf, tmp_path)
    try:
        commit(first, "one")
        with pytest.raises(ConfigInUse) as refused:
            open_device(conf, tmp_path)
        assert refused.value.output() == [
            f"Configuration file {conf} is already open in this process (PID {os.getpid()}); "
            "use --config FILE for another configuration"]
        commit(first, "two")  # the refusal touched nothing: the owner's journal goes on
        assert journal.journal_path(conf).exists()
    finally:
        first.close()
    again = open_device(conf, tmp_path)
    try:
        assert {"one", "two"} <= set(again.cmdb.keys(("vpn", "certificate", "local")))
    finally:
        again.close()
    assert (tmp_path / ".fortishell.conf.lock").read_text() == ""  # a clean close leaves no PID


def test_devices_on_different_files_of_one_directory_do_not_block_each_other(tmp_path: Path) -> None:
    """serve: the shared device and per-user devices, or rooms, are separate files."""
    devices = [open_device(tmp_path / f"box{i}.conf", tmp_path) for i in range(3)]
    try:
        for i, dev in enumerate(devices):
            commit(dev, f"c{i}")
        assert sorted(p.name for p in tmp_path.glob(".*.lock")) == [f".box{i}.conf.lock" for i in range(3)]
    finally:
        for dev in devices:
            dev.close()


def test_two_spellings_of_one_file_share_one_lock(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    first = open_device(real / "fortishell.conf", tmp_path)
    try:
        with pytest.raises(ConfigInUse):
            open_device(tmp_path / "alias" / "fortishell.conf", tmp_path)
        with pytest.raises(ConfigInUse):
            open_device(real / ".." / "real" / "fortishell.conf", tmp_path)
    finally:
        first.close()


def test_a_file_that_does_not_load_releases_the_lock(tmp_path: Path) -> None:
    conf = tmp_path / "fortishell.conf"
    conf.write_text("config system global\n    set no-such-attribute 1\nend\n", "utf-8")
    with pytest.raises(ConfigFileError) as failed:
        open_device(conf, tmp_path)
    assert not isinstance(failed.value, ConfigInUse)
    conf.unlink()  # fixed by hand: the next open is not refused by a lock of the failed one
    dev = open_device(conf, tmp_path)
    dev.close()


def test_a_lock_file_left_by_a_dead_process_is_taken_over_with_a_log_line(tmp_path: Path) -> None:
    conf = tmp_path / "fortishell.conf"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / ".fortishell.conf.lock").write_text(f"{gone.pid}\n")
    dev = open_device(conf, tmp_path / "state")
    try:
        assert (tmp_path / ".fortishell.conf.lock").read_text() == f"{os.getpid()}\n"
    finally:
        dev.close()
    log = (tmp_path / "state" / "debug.log").read_text()
    assert (f"lock {tmp_path / '.fortishell.conf.lock'} left by PID {gone.pid} (no longer running, not holding it); "
            f"taken over by PID {os.getpid()}") in log


def test_a_lock_that_cannot_be_taken_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".box.conf.lock").mkdir()  # (root ignores a read-only directory: this fails for anyone)
    with pytest.raises(ConfigFileError) as failed:
        open_device(tmp_path / "box.conf", tmp_path)
    lines = failed.value.output()
    assert len(lines) == 1 and lines[0].startswith(f"Cannot lock configuration file {tmp_path / 'box.conf'}: ")
    assert not (tmp_path / "box.conf").exists()  # nothing written without the lock


def test_release_is_idempotent_and_the_lock_is_free_afterwards(tmp_path: Path) -> None:
    import logging

    log = logging.getLogger("test")
    held = owner.acquire(tmp_path / "x.conf", log)
    assert held.held
    held.release()
    held.release()
    assert not held.held
    owner.acquire(tmp_path / "x.conf", log).release()
