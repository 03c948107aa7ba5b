"""``move <a> before|after <b>``: a table's order changed in one commit, through the CLI, in the
journal (a ``move`` line, replayed in place) and in the configuration file after a restart."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cmdb_helpers import LOCAL
from fortishell.clock import Clock
from fortishell.cmdb import journal
from fortishell.cmdb.changes import apply as apply_record
from fortishell.cmdb.changes import encode
from fortishell.cmdb.factory import factory_cmdb
from fortishell.cmdb.model import Change, Cmdb, Moved
from fortishell.errors import EntryNotFound
from fortishell.shell.device import Device
from fortishell.shell.session import Session


def _three(cmdb: Cmdb) -> None:
    for key in ("m1", "m2", "m3"):
        cmdb.commit(cmdb.begin_edit(LOCAL, key))


def _mine(cmdb: Cmdb) -> list[str]:
    return [k for k in cmdb.keys(LOCAL) if k.startswith("m")]


def test_move_reorders_the_table_in_one_commit() -> None:
    cmdb = factory_cmdb()
    _three(cmdb)
    seen: list[list[Change]] = []
    cmdb.on_commit(lambda changes: seen.append(list(changes)) and None)
    version = cmdb.version
    cmdb.move(LOCAL, "m3", "before", "m1")
    assert _mine(cmdb) == ["m3", "m1", "m2"] and cmdb.version == version + 1
    (change,) = seen[0]
    assert isinstance(change, Moved) and change.reordered and change.old is change.new and not change.touched
    cmdb.move(LOCAL, "m3", "after", "m2")
    assert _mine(cmdb) == ["m1", "m2", "m3"]
    # an order that stays as it was commits nothing
    cmdb.move(LOCAL, "m1", "before", "m2")
    cmdb.move(LOCAL, "m2", "after", "m2")
    assert len(seen) == 2 and cmdb.version == version + 2
    with pytest.raises(EntryNotFound):
        cmdb.move(LOCAL, "m1", "before", "nothing")
    with pytest.raises(EntryNotFound):
        cmdb.move(LOCAL, "nothing", "after", "m1")
    assert _mine(cmdb) == ["m1", "m2", "m3"] and cmdb.version == version + 2


def test_a_move_is_a_journal_line_replayed_in_place() -> None:
    cmdb = factory_cmdb()
    _three(cmdb)
    records: list[str] = []
    cmdb.on_commit(lambda changes: records.append(encode(cmdb, changes)) and None)
    cmdb.move(LOCAL, "m3", "before", "m1")
    assert records == ['config vpn certificate local\n    move "m3" before "m1"\nend\n']
    again = factory_cmdb()
    _three(again)
    apply_record(again, records[0])
    assert again.keys(LOCAL) == cmdb.keys(LOCAL)
    # a record naming a missing entry (the file was edited by hand) changes nothing
    apply_record(again, 'config vpn certificate local\n    move "m1" after "gone"\nend\n')
    assert again.keys(LOCAL) == cmdb.keys(LOCAL)


def test_the_cli_move_is_saved_and_kept_across_a_restart(tmp_path: Path) -> None:
    conf = tmp_path / "fortishell.conf"
    dev = Device.open(conf, tmp_path / "state", Clock(), journal=True)
    sess = Session(dev)
    lines = ["config vpn certificate local", "edit m1", "next", "edit m2", "next", "edit m3", "next",
             "move m3 before m1", "move m1 after m2"]
    for line in lines:
        assert sess.execute(line).rc == 0, line
    assert _mine(dev.cmdb) == ["m3", "m2", "m1"]
    # on disk when the command returns: a journal record (what a restart after a crash replays)
    _, records, _ = journal.read_records(journal.journal_path(conf), logging.getLogger("test"))
    assert [r for r in records if " move " in r] == [
        'config vpn certificate local\n    move "m3" before "m1"\nend\n',
        'config vpn certificate local\n    move "m1" after "m2"\nend\n']
    bad = sess.execute("move m1 before nothing")
    assert bad.rc == -3 and bad.lines[-1] == "Command fail. Return code -3"
    sess.execute("end")
    show = [ln.strip() for ln in sess.execute("show vpn certificate local").lines if ln.strip().startswith("edit")]
    assert [ln for ln in show if ln.startswith('edit "m')] == ['edit "m3"', 'edit "m2"', 'edit "m1"']
    dev.close()  # the journal's records go into the file
    again = Device.open(conf, tmp_path / "state", Clock(), journal=True)
    assert _mine(again.cmdb) == ["m3", "m2", "m1"]
    again.close()


def test_a_nested_table_refuses_move() -> None:
    dev = Device(factory_cmdb(), Clock())
    sess = Session(dev)
    for line in ["config system api-user", "edit u", "config trusthost", "edit 1", "next", "edit 2", "next"]:
        sess.execute(line)
    out = sess.execute("move 2 before 1")
    assert out.rc != 0 and "Unknown action 0" in out.lines
