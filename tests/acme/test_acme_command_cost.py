"""A command costs what it changes: after each command the device asks which ACME (acme2)
certificates are due, and it must not look at every certificate entry of a large configuration
to answer (it did: 40 ms a command at 20,000 entries).  The acme2 entries are known from the
commits; one made or unmade by a commit is seen at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fortishell.clock import Clock
from fortishell.shell.device import Device
from fortishell.shell.session import Session

ENTRIES = 2000
LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)


def _config(entries: int) -> str:
    lines = ["config vpn certificate local"]
    for i in range(entries):
        lines += [f'    edit "cert-{i:05d}"', f'        set comments "entry {i}"', "        set enroll-protocol est",
                  "    next"]
    return "\n".join([*lines, "end", ""])


@pytest.fixture()
def big(tmp_path: Path):
    (tmp_path / "fortishell.conf").write_text(_config(ENTRIES))
    dev = Device.open(tmp_path / "fortishell.conf", tmp_path / "state", Clock(fixed=LAB_TIME), journal=True)
    yield dev
    dev.close()


def _looked_at(dev: Device, monkeypatch: pytest.MonkeyPatch, work) -> int:
    calls = [0]
    entry = dev.cmdb.entry

    def counting(*args, **kwargs):
        calls[0] += 1
        return entry(*args, **kwargs)

    monkeypatch.setattr(dev.cmdb, "entry", counting)
    work()
    monkeypatch.undo()
    return calls[0]


def test_commits_and_commands_do_not_visit_every_entry(big: Device, monkeypatch: pytest.MonkeyPatch) -> None:
    session = Session(big)
    for line in ("config system global", "set admintimeout 6", "end"):  # the first commit: warm
        session.execute(line)

    def commands() -> None:
        for i in range(3):
            for line in ("config system global", f"set admintimeout {7 + i}", "end", "get system status"):
                assert session.execute(line).rc == 0, line
        for line in ("config vpn certificate local", "edit cert-00007", "set comments changed", "next", "end"):
            assert session.execute(line).rc == 0, line

    looked = _looked_at(big, monkeypatch, commands)
    assert looked < ENTRIES // 4, looked  # 17 commands: nothing like one pass over the table each


def test_acme2_entries_made_and_unmade_by_commits_are_seen(big: Device) -> None:
    seen = big.acme.acme_entries()
    assert seen == []
    with big.cmdb.transaction() as tx:
        tx.put(("vpn", "certificate", "local"), "cert-00042", {"enroll-protocol": "acme2"})
    assert big.acme.acme_entries() == ["cert-00042"]
    with big.cmdb.transaction() as tx:
        tx.put(("vpn", "certificate", "local"), "cert-00042", {"enroll-protocol": "est"})
    assert big.acme.acme_entries() == []
