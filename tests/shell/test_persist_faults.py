"""Disk faults (EIO, ENOSPC) at each step of compaction, close and start-up replay.

Whatever fails, no acknowledged commit is lost: what a restart boots
(``persist.load_saved``, then a real second :meth:`Device.open`) is the CMDB
the device holds, and once the disk is back a compaction leaves the file
whole and the journal files gone.  Every rule must be hit: a step the test
names but never reaches would make it pass for nothing.
"""

from __future__ import annotations

import datetime as dt
import errno
import re
from pathlib import Path

import pytest
from disk_faults import DiskFaults, Match, contains, ends

from fortishell.clock import Clock
from fortishell.cmdb import journal, store
from fortishell.errors import ConfigFileError
from fortishell.shell import persist
from fortishell.shell.device import Device
from fortishell.shell.session import Session

pytestmark = pytest.mark.timeout(60)

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
LOCAL = ("vpn", "certificate", "local")
SAVE_ERROR = re.compile(r"Failed to save configuration|cannot write configuration file")
ERRNOS = [pytest.param(errno.EIO, id="EIO"), pytest.param(errno.ENOSPC, id="ENOSPC")]


def renamed_to_old(path: str) -> bool:
    src, _, dst = path.partition(" -> ")
    return src.endswith(".journal") and ".journal.old" in dst


def to_config(path: str) -> bool:
    return path.endswith(" -> " + "fortishell.conf") or path.endswith("/fortishell.conf")


def is_dir(path: str) -> bool:
    return Path(path).is_dir()


# (step, os call, which file): the steps of a compaction after the rotation's rename
COMPACTION_STEPS: list[tuple[str, str, Match]] = [
    ("rename-journal-to-old", "replace", renamed_to_old),
    ("mark-write", "write", contains(".journal.old")),
    ("mark-fsync", "fsync", contains(".journal.old")),
    ("save-temp-create", "open", ends(".tmp")),
    ("save-fsync", "fsync", ends(".tmp")),
    ("save-rename", "replace", to_config),
    ("save-dir-fsync", "fsync", is_dir),
    ("remove-old", "unlink", contains(".journal.old")),
]
STEP_IDS = [s[0] for s in COMPACTION_STEPS]


def open_device(tmp: Path, *, journal_mode: bool = True) -> Device:
    return Device.open(tmp / "fortishell.conf", tmp / "state", Clock(fixed=LAB_TIME), journal=journal_mode)


def commit(dev: Device, key: str, *, acknowledged: bool = True) -> list[str]:
    """``config`` ... ``end`` of one entry through a session, as a front end runs it (deferred sync)."""
    sess = Session(dev)
    lines: list[str] = []
    for text in ["config vpn certificate local", f"edit {key}", f'set comments "commit {key}"', "next", "end"]:
        with dev.deferred_sync():
            result = sess.execute(text)
        lines += result.lines + dev.sync()
        assert result.rc == 0, (text, result.lines)
    if acknowledged:
        assert not [line for line in lines if SAVE_ERROR.search(line)], lines
    return lines


def run(dev: Device, lines: list[str]) -> None:
    """Lines in one session, each acknowledged (no error, durable)."""
    sess = Session(dev)
    for text in lines:
        with dev.deferred_sync():
            result = sess.execute(text)
        lines = result.lines + dev.sync()
        assert result.rc == 0 and not [line for line in lines if SAVE_ERROR.search(line)], (text, lines)


def restart_boots(tmp: Path, expected: object) -> None:
    """What a restart would boot, read without changing a byte, then booted for real."""
    conf = tmp / "fortishell.conf"
    assert persist.load_saved(conf) == expected
    again = open_device(tmp)
    try:
        assert again.cmdb == expected
    finally:
        again.close()
    assert store.load(conf) == expected
    assert not journal_files(conf)


def olds(conf: Path) -> list[Path]:
    """The closed journals beside ``conf`` (``.journal.old``, ``.journal.old.N``)."""
    return sorted(conf.parent.glob(f".{conf.name}.journal.old*"))


def journal_files(conf: Path) -> list[Path]:
    return [p for p in conf.parent.glob(f".{conf.name}.journal*") if not p.name.endswith((".unused", ".unapplied"))]


def crash(dev: Device) -> None:
    """The process dies: no close, no final compaction (the flusher thread just stops being used)."""
    dev.stop_background()
    if dev.owner is not None:
        dev.owner.release()  # ... and the kernel releases its lock (cmdb/owner.py)


