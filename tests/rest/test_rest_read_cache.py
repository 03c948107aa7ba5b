"""The read cache of CMDB GETs (``reads.ReadCache``): a repeated GET is answered without reading the
configuration again, and every change -- a REST write, an SSH session's commit, a renewal's run-time
state, a factory reset -- is seen by the next GET; who may read is checked on every request."""

from __future__ import annotations

from typing import Any

import pytest
from rest_helpers import Served

from fortishell.rest import cmdb_api
from fortishell.rest.reads import ReadCache

LOCAL = "/api/v2/cmdb/vpn.certificate/local"
ENTRY = f"{LOCAL}/cached"  # an entry without a secret (an answer holding one is never kept)
PLAIN = ("config vpn certificate local", "edit cached", "next", "end")


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs' paths the CMDB was read for (each ``cmdb_api.handle`` of a GET)."""
    seen: list[str] = []
    real = cmdb_api.handle

    def handle(cmdb: Any, call: cmdb_api.Call) -> dict[str, Any]:
        if call.method == "GET":
            seen.append(f"{call.path}/{call.name}" + (f"/{call.mkey}" if call.mkey else ""))
        return real(cmdb, call)

    monkeypatch.setattr(cmdb_api, "handle", handle)
    return seen


def _comments(c: Any) -> str:
    r = c.get(ENTRY)
    assert r.status_code == 200, r.text
    return str(r.json()["results"][0]["comments"])


def test_a_repeated_get_is_read_once_and_every_change_is_seen(box: Served, reads: list[str]) -> None:
    token = box.token()
    box.cli(*PLAIN)
    with box.client(token) as c:
        first = c.get(ENTRY).json()
        assert c.get(ENTRY).json() == first and len(reads) == 1  # the second answered from the cache
        assert c.get(ENTRY, params={"format": "name"}).json()["results"] == [
            {"name": "cached", "q_origin_key": "cached"}]  # another URL: read
        assert len(reads) == 2
        # a REST write
        assert c.put(ENTRY, json={"comments": "by rest"}).status_code == 200
        assert _comments(c) == "by rest"
        after_rest = c.get(ENTRY).json()
        assert after_rest["revision"] != first["revision"]
        # an SSH session's commit (the real SSH door of the same process)
        box.ssh('config vpn certificate local\nedit cached\nset comments "by ssh"\nnext\nend\n')
        assert _comments(c) == "by ssh"
        # a run-time state written by the device itself (a renewal's outcome), not a command
        box.device._set_state("cached", "RENEWAL FAILED")
        assert c.get(ENTRY).json()["results"][0]["state"] == "RENEWAL FAILED"
        assert "extra" not in [r["name"] for r in c.get(LOCAL).json()["results"]]
    # a factory reset: a new configuration object, whose version may be any (the API user is gone:
    # a new one, whose key is read from the new configuration)
    box.device.factory_reset()  # what `execute factoryreset` answered `y` does
    with box.client(box.token()) as c:
        assert c.get(ENTRY).status_code == 404
        box.cli(*PLAIN)
        assert _comments(c) == ""
        # a table read follows its entries too
        assert c.post(LOCAL, json={"name": "extra"}).status_code == 200
        assert "extra" in [r["name"] for r in c.get(LOCAL).json()["results"]]
        assert c.delete(f"{LOCAL}/extra").status_code == 200
        assert "extra" not in [r["name"] for r in c.get(LOCAL).json()["results"]]


def test_who_may_read_is_checked_on_every_request(box: Served) -> None:
    rw = box.token()
    box.cli(*PLAIN)
    box.cli("config system accprofile", "edit sysonly", "set sysgrp read-write", "next", "end")
    sys_only = box.token("sys", "sysonly")
    with box.client(rw) as c:
        assert c.get(ENTRY).status_code == 200  # the answer kept
    with box.client(sys_only) as c:
        r = c.get(ENTRY)
        assert r.status_code == 403 and r.json()["http_status"] == 403
    with box.client("not-a-key") as c:
        assert c.get(ENTRY).status_code == 401
    box.cli("execute api-user generate-key bot")  # rw's key replaced
    with box.client(rw) as c:
        assert c.get(ENTRY).status_code == 401


def test_errors_are_not_kept(box: Served, reads: list[str]) -> None:
    with box.client(box.token()) as c:
        for _ in range(2):
            r = c.get(f"{LOCAL}/nothing")
            assert (r.status_code, r.json()["error"], r.json()["mkey"]) == (404, -3, "nothing")
        assert len(reads) == 2
        box.cli("config vpn certificate local", "edit nothing", "next", "end")
        assert c.get(f"{LOCAL}/nothing").status_code == 200


