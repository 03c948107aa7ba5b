"""Device.protocol_entries: the enroll-protocol index the commits keep (the per-command checks of
the SCEP client must not read every certificate entry)."""

from __future__ import annotations

import pytest

from fortishell.shell.device import Device

LOCAL = ("vpn", "certificate", "local")


def test_entries_made_changed_and_deleted_by_commits_are_seen(device: Device, monkeypatch: pytest.MonkeyPatch) -> None:
    assert device.protocol_entries("scep") == []
    with device.cmdb.transaction() as tx:
        tx.put(LOCAL, "s1", {"enroll-protocol": "scep"})
        tx.put(LOCAL, "e1", {"enroll-protocol": "est"})
    reads = [0]
    entry = device.cmdb.entry

    def counting(*args: object, **kwargs: object) -> object:
        reads[0] += 1
        return entry(*args, **kwargs)

    monkeypatch.setattr(device.cmdb, "entry", counting)
    assert device.protocol_entries("scep") == ["s1"] and device.protocol_entries("est") == ["e1"]
    assert reads[0] == 0  # from the index the commit kept, not from the table
    monkeypatch.undo()
    with device.cmdb.transaction() as tx:
        tx.put(LOCAL, "e1", {"enroll-protocol": "scep"})
    assert sorted(device.protocol_entries("scep")) == ["e1", "s1"]
    with device.cmdb.transaction() as tx:
        tx.delete(LOCAL, "s1")
    assert device.protocol_entries("scep") == ["e1"]