@pytest.mark.parametrize("err", ERRNOS)
def test_issue_reproduction_a_failed_rotation_keeps_every_acknowledged_commit(tmp_path: Path, monkeypatch,
                                                                             err: int) -> None:
    """k1, k2 acknowledged; the rename of the rotation fails; k3 appended; the restart boots all three."""
    dev = open_device(tmp_path)
    faults = DiskFaults(monkeypatch)
    commit(dev, "k1")
    commit(dev, "k2")
    rule = faults.fail("replace", renamed_to_old, err)
    with pytest.raises(ConfigFileError):
        dev.save()  # the compaction fails at the rename
    assert rule.hits == 1
    faults.clear()
    commit(dev, "k3")
    expected = dev.cmdb
    assert {"k1", "k2", "k3"} <= set(expected.keys(LOCAL))
    crash(dev)
    restart_boots(tmp_path, expected)


@pytest.mark.parametrize("err", ERRNOS)
@pytest.mark.parametrize("step,func,match", COMPACTION_STEPS, ids=STEP_IDS)
def test_a_fault_at_each_step_of_a_compaction_loses_no_acknowledged_commit(tmp_path: Path, monkeypatch, step: str,
                                                                           func: str, match: Match,
                                                                           err: int) -> None:
    dev = open_device(tmp_path)
    faults = DiskFaults(monkeypatch)
    conf = tmp_path / "fortishell.conf"
    for key in ("c1", "c2", "c3"):
        commit(dev, key)
    rule = faults.fail(func, match, err)
    try:
        dev.save()
    except ConfigFileError:
        assert step != "remove-old"  # the file holds everything then: not an error
    assert rule.hits == 1, f"step {step} was not reached"
    faults.clear()
    commit(dev, "c4")  # acknowledged after the failure: the journal works on
    assert persist.load_saved(conf) == dev.cmdb
    dev.save()  # a compaction after the failed one
    assert persist.load_saved(conf) == dev.cmdb and store.load(conf) == dev.cmdb
    assert not olds(conf)
    commit(dev, "c5")
    expected = dev.cmdb
    crash(dev)
    restart_boots(tmp_path, expected)


@pytest.mark.parametrize("err", ERRNOS)
@pytest.mark.parametrize("first,second", [("rename-journal-to-old", "save-rename"), ("save-rename", "save-fsync"),
                                          ("mark-fsync", "save-rename"), ("save-dir-fsync", "save-rename"),
                                          ("save-rename", "remove-old")])
def test_a_compaction_after_a_failed_one(tmp_path: Path, monkeypatch, first: str, second: str, err: int) -> None:
    """Two compactions fail in a row, commits between and after them: a crash then boots every commit
    (the records of the first failed compaction are neither lost nor replayed onto a file that has them)."""
    steps = {s[0]: s for s in COMPACTION_STEPS}
    dev = open_device(tmp_path)
    faults = DiskFaults(monkeypatch)
    conf = tmp_path / "fortishell.conf"
    commit(dev, "a1")
    commit(dev, "a2")
    for n, step in enumerate((first, second)):
        _, func, match = steps[step]
        rule = faults.fail(func, match, err)
        try:
            dev.save()
        except ConfigFileError:
            pass
        assert rule.hits == 1, f"step {step} was not reached"
        faults.clear()
        commit(dev, f"b{n}")  # records only in the journal: a rename and a delete too
        run(dev, ["config vpn certificate local", f"rename a{n + 1} to r{n}", f"delete b{n}", "end"])
        assert persist.load_saved(conf) == dev.cmdb
    commit(dev, "after")
    expected = dev.cmdb
    assert {"r0", "r1", "after"} <= set(expected.keys(LOCAL)) and not {"a1", "a2", "b0", "b1"} & set(
        expected.keys(LOCAL))
    crash(dev)
    restart_boots(tmp_path, expected)


@pytest.mark.parametrize("err", ERRNOS)
@pytest.mark.parametrize("step,func,match", COMPACTION_STEPS, ids=STEP_IDS)
def test_a_fault_at_each_step_of_the_final_compaction_at_close(tmp_path: Path, monkeypatch, step: str,
                                                               func: str, match: Match, err: int) -> None:
    dev = open_device(tmp_path)
    faults = DiskFaults(monkeypatch)
    for key in ("c1", "c2", "c3"):
        commit(dev, key)
    expected = dev.cmdb
    rule = faults.fail(func, match, err)
    dev.close()  # logs the failure, never raises
    assert rule.hits == 1, f"step {step} was not reached"
    faults.clear()
    restart_boots(tmp_path, expected)


