"""Every durability waiter of the journal is settled, success or error, on every path, in bounded time;
a record failing halfway through a replay is not applied in part and is kept for the operator."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from cmdb_helpers import LOCAL
from journal_helpers import LOG, booted_keys, conf, jnl, record  # noqa: F401 - conf, jnl: fixtures
from fortishell.cmdb import journal, store
from fortishell.errors import ConfigFileError

pytestmark = pytest.mark.timeout(60)
REAL_FSYNC = os.fsync


class Gate:
    """``os.fsync`` of the journal file blocks until :meth:`open` (the first ``blocks`` calls)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, conf: Path, blocks: int = 1) -> None:
        self.event = threading.Event()
        self.entered = threading.Event()
        self.left = blocks
        target = journal.journal_path(conf)

        def fsync(fd: int) -> None:
            if self.left and os.path.samefile(f"/proc/self/fd/{fd}", target):
                self.left -= 1
                self.entered.set()
                self.event.wait(30)
            REAL_FSYNC(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    def open(self) -> None:
        self.event.set()


class Waiter:
    def __init__(self) -> None:
        self.results: list[OSError | None] = []
        self.called = threading.Event()

    def __call__(self, error: OSError | None) -> None:
        self.results.append(error)
        self.called.set()


def test_rotate_settles_the_waiters_of_the_records_it_writes(conf: Path, jnl: journal.Journal, monkeypatch) -> None:
    """A record queued while the flusher is busy is written by the rotation: its waiter hears of it."""
    gate = Gate(monkeypatch, conf)
    rotated = threading.Event()
    first = jnl.append(record("r1"))  # the flusher writes it and blocks in fsync
    assert gate.entered.wait(10)
    jnl.when_durable(first, lambda _err: rotated.wait(10))  # keeps the flusher off r2 until rotate() ended
    second = jnl.append(record("r2"))
    waiter = Waiter()
    jnl.when_durable(second, waiter)
    rotation = threading.Thread(target=jnl.rotate, daemon=True)
    rotation.start()
    gate.open()
    rotation.join(10)
    assert not rotation.is_alive()
    rotated.set()
    assert waiter.called.wait(5), "the waiter of a record written by rotate() was never called"
    assert waiter.results == [None]
    jnl.wait(second, timeout=1)
    assert booted_keys(conf) == ["r1", "r2"]


def test_a_rotation_whose_write_fails_reports_it_and_changes_nothing(conf: Path, jnl: journal.Journal,
                                                                     monkeypatch) -> None:
    gate = Gate(monkeypatch, conf)
    rotated = threading.Event()
    first = jnl.append(record("r1"))
    assert gate.entered.wait(10)
    jnl.when_durable(first, lambda _err: rotated.wait(10))
    second = jnl.append(record("r2"))
    waiter = Waiter()
    jnl.when_durable(second, waiter)
    failures: list[BaseException] = []

    def rotate() -> None:
        def no_space(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", no_space)  # the rotation's own write fails
        try:
            jnl.rotate()
        except OSError as exc:
            failures.append(exc)
        finally:
            monkeypatch.setattr(os, "fsync", REAL_FSYNC)

    gate.event.set()
    rotation = threading.Thread(target=rotate, daemon=True)
    gate.entered.wait(10)
    rotation.start()
    rotation.join(10)
    rotated.set()
    assert failures and isinstance(failures[0], OSError)
    assert waiter.called.wait(5) and isinstance(waiter.results[0], OSError)
    assert journal.journal_path(conf).exists() and not journal.old_paths(conf)  # still the journal
    jnl.wait(jnl.append(record("r3")), timeout=10)  # the disk is back: r2 is retried with r3
    assert booted_keys(conf) == ["r1", "r2", "r3"]


def test_waiting_for_a_disk_that_never_answers_is_bounded(conf: Path, jnl: journal.Journal, monkeypatch) -> None:
    monkeypatch.setattr(journal, "WAIT_TIMEOUT", 0.3)
    gate = Gate(monkeypatch, conf)
    ticket = jnl.append(record("r1"))
    outcome: list[BaseException | None] = []

    def wait() -> None:
        try:
            jnl.wait(ticket)
            outcome.append(None)
        except ConfigFileError as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=wait, daemon=True)
    start = time.monotonic()
    waiting.start()
    waiting.join(5)
    gate.open()
    assert outcome and isinstance(outcome[0], ConfigFileError), "wait() did not give up"
    assert time.monotonic() - start < 3
    assert "did not confirm the write" in outcome[0].lines[0]


def test_close_settles_every_waiter(conf: Path, jnl: journal.Journal, monkeypatch) -> None:
    """A write the disk never confirms and a record queued after close: both waiters hear an error."""
    gate = Gate(monkeypatch, conf)
    hung = Waiter()
    jnl.when_durable(jnl.append(record("r1")), hung)
    assert gate.entered.wait(10)
    closer = threading.Thread(target=jnl.close, kwargs={"timeout": 0.3}, daemon=True)
    closer.start()
    closer.join(5)
    assert hung.called.wait(5) and isinstance(hung.results[0], OSError)
    late = Waiter()
    ticket = jnl.append(record("r2"))  # a commit after close (a renewal racing the shutdown)
    jnl.when_durable(ticket, late)
    assert late.called.wait(2) and isinstance(late.results[0], OSError)
    with pytest.raises(ConfigFileError):
        jnl.wait(ticket, timeout=2)
    gate.open()


def test_a_record_appended_after_close_is_reported_at_once(conf: Path, jnl: journal.Journal) -> None:
    jnl.wait(jnl.append(record("r1")), timeout=10)
    jnl.close()
    late = Waiter()
    ticket = jnl.append(record("r2"))
    jnl.when_durable(ticket, late)
    assert late.called.wait(2), "a waiter after close was never called"
    assert isinstance(late.results[0], OSError)
    done = threading.Event()
    errors: list[Exception] = []

    def wait() -> None:
        try:
            jnl.wait(ticket)
        except ConfigFileError as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=wait, daemon=True).start()
    assert done.wait(3) and errors, "wait() after close did not return"


def test_a_record_failing_halfway_through_replay_is_not_applied_in_part(conf: Path, jnl: journal.Journal,
                                                                        caplog) -> None:
    """r2's first block applies, its second does not: nothing of r2 is applied, the replay stops there,
    and r2, r3 are kept as configuration text in ``.journal.unapplied``."""
    half = record("half") + "config no such table\nend\n"
    for payload in (record("r1"), half, record("r3")):
        ticket = jnl.append(payload)
    jnl.wait(ticket, timeout=10)
    text = store.read_config_text(conf)
    cmdb = store.loads(text)
    with caplog.at_level(logging.ERROR):
        assert journal.recover(conf, cmdb, text, LOG) == 1
    assert "r1" in cmdb.keys(LOCAL)
    assert "half" not in cmdb.keys(LOCAL), "a record was applied in part"
    assert "r3" not in cmdb.keys(LOCAL)
    assert "record 2 not applied" in caplog.text
    kept = journal.unapplied_path(conf).read_text()
    assert kept == half + record("r3")
    assert not (os.stat(journal.unapplied_path(conf)).st_mode & 0o077)
