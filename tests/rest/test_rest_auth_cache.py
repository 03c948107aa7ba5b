"""The API key cache of ``auth.Keys``: a key seen before is taken without hashing it again, and a
key whose user got a new key, lost it, or was deleted is refused at once (in-process, a real CMDB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from fortishell.cmdb.factory import factory_cmdb
from fortishell.cmdb.model import Cmdb
from fortishell.cmdb.schema_admin import API_USER
from fortishell.rest import auth
from fortishell.shell.commands.apiuser import generate_key


@dataclass
class _Box:
    cmdb: Cmdb


def _keys() -> tuple[auth.Keys, _Box]:
    box = _Box(factory_cmdb())
    with box.cmdb.transaction() as tx:
        tx.put(API_USER, "bot", {})
    return auth.Keys(lambda: [box]), box


def _count_verifies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = auth.verify_key

    def counting(key: str, stored: str) -> bool:
        calls.append(stored)
        return real(key, stored)

    monkeypatch.setattr(auth, "verify_key", counting)
    return calls


def test_a_known_key_is_not_hashed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    keys, box = _keys()
    token = generate_key(box.cmdb, "bot")
    calls = _count_verifies(monkeypatch)
    found = keys.lookup(token)
    assert found is not None and found.api_user == "bot" and found.device is box
    assert len(calls) == 1
    for _ in range(3):
        again = keys.cached(token)
        assert again is not None and again.api_user == "bot"
    assert len(calls) == 1  # the stored hash has not changed: no second verification


@pytest.mark.parametrize("change", ["new-key", "key-unset", "user-deleted", "other-key-stored"])
def test_a_changed_or_deleted_key_is_refused_at_once(change: str) -> None:
    keys, box = _keys()
    token = generate_key(box.cmdb, "bot")
    assert keys.lookup(token) is not None and keys.cached(token) is not None
    other = ""
    with box.cmdb.transaction() as tx:
        if change == "new-key":
            pass
        elif change == "key-unset":
            tx.put(API_USER, "bot", {}, unset=("api-key",))
        elif change == "user-deleted":
            tx.delete(API_USER, "bot")
        else:  # the hash of another key written over it (a configuration restored from elsewhere)
            tx.put(API_USER, "spare", {})
    if change == "new-key":
        other = generate_key(box.cmdb, "bot")
    elif change == "other-key-stored":
        spare_key = generate_key(box.cmdb, "spare")
        stored: Any = box.cmdb.entry(API_USER, "spare").get("api-key")  # type: ignore[union-attr]
        with box.cmdb.transaction() as tx:
            tx.put(API_USER, "bot", {"api-key": stored})
        other = spare_key
    assert keys.cached(token) is None
    assert keys.lookup(token) is None
    if other:  # the key that holds now is taken (and then from the cache)
        found = keys.lookup(other)
        assert found is not None
        assert keys.cached(other) is not None


def test_a_key_restored_with_the_same_hash_holds_again() -> None:
    """The cache follows the stored hash, not the configuration's version: the same hash written
    back (a configuration restored) is the same key."""
    keys, box = _keys()
    token = generate_key(box.cmdb, "bot")
    stored: Any = box.cmdb.entry(API_USER, "bot").get("api-key")  # type: ignore[union-attr]
    assert keys.lookup(token) is not None
    generate_key(box.cmdb, "bot")
    assert keys.cached(token) is None
    with box.cmdb.transaction() as tx:
        tx.put(API_USER, "bot", {"api-key": stored})
    assert keys.lookup(token) is not None and keys.cached(token) is not None


def _grant_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = auth.make_grant

    def counting(user: Any, profile: Any) -> auth.Grant:
        calls.append(str(user.key))
        return real(user, profile)

    monkeypatch.setattr(auth, "make_grant", counting)
    return calls


def _cli(cmdb: Cmdb, path: tuple[str, ...], key: str, values: dict[str, Any]) -> None:
    """An ``edit``/``set``/``next`` of the CLI: a buffer, the CLI's parsers, a commit."""
    buf = cmdb.begin_edit(path, key)
    for name, words in values.items():
        buf.set(name, words)
    cmdb.commit(buf)


def test_rights_are_worked_out_once_per_user_and_profile_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an API user may do is kept by its entry and its profile's entry (both replaced, never
    changed, by a commit): a change to either is seen by the next request."""
    from fortishell.cmdb.schema_admin import ACCPROFILE, TRUSTHOST

    keys, box = _keys()
    _cli(box.cmdb, ACCPROFILE, "rw", {"sysgrp": ["read-write"], "vpngrp": ["read-write"]})
    _cli(box.cmdb, ACCPROFILE, "ro", {"sysgrp": ["read"]})
    _cli(box.cmdb, API_USER, "bot", {"accprofile": ["rw"]})
    calls = _grant_calls(monkeypatch)
    who = keys.lookup(generate_key(box.cmdb, "bot"))
    assert who is not None
    for _ in range(3):
        assert who.may("vpngrp", True) and who.vdoms() == ("root",) and auth.trusted(who, "192.0.2.1")
    assert calls == ["bot"]
    # the profile changes: the user's entry is the same one, its rights are not
    _cli(box.cmdb, ACCPROFILE, "rw", {"vpngrp": ["read"]})
    assert who.may("vpngrp", False) and not who.may("vpngrp", True)
    assert who.may("sysgrp", True)
    # the user moves to another profile
    _cli(box.cmdb, API_USER, "bot", {"accprofile": ["ro"]})
    assert who.may("sysgrp", False) and not who.may("sysgrp", True) and not who.may("vpngrp", False)
    # a trusthost: from there only
    buf = box.cmdb.begin_edit(API_USER, "bot")
    sub = buf.begin_edit(TRUSTHOST, "1")
    sub.set("ipv4-trusthost", ["192.0.2.0", "255.255.255.0"])
    box.cmdb.commit(sub)
    box.cmdb.commit(buf)
    assert auth.trusted(who, "192.0.2.7") and not auth.trusted(who, "198.51.100.1")
    # a dual-stack listener's IPv4 peer (IPv4-mapped) is the IPv4 address; no address: not trusted
    assert auth.trusted(who, "::ffff:192.0.2.7") and not auth.trusted(who, "::ffff:198.51.100.1")
    assert not auth.trusted(who, None) and not auth.trusted(who, "not-an-address")
    # the user deleted: nothing, from anywhere
    with box.cmdb.transaction() as tx:
        tx.delete(API_USER, "bot")
    assert not who.may("sysgrp", False) and who.vdoms() == () and not auth.trusted(who, "192.0.2.7")
    assert len(calls) == 4  # once per (user entry, profile entry) seen


def test_the_grants_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auth.Grants`` keeps at most ``size`` users' grants, the oldest dropped first."""
    keys, box = _keys()
    with box.cmdb.transaction() as tx:
        tx.put(API_USER, "bot2", {})
    calls = _grant_calls(monkeypatch)
    grants = auth.Grants(size=1)
    for name in ("bot", "bot", "bot2", "bot"):
        assert grants.of(box, name) is not None
    assert calls == ["bot", "bot2", "bot"]
    assert grants.of(box, "ghost") is None
