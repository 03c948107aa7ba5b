"""The journal's guards against a failing disk: a journal holding records is never truncated, a write
that failed half-way is cut off before the next one, a compaction mark is never written after garbage,
and a rotation after a failed compaction never replaces the closed journal it left."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from journal_helpers import LOG, booted_keys, conf, jnl, record  # noqa: F401 - conf, jnl: fixtures
from fortishell.cmdb import journal
from fortishell.errors import ConfigFileError

pytestmark = pytest.mark.timeout(60)


def is_journal(fd: int, conf: Path) -> bool:
    return os.path.samefile(f"/proc/self/fd/{fd}", journal.journal_path(conf))


def test_a_journal_holding_records_is_never_truncated(conf: Path, jnl: journal.Journal) -> None:
    jnl.wait(jnl.append(record("r1")), timeout=10)
    jnl.close()
    other = journal.Journal(conf, journal.text_hash(conf.read_text()), LOG)  # no file of its own yet
    try:
        with pytest.raises(ConfigFileError):
            other.wait(other.append(record("r2")), timeout=10)
    finally:
        other.close(timeout=5)
    assert booted_keys(conf) == ["r1"]


def test_a_half_write_that_cannot_be_cut_back_is_cut_before_the_next(conf: Path, jnl: journal.Journal,
                                                                    monkeypatch) -> None:
    jnl.wait(jnl.append(record("r1")), timeout=10)
    real_write, real_truncate = os.write, os.ftruncate
    armed = {"write": 1, "truncate": 1}

    def write(fd: int, data: bytes) -> int:
        if armed["write"] and is_journal(fd, conf):
            armed["write"] -= 1
            real_write(fd, bytes(data)[:len(data) // 2])  # the disk took half, then failed
            raise OSError(errno.EIO, "Input/output error")
        return real_write(fd, data)

    def ftruncate(fd: int, size: int) -> None:
        if armed["truncate"] and is_journal(fd, conf):
            armed["truncate"] -= 1
            raise OSError(errno.EIO, "Input/output error")
        real_truncate(fd, size)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "ftruncate", ftruncate)
    with pytest.raises(ConfigFileError):
        jnl.wait(jnl.append(record("r2")), timeout=10)
    assert armed == {"write": 0, "truncate": 0}
    jnl.wait(jnl.append(record("r3")), timeout=10)  # r2 is retried with r3
    assert booted_keys(conf) == ["r1", "r2", "r3"]


def test_a_compaction_mark_is_never_written_after_a_torn_tail(conf: Path, jnl: journal.Journal) -> None:
    jnl.wait(jnl.append(record("r1")), timeout=10)
    assert jnl.rotate()
    old = journal.old_path(conf)
    with open(old, "ab") as fh:
        fh.write(b"\x00\x00\x01\x00garbage")  # a record torn by a crash or a failed write
    text = conf.read_text() + "\n"  # what the compaction would write

    def write_fails(_text: str) -> None:
        raise ConfigFileError("cannot write configuration file: [Errno 5] Input/output error")

    with pytest.raises(ConfigFileError):
        jnl.compacted(text, write_fails)
    base, records, compacted = journal.read_records(old, LOG)
    assert records and compacted == journal.text_hash(text), "the mark was written after garbage"


def test_a_rotation_after_a_failed_compaction_keeps_the_closed_journal(conf: Path, jnl: journal.Journal) -> None:
    jnl.wait(jnl.append(record("r1")), timeout=10)
    assert jnl.rotate()  # the compaction's file write then fails: .old stays
    jnl.wait(jnl.append(record("r2")), timeout=10)
    assert jnl.rotate()
    assert [p.name for p in journal.old_paths(conf)] == [".fortishell.conf.journal.old",
                                                          ".fortishell.conf.journal.old.2"]
    jnl.wait(jnl.append(record("r3")), timeout=10)
    assert booted_keys(conf) == ["r1", "r2", "r3"]