def crashed_with_a_failed_compaction(tmp: Path, faults: DiskFaults) -> object:
    """A device that journaled, failed a compaction after the rotation, journaled more, and died."""
    dev = open_device(tmp)
    commit(dev, "c1")
    commit(dev, "c2")
    faults.fail("replace", to_config, errno.EIO)
    with pytest.raises(ConfigFileError):
        dev.save()
    faults.clear()
    commit(dev, "c3")
    expected = dev.cmdb
    crash(dev)
    conf = tmp / "fortishell.conf"
    assert olds(conf) and journal.journal_path(conf).exists()
    return expected


START_STEPS: list[tuple[str, str, Match]] = [
    ("read-journal", "read", ends(".journal")),
    ("read-old", "read", contains(".journal.old")),
    *COMPACTION_STEPS,
]


@pytest.mark.parametrize("err", ERRNOS)
@pytest.mark.parametrize("step,func,match", START_STEPS, ids=[s[0] for s in START_STEPS])
def test_a_fault_at_each_step_of_the_replay_at_start(tmp_path: Path, monkeypatch, step: str, func: str,
                                                     match: Match, err: int) -> None:
    """The start that fails leaves the files as they were; the next start boots every commit."""
    faults = DiskFaults(monkeypatch)
    expected = crashed_with_a_failed_compaction(tmp_path, faults)
    rule = faults.fail(func, match, err)
    try:
        dev = open_device(tmp_path)
    except ConfigFileError as exc:
        assert step != "remove-old"
        assert exc.lines and "Traceback" not in " ".join(exc.lines)
    else:
        assert dev.cmdb == expected
        dev.close()
    assert rule.hits == 1, f"step {step} was not reached"
    faults.clear()
    restart_boots(tmp_path, expected)


@pytest.mark.parametrize("journal_mode", [True, False], ids=["journal", "whole-file"])
def test_a_closed_journal_left_beside_the_file_is_retired_at_start(tmp_path: Path, monkeypatch,
                                                                    journal_mode: bool) -> None:
    """A compaction wrote the file but died before removing ``.old`` (nothing to replay then): the next
    start retires it, so a later whole-file save cannot make its records look new again."""
    faults = DiskFaults(monkeypatch)
    dev = open_device(tmp_path)
    commit(dev, "c1")
    commit(dev, "c2")
    faults.fail("unlink", contains(".journal.old"), errno.EIO)
    dev.save()
    faults.clear()
    conf = tmp_path / "fortishell.conf"
    assert olds(conf)
    crash(dev)
    dev = open_device(tmp_path, journal_mode=journal_mode)
    assert not olds(conf)
    run(dev, ["config vpn certificate local", "delete c1", "end"])
    expected = dev.cmdb
    crash(dev)
    restart_boots(tmp_path, expected)
    assert "c1" not in expected.keys(LOCAL)



def test_a_record_failing_halfway_through_replay_at_start(tmp_path: Path) -> None:
    """The device boots with the commits before the bad record (none of the bad one), says so in
    debug.log, and keeps the bad record and those after it in ``.journal.unapplied``."""
    dev = open_device(tmp_path)
    commit(dev, "c1")
    conf = tmp_path / "fortishell.conf"
    before = store.loads(store.dumps(dev.cmdb))  # a copy: the device goes on
    bad = 'config vpn certificate local\n    edit "half"\n    next\nend\nconfig no such table\nend\n'
    ticket = dev.persistence._journal.append(bad)  # type: ignore[union-attr]
    dev.persistence.wait_ticket(ticket)
    commit(dev, "c3")
    crash(dev)
    again = open_device(tmp_path)
    try:
        assert again.cmdb == before and "half" not in again.cmdb.keys(LOCAL)
        assert not journal_files(conf)  # retired: the file holds what was applied
        kept = journal.unapplied_path(conf).read_text()
        assert kept.startswith(bad) and 'edit "c3"' in kept
        log = (tmp_path / "state" / "debug.log").read_text()
        assert "record 2 not applied" in log and "kept in" in log
    finally:
        again.close()
