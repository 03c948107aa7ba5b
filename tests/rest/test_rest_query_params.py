"""CMDB GET parameters of the 7.6 descriptions beyond filter/format/paging: ``datasource`` (members
of reference lists name their table), ``key``/``pattern``, ``unfiltered_count``, ``action=revision``."""

from __future__ import annotations

from typing import Any

from rest_helpers import LOCAL

API_USER = "/api/v2/cmdb/system/api-user"


def test_datasource_names_the_table_of_each_member_of_a_reference_list(api: Any) -> None:
    plain = api.get(f"{API_USER}/bot").json()["results"][0]
    assert plain["vdom"] == [{"name": "root", "q_origin_key": "root"}]
    annotated = api.get(f"{API_USER}/bot", params={"datasource": "1"}).json()["results"][0]
    assert annotated["vdom"] == [{"name": "root", "q_origin_key": "root", "datasource": "system.vdom"}]
    same = set(plain) - {"vdom", "api-key"}  # api-key: a secret, a new ciphertext in each answer
    assert {k: annotated[k] for k in same} == {k: plain[k] for k in same} and set(annotated) == set(plain)
    # a single-value reference stays the plain string the device writes
    assert api.put(f"{API_USER}/bot", json={"accprofile": "rw"}).status_code == 200
    table = api.get(API_USER, params={"datasource": "true", "format": "name|accprofile|vdom"}).json()["results"]
    assert table == [{"name": "bot", "q_origin_key": "bot", "accprofile": "rw",
                      "vdom": [{"name": "root", "q_origin_key": "root", "datasource": "system.vdom"}]}]
    assert api.get(API_USER, params={"datasource": "0"}).json()["results"][0]["vdom"] == plain["vdom"]


def test_key_and_pattern_keep_the_entries_whose_field_has_that_value(api: Any) -> None:
    for name, comment in (("k1", "blue"), ("k2", "red"), ("k3", "blue")):
        assert api.post(LOCAL, json={"name": name, "comments": comment}).status_code == 200
    names = [r["name"] for r in api.get(LOCAL, params={"key": "comments", "pattern": "blue"}).json()["results"]]
    assert names == ["k1", "k3"]
    body = api.get(LOCAL, params={"key": "comments", "pattern": "blu"}).json()
    assert body["results"] == [] and body["matched_count"] == 0  # the value itself, not a part of it
    both = api.get(LOCAL, params={"key": "comments", "pattern": "blue", "filter": "name!=k1"}).json()
    assert [r["name"] for r in both["results"]] == ["k3"]  # and every filter too


def test_unfiltered_count_bounds_the_entries_looked_at(api: Any) -> None:
    everything = api.get(LOCAL, params={"format": "name"}).json()
    first = [r["name"] for r in everything["results"]][:3]
    body = api.get(LOCAL, params={"format": "name", "unfiltered_count": "3"}).json()
    assert [r["name"] for r in body["results"]] == first
    assert body["size"] == everything["size"] and body["matched_count"] == 3
    some = api.get(LOCAL, params={"unfiltered_count": "3", "filter": f"name=={first[2]}"}).json()
    assert [r["name"] for r in some["results"]] == [first[2]]
    last = everything["results"][-1]["name"]
    none = api.get(LOCAL, params={"unfiltered_count": "3", "filter": f"name=={last}"}).json()
    assert none["results"] == []  # past the entries looked at


def test_action_revision_answers_the_revision(api: Any) -> None:
    before = api.get(LOCAL, params={"action": "revision"}).json()
    assert before["status"] == "success" and before["results"] == {"revision": before["revision"]}
    assert "size" not in before
    made = api.post(LOCAL, json={"name": "rev"}).json()
    after = api.get(LOCAL, params={"action": "revision"}).json()
    assert after["results"]["revision"] == made["revision"] != before["revision"]
