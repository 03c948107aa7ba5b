"""The commit journal: record encoding and replay, torn and garbage tails, compaction recovery."""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

import pytest

from cmdb_helpers import CA, LOCAL
from fortishell.cmdb import journal, secrets, store
from fortishell.cmdb.changes import apply as apply_record
from fortishell.cmdb.changes import encode
from fortishell.cmdb.factory import factory_cmdb
from fortishell.cmdb.model import Change, Cmdb
from fortishell.cmdb.render import show_configuration

ENC = re.compile(r"ENC (\S+)")


class Recorder:
    """A CMDB whose commits are encoded as journal records (what a device does)."""

    def __init__(self, cmdb: Cmdb) -> None:
        self.cmdb = cmdb
        self.records: list[str] = []
        cmdb.on_commit(self._on_commit)

    def _on_commit(self, changes: list[Change]) -> None:
        self.records.append(encode(self.cmdb, changes))


def body(cmdb: Cmdb) -> list[str]:
    """``show full-configuration`` without the header (its version counter restarts on load),
    secrets decrypted (each ``ENC`` text has a fresh random salt)."""
    return [ENC.sub(lambda m: "ENC(" + secrets.decrypt(m.group(1)) + ")", line)
            for line in show_configuration(cmdb, full=True, header=False)]


def replayed(base_text: str, records: list[str]) -> Cmdb:
    cmdb = store.loads(base_text)
    for r in records:
        apply_record(cmdb, r)
    return cmdb


def edit(cmdb: Cmdb, path: tuple[str, ...], key: str | None, **values: list[str]) -> None:
    buf = cmdb.begin_edit(path, key)
    for attr, words in values.items():
        buf.set(attr.replace("_", "-"), words)
    cmdb.commit(buf)


def test_records_replay_to_the_same_configuration_in_the_same_order() -> None:
    cmdb = factory_cmdb()
    base = store.dumps(cmdb)
    rec = Recorder(cmdb)
    for i in range(5):
        edit(cmdb, LOCAL, f"k{i}", comments=[f"entry {i} \"quoted\" \\ back"], auto_regenerate_days=[str(i + 1)])
    edit(cmdb, LOCAL, "k1", comments=["changed"])  # an update keeps its place
    buf = cmdb.begin_edit(LOCAL, "k2")
    buf.unset("comments")  # an unset is part of the replaced entry
    cmdb.commit(buf)
    cmdb.delete(LOCAL, "k0")
    cmdb.rename(LOCAL, "k3", "renamed")  # in place, not moved last
    cmdb.clone(LOCAL, "k1", "copy")
    edit(cmdb, ("system", "global"), None, hostname=["journal-box"])  # an object table
    edit(cmdb, CA, "G_CA_Cert_1", est_url=["https://ca.lab:8443"])
    edit(cmdb, LOCAL, "k4", est_http_password=["secret-pw"])
    assert len(rec.records) == 13
    again = replayed(base, rec.records)
    assert body(again) == body(cmdb)
    assert again.keys(LOCAL)[-5:] == ["k1", "k2", "renamed", "k4", "copy"]
    assert again.entry(LOCAL, "k4").get("est-http-password") == "secret-pw"


def test_records_hold_secrets_encrypted_and_changes_only() -> None:
    cmdb = factory_cmdb()
    rec = Recorder(cmdb)
    edit(cmdb, LOCAL, "pw", est_http_password=["Clear Pass 42"])
    (record,) = rec.records
    assert "Clear Pass 42" not in record and "set est-http-password ENC " in record
    assert record.startswith('config vpn certificate local\n    edit "pw"\n') and record.endswith("end\n")
    assert "Fortinet_Factory" not in record  # only the changed entry, not the configuration


def write_journal(path: Path, base: str, records: list[str]) -> None:
    j = journal.Journal(path, base, logging.getLogger("test"))
    tickets = [j.append(r) for r in records]
    j.wait(tickets[-1])
    j.close()


def boot(conf: Path, caplog: pytest.LogCaptureFixture) -> tuple[Cmdb, int]:
    text = store.read_config_text(conf)
    cmdb = store.loads(text)
    with caplog.at_level(logging.WARNING):
        n = journal.recover(conf, cmdb, text, logging.getLogger("test"))
    return cmdb, n


@pytest.fixture
def committed(tmp_path: Path) -> tuple[Path, Cmdb, list[str], list[Cmdb]]:
    """A configuration file, a journal of 4 commits on it, and the states after each commit."""
    cmdb = factory_cmdb()
    conf = tmp_path / "fortishell.conf"
    store.save(cmdb, conf)
    rec = Recorder(cmdb)
    states = []
    for i in range(4):
        edit(cmdb, LOCAL, f"j{i}", comments=[f"commit {i}"])
        states.append(store.loads(store.dumps(cmdb)))
    write_journal(conf, journal.text_hash(conf.read_text()), rec.records)
    return conf, cmdb, rec.records, states


def test_a_journal_is_replayed_at_start_and_has_mode_0600(committed, caplog) -> None:
    conf, cmdb, _records, states = committed
    assert stat.S_IMODE(os.stat(journal.journal_path(conf)).st_mode) == 0o600
    again, n = boot(conf, caplog)
    assert n == 4 and body(again) == body(states[-1])
    assert "4 committed change(s) replayed" in caplog.text


