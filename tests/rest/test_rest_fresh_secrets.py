"""A GET answer holding a secret draws a fresh ``ENC`` ciphertext every time, as the device's
``show`` does (the read cache and the per-entry JSON memo do not hand the same one out twice),
while answers without a secret stay cached."""

from __future__ import annotations

from typing import Any

from rest_helpers import LOCAL, Served

from fortishell.cmdb import secrets
from fortishell.rest import cmdb_api

FACTORY = f"{LOCAL}/Fortinet_Factory"  # a local certificate whose key is sealed under its password


def _password(c: Any, url: str, **params: str) -> str:
    r = c.get(url, params=params)
    assert r.status_code == 200, r.text
    value = r.json()["results"][0]["password"]
    assert isinstance(value, str) and value.startswith("ENC "), value
    return value


def test_each_get_of_an_entry_with_a_secret_draws_a_new_ciphertext(box: Served, api: Any) -> None:
    first, second = _password(api, FACTORY), _password(api, FACTORY)
    assert first != second
    assert secrets.decrypt(first.split(" ", 1)[1]) == secrets.decrypt(second.split(" ", 1)[1]) != ""
    # a table read too, and the other secret-holding shapes (format, skip)
    table = [r["password"] for r in api.get(LOCAL).json()["results"] if r["name"] == "Fortinet_Factory"]
    again = [r["password"] for r in api.get(LOCAL).json()["results"] if r["name"] == "Fortinet_Factory"]
    assert table != again and table[0] != first
    assert _password(api, FACTORY, format="password") != _password(api, FACTORY, format="password")
    # a GET-modify-PUT with the fresh ciphertext keeps the secret
    row = api.get(FACTORY).json()["results"][0]
    assert api.put(FACTORY, json={"password": row["password"], "comments": "kept"}).status_code == 200
    assert secrets.decrypt(_password(api, FACTORY).split(" ", 1)[1]) == secrets.decrypt(first.split(" ", 1)[1])


def test_an_entry_without_a_secret_is_still_answered_from_the_read_cache(api: Any, monkeypatch: Any) -> None:
    assert api.post(LOCAL, json={"name": "plain"}).status_code == 200
    reads: list[str] = []
    real = cmdb_api.handle

    def handle(cmdb: Any, call: cmdb_api.Call) -> dict[str, Any]:
        reads.append(call.mkey or "")
        return real(cmdb, call)

    monkeypatch.setattr(cmdb_api, "handle", handle)
    assert api.get(f"{LOCAL}/plain").json() == api.get(f"{LOCAL}/plain").json()
    assert reads == ["plain"]
    api.get(FACTORY), api.get(FACTORY)
    assert reads == ["plain", "Fortinet_Factory", "Fortinet_Factory"]  # a secret: read every time
    # an answer whose format leaves every secret out is kept; one that shows a secret is not
    del reads[:]
    for _ in range(2):
        api.get(LOCAL, params={"format": "name|comments"}), api.get(LOCAL, params={"format": "name|password"})
    assert reads == ["", "", ""]


def test_the_entry_memo_keeps_the_row_but_not_its_ciphertext(box: Served) -> None:
    cmdb = box.device.cmdb
    entry = cmdb.entry(("vpn", "certificate", "local"), "Fortinet_Factory")
    rows = cmdb_api.Rows()
    one, two = rows.row(entry, defaults=True, skip=False), rows.row(entry, defaults=True, skip=False)
    assert one["password"] != two["password"] and {**one, "password": ""} == {**two, "password": ""}
