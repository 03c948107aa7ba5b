"""A device in journal mode: durable at return, replay at start, compaction, secrets at rest."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.cmdb import journal, secrets, store
from fortishell.replay import transcript
from fortishell.shell import persist
from fortishell.shell.device import Device
from fortishell.shell.session import Session

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
LAB_CONF = Path(__file__).resolve().parents[2] / "sample-configs" / "lab.conf"
ENC = re.compile(r"ENC (\S+)")
LOCAL = ("vpn", "certificate", "local")


def open_device(tmp: Path, *, journal_mode: bool = True) -> Device:
    conf = tmp / "fortishell.conf"
    if not conf.exists():
        conf.write_text(LAB_CONF.read_text("utf-8"), "utf-8")
    return Device.open(conf, tmp / "state", Clock(fixed=LAB_TIME), journal=journal_mode)


def full_config(dev: Device) -> list[str]:
    """What ``show full-configuration`` prints, secrets decrypted (their salt is random)."""
    result = Session(dev).execute("show full-configuration")
    assert result.rc == 0
    return [ENC.sub(lambda m: "ENC(" + secrets.decrypt(m.group(1)) + ")", line) for line in result.lines]


def commits(n: int, prefix: str = "p") -> str:
    out = []
    for i in range(n):
        out += ["config vpn certificate local", f"edit {prefix}{i}", f'set comments "commit {i}"',
                f"set est-http-password Pw-{prefix}-{i}", "next", "end"]
    out += ["config vpn certificate local", f"rename {prefix}0 to {prefix}-renamed", f"delete {prefix}1", "end",
            "config system global", f"set alias {prefix}-alias", "end"]
    return "\n".join(out) + "\n"


def test_a_commit_is_in_the_journal_when_the_command_returns(tmp_path: Path) -> None:
    dev = open_device(tmp_path)
    before = dev.config_path.read_bytes()  # type: ignore[union-attr]
    sess = Session(dev)
    for line in ["config vpn certificate local", "edit durable", 'set comments "on disk"', "next"]:
        assert sess.execute(line).rc == 0
    # the record is on disk (read back by the recovery reader) and the file was not rewritten
    _base, records, _ = journal.read_records(journal.journal_path(dev.config_path), logging.getLogger("t"))
    assert len(records) == 1 and 'edit "durable"' in records[0]
    assert dev.config_path.read_bytes() == before  # type: ignore[union-attr]
    dev.close()
    assert 'edit "durable"' in dev.config_path.read_text()  # type: ignore[union-attr]
    assert not journal.journal_path(dev.config_path).exists()  # type: ignore[arg-type]


def test_a_journal_left_behind_is_replayed_at_start(tmp_path: Path) -> None:
    dev = open_device(tmp_path)
    rc, text = transcript(commits(6), dev, keep_going=False)
    assert rc == 0, text
    expected = full_config(dev)
    cmdb = dev.cmdb
    dev.stop_background()  # the process "dies": no close, no compaction
    dev.owner.release()  # ... and the kernel releases its lock (cmdb/owner.py)
    again = open_device(tmp_path)
    try:
        assert again.cmdb == cmdb
        assert full_config(again)[4:] == expected[4:]  # after the header (its version restarts)
        assert not journal.journal_path(again.config_path).exists()  # type: ignore[arg-type]
        assert store.load(again.config_path) == cmdb  # type: ignore[arg-type]  # rewritten at start
        assert "replayed after an unclean stop" in (tmp_path / "state" / "debug.log").read_text()
    finally:
        again.close()


def test_show_full_configuration_is_the_same_after_a_compaction(tmp_path: Path) -> None:
    dev = open_device(tmp_path)
    try:
        rc, text = transcript(commits(8), dev, keep_going=False)
        assert rc == 0, text
        before = full_config(dev)
        dev.save()  # a compaction
        assert full_config(dev) == before
        assert store.load(dev.config_path) == dev.cmdb  # type: ignore[arg-type]
        assert not journal.old_path(dev.config_path).exists()  # type: ignore[arg-type]
        rc, text = transcript(commits(2, "q"), dev, keep_going=False)  # later commits: the new journal
        assert rc == 0, text
        cmdb = dev.cmdb
        dev.stop_background()
        dev.owner.release()  # the process "dies": the kernel releases its lock (cmdb/owner.py)
        again = open_device(tmp_path)
        assert again.cmdb == cmdb
        again.close()
    finally:
        dev.close()


def test_the_journal_is_compacted_in_the_background_when_it_outgrows_the_file(tmp_path: Path,
                                                                               monkeypatch) -> None:
    monkeypatch.setattr(persist, "COMPACT_MIN_BYTES", 1)
    monkeypatch.setattr(persist, "COMPACT_RATIO", 0.05)
    dev = open_device(tmp_path)
    try:
        size = len(dev.config_path.read_text())  # type: ignore[union-attr]
        rc, text = transcript(commits(30), dev, keep_going=False)
        assert rc == 0, text
        deadline = time.monotonic() + 20
        while "p29" not in dev.config_path.read_text() and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.05)
        # the file was rewritten without a close, and holds the changes once the compaction ended
        assert len(dev.config_path.read_text()) > size  # type: ignore[union-attr]
        assert persist.load_saved(dev.config_path) == dev.cmdb  # type: ignore[arg-type]
    finally:
        dev.close()
    assert store.load(dev.config_path) == dev.cmdb  # type: ignore[arg-type]


def test_secrets_stay_encrypted_in_the_journal(tmp_path: Path) -> None:
    dev = open_device(tmp_path)
    try:
        rc, text = transcript(commits(3, "s"), dev, keep_going=False)
        assert rc == 0, text
        raw = journal.journal_path(dev.config_path).read_bytes()  # type: ignore[arg-type]
        assert b"Pw-s-" not in raw and b"set est-http-password ENC " in raw
    finally:
        dev.stop_background()


@pytest.mark.parametrize("journal_mode", [False, True])
def test_a_failed_disk_write_is_a_fortios_error_and_the_next_commit_retries(tmp_path: Path, monkeypatch,
                                                                             journal_mode: bool) -> None:
    dev = open_device(tmp_path, journal_mode=journal_mode)
    sess = Session(dev)
    real_fsync = journal.os.fsync
    failing = {"on": True}

    def fsync(fd: int) -> None:
        if failing["on"]:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(journal.os, "fsync", fsync)
    monkeypatch.setattr(store.os, "fsync", fsync)
    try:
        assert sess.execute("config system global").rc == 0
        result = sess.execute("set alias full-disk")
        result = sess.execute("end")
        assert any("Failed to save configuration" in line or "cannot write configuration file" in line
                   for line in result.lines), result.lines
        failing["on"] = False
        if journal_mode:
            result = sess.execute("config system global")
            assert sess.execute("set alias retried").rc == 0
            result = sess.execute("end")
            assert not any("Failed" in line for line in result.lines), result.lines
            assert persist.load_saved(dev.config_path).entry(("system", "global")).get("alias") == "retried"  # type: ignore[arg-type]
    finally:
        failing["on"] = False
        dev.close()


def test_a_save_under_the_device_lock_and_a_background_compaction_never_deadlock(tmp_path: Path) -> None:
    """A command holding the device lock saves (factory reset does) while a background
    compaction waits for that lock: both finish."""
    import threading

    dev = open_device(tmp_path)
    try:
        rc, text = transcript(commits(3), dev, keep_going=False)
        assert rc == 0, text
        done = threading.Event()

        def command() -> None:
            with dev.lock:
                dev.persistence.compact_in_background()  # starts, then waits for the device lock
                time.sleep(0.2)
                dev.save()  # the command's own whole save
            done.set()

        worker = threading.Thread(target=command, daemon=True)
        worker.start()
        assert done.wait(20), "deadlock between the device lock and the compaction"
        worker.join(5)
        compactor = dev.persistence._compactor
        assert compactor is not None
        compactor.join(20)
        assert not compactor.is_alive()
        assert store.load(dev.config_path) == dev.cmdb  # type: ignore[arg-type]
    finally:
        dev.close()


def test_a_session_without_commits_leaves_the_file_byte_for_byte(tmp_path: Path) -> None:
    dev = open_device(tmp_path)
    before = dev.config_path.read_bytes()  # type: ignore[union-attr]
    sess = Session(dev)
    for line in ["show vpn certificate local", "config vpn certificate local", "edit never", "abort", "end"]:
        sess.execute(line)
    dev.close()
    assert dev.config_path.read_bytes() == before  # type: ignore[union-attr]


GENERATE_EC = "execute vpn certificate local generate ec k1 secp256r1 k1.lab"


@pytest.mark.parametrize("journal_mode", [False, True], ids=["whole-file", "journal"])
def test_a_certificate_command_reports_a_failed_save_as_end_does(tmp_path: Path, monkeypatch,
                                                                   journal_mode: bool) -> None:
    """With fsync failing (ENOSPC), ``generate ec`` prints the save error with a non-zero return code;
    ``config ... end`` prints the same error.  Run as a front end runs a command (deferred sync)."""
    from fortishell.frontend.hub import hub_for

    dev = open_device(tmp_path, journal_mode=journal_mode)
    sess = Session(dev)
    hub = hub_for(dev)

    class Member:
        def emit(self, line: str) -> None:
            pass

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    def run(text: str):  # noqa: ANN202
        return hub.run_for(Member(), lambda: sess.execute(text))

    monkeypatch.setattr(store.os, "fsync", no_space)
    try:
        for line in ["config system global", "set alias full-disk"]:
            assert run(line).rc == 0
        ended = run("end")
        generated = run(GENERATE_EC)
    finally:
        monkeypatch.undo()
    saved = re.compile(r"Failed to save configuration|cannot write configuration file")
    assert any(saved.search(line) for line in ended.lines), ended.lines
    assert any(saved.search(line) and "No space left on device" in line for line in generated.lines), generated.lines
    if not journal_mode:
        assert generated.rc != 0
    assert dev.cmdb.entry(LOCAL, "k1") is not None  # kept in memory, as after `end`
    dev.close()
    assert persist.load_saved(dev.config_path).entry(LOCAL, "k1") is not None  # type: ignore[arg-type]