@pytest.mark.parametrize("cut", [1, 5, 9, 30])
def test_a_torn_tail_is_dropped_never_applied_in_part(committed, caplog, cut: int) -> None:
    conf, _cmdb, records, states = committed
    path = journal.journal_path(conf)
    data = path.read_bytes()
    path.write_bytes(data[:-cut])  # the last record was being written when the process died
    again, n = boot(conf, caplog)
    assert n == 3 and body(again) == body(states[2])
    assert "dropped a torn or corrupt tail" in caplog.text


@pytest.mark.parametrize("garbage", [b"\x00" * 3, b"\xff" * 64, b"\x00\x00\x00\x05\x00\x00\x00\x00hello",
                                     b"\x7f\xff\xff\xff" + b"x" * 20])
def test_a_garbage_tail_is_dropped_with_a_log_line(committed, caplog, garbage: bytes) -> None:
    conf, _cmdb, _records, states = committed
    with open(journal.journal_path(conf), "ab") as fh:
        fh.write(garbage)
    again, n = boot(conf, caplog)
    assert n == 4 and body(again) == body(states[-1])
    assert "dropped a torn or corrupt tail" in caplog.text


def test_a_corrupted_record_ends_the_replay_there(committed, caplog) -> None:
    conf, _cmdb, _records, states = committed
    path = journal.journal_path(conf)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x20  # a bit flip inside the last record: its checksum no longer matches
    path.write_bytes(bytes(data))
    again, n = boot(conf, caplog)
    assert n == 3 and body(again) == body(states[2])


def test_a_journal_of_another_file_is_set_aside(committed, caplog) -> None:
    conf, _cmdb, _records, _states = committed
    store.save(factory_cmdb(), conf)  # replaced by hand: the journal's base is gone
    conf.write_text(conf.read_text() + "\n")
    again, n = boot(conf, caplog)
    assert n == 0 and again == factory_cmdb()
    assert (conf.parent / f".{conf.name}.journal.unused").exists()
    assert "does not belong" in caplog.text


def test_compaction_interrupted_before_the_file_was_written(committed, caplog) -> None:
    """``.old`` is replayed, then the new journal."""
    conf, cmdb, _records, _states = committed
    j = journal.Journal(conf, journal.text_hash(conf.read_text()), logging.getLogger("test"))
    os.replace(journal.journal_path(conf), journal.old_path(conf))  # what rotate() leaves
    rec = Recorder(cmdb)
    edit(cmdb, LOCAL, "after-rotation", comments=["new journal"])
    j.rebase("-")
    j.wait(j.append(rec.records[-1]))
    j.close()
    again, n = boot(conf, caplog)
    assert n == 5 and body(again) == body(cmdb)


def test_compaction_interrupted_after_the_file_was_written(committed, caplog) -> None:
    """The mark in ``.old`` matches the file: ``.old`` is not replayed a second time."""
    conf, cmdb, records, _states = committed
    j = journal.Journal(conf, "x", logging.getLogger("test"))
    j._fd = os.open(journal.journal_path(conf), os.O_WRONLY | os.O_APPEND)
    assert j.rotate()
    text = store.dumps(cmdb)
    j.compacted(text, lambda t: store.save_text(t, conf))
    assert not journal.old_path(conf).exists()
    # the same state, but as if the process died before removing .old, with a record that
    # would show if .old were replayed on top of the compacted file
    ghost = factory_cmdb()
    Recorder(ghost)
    old = journal.old_path(conf)
    gj = journal.Journal(conf, "-", logging.getLogger("test"))
    edit(ghost, LOCAL, "ghost")
    gj.wait(gj.append(encode(ghost, [Change(LOCAL, "ghost", None, ghost.entry(LOCAL, "ghost"))])))
    gj.close()
    os.replace(journal.journal_path(conf), old)
    with open(old, "ab") as fh:
        fh.write(journal._record(journal.COMPACTED + journal.text_hash(conf.read_text())))
    again, n = boot(conf, caplog)
    assert n == 0 and "ghost" not in again.keys(LOCAL) and body(again) == body(cmdb)
    assert len(records) == 4


def test_when_durable_calls_back_once_the_record_is_on_disk_or_failed(tmp_path: Path, monkeypatch) -> None:
    import threading

    conf = tmp_path / "fortishell.conf"
    store.save(factory_cmdb(), conf)
    j = journal.Journal(conf, journal.text_hash(conf.read_text()), logging.getLogger("test"))
    seen: list[object] = []
    done = threading.Event()
    ticket = j.append("config system global\n    set alias cb\nend\n")
    j.when_durable(ticket, lambda err: (seen.append(err), done.set()))
    assert done.wait(10) and seen == [None]
    assert len(journal.read_records(journal.journal_path(conf), logging.getLogger("t"))[1]) == 1
    j.when_durable(ticket, seen.append)  # already on disk: at once
    assert seen == [None, None]

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal.os, "fsync", no_space)
    failed = threading.Event()
    errors: list[object] = []
    j.when_durable(j.append("config system global\n    set alias full\nend\n"),
                   lambda err: (errors.append(err), failed.set()))
    assert failed.wait(10) and isinstance(errors[0], OSError) and errors[0].errno == 28
    monkeypatch.undo()
    j.close()