class _Cmdb:
    def __init__(self, version: int) -> None:
        self.version = version


class _Device:
    def __init__(self, cmdb: _Cmdb) -> None:
        self.cmdb = cmdb


def test_an_answer_holds_for_its_configuration_object_and_version_only() -> None:
    cache = ReadCache()
    cmdb = _Cmdb(7)
    dev, other = _Device(cmdb), _Device(cmdb)
    cache.put(dev, "/u", cmdb, 7, b"seven")
    assert cache.get(dev, "/u") == b"seven"
    assert cache.get(other, "/u") is None  # another device's answers are its own
    cmdb.version = 8
    assert cache.get(dev, "/u") is None
    cache.put(dev, "/u", cmdb, 8, b"eight")
    dev.cmdb = _Cmdb(8)  # replaced (a factory reset), at the same version number
    assert cache.get(dev, "/u") is None
    dev.cmdb = cmdb
    assert cache.get(dev, "/u") is None  # a stale answer is dropped, not kept for later


def test_the_cache_is_bounded() -> None:
    cmdb = _Cmdb(1)
    dev = _Device(cmdb)
    cache = ReadCache(entries=3, total=100, largest=40)
    for n in range(4):
        cache.put(dev, f"/{n}", cmdb, 1, b"x" * 10)
    assert [cache.get(dev, f"/{n}") is not None for n in range(4)] == [False, True, True, True]
    cache.put(dev, "/big", cmdb, 1, b"x" * 41)  # over `largest`: not kept
    assert cache.get(dev, "/big") is None
    for n in range(3):
        cache.put(dev, f"/b{n}", cmdb, 1, b"y" * 40)  # 120 bytes would be over `total`
    assert [cache.get(dev, f"/b{n}") is not None for n in range(3)] == [False, True, True]
    assert cache.get(dev, "/3") is None


def _serialized(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys of the entries ``cmdb_api`` serializes from now on, in order."""
    serialized: list[str] = []
    real = cmdb_api.entry_json

    def counting(entry: Any, **kw: Any) -> dict[str, Any]:
        serialized.append(str(entry.key))
        return real(entry, **kw)

    monkeypatch.setattr(cmdb_api, "entry_json", counting)
    return serialized


def test_a_table_read_after_a_commit_serializes_the_changed_entry_only(box: Served,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    serialized = _serialized(monkeypatch)
    with box.client(box.token()) as c:
        names = [r["name"] for r in c.get(LOCAL).json()["results"]]
        assert len(names) > 2 and sorted(serialized) == sorted(names)
        serialized.clear()
        box.cli("config vpn certificate local", f"edit {names[1]}", 'set comments "changed"', "next", "end")
        rows = {r["name"]: r for r in c.get(LOCAL).json()["results"]}
        assert rows[names[1]]["comments"] == "changed" and serialized == [names[1]]
        serialized.clear()
        # other flags are other rows
        assert c.get(LOCAL, params={"exclude-default-values": 1}).status_code == 200
        assert sorted(serialized) == sorted(names)


def test_the_rows_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """``cmdb_api.Rows`` keeps at most ``size`` entries' JSON, the oldest dropped first."""
    from fortishell.cmdb.factory import factory_cmdb

    serialized = _serialized(monkeypatch)
    entries = list(factory_cmdb().entries(("vpn", "certificate", "local")))[:3]
    assert len(entries) == 3
    rows = cmdb_api.Rows(size=2)
    for entry in entries + entries[1:]:  # the last two again: kept
        assert rows.row(entry, defaults=True, skip=False)["name"] == entry.key
    assert serialized == [str(e.key) for e in entries]
    rows.row(entries[0], defaults=True, skip=False)  # the first was dropped for the third
    assert serialized[-1] == str(entries[0].key) and len(serialized) == 4


def test_a_url_key_is_not_part_of_the_cache_key(box: Served, reads: list[str]) -> None:
    """``?access_token=`` is left out of the cached URL: no API key is kept in memory with an answer
    (the same GET with the key in the header or in the URL is one cache entry)."""
    key = box.token()
    box.cli("config system global", "set rest-api-key-url-query enable", "end", *PLAIN)
    with box.client(key) as c:
        assert c.get(ENTRY, params={"access_token": key}).status_code == 200
        assert c.get(ENTRY).status_code == 200
    assert reads == ["vpn.certificate/local/cached"]
