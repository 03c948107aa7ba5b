"""Generic CMDB endpoints: envelopes, tables and objects, filters, format, paging, schema,
create / update / delete with the device's codes (all through real HTTPS)."""

from __future__ import annotations

from typing import Any

from rest_helpers import LOCAL, Served


def test_table_envelope_and_one_entry_is_still_a_list(api) -> None:
    body = api.get(LOCAL).json()
    for field, value in (("http_method", "GET"), ("http_status", 200), ("status", "success"), ("vdom", "root"),
                         ("path", "vpn.certificate"), ("name", "local"), ("version", "v7.6.1"), ("build", 197)):
        assert body[field] == value, field
    assert body["serial"].startswith("FPX")
    assert len(body["revision"]) == 32
    assert isinstance(body["results"], list) and body["size"] == body["matched_count"] == len(body["results"])
    one = api.get(f"{LOCAL}/Fortinet_Factory").json()
    assert [r["name"] for r in one["results"]] == ["Fortinet_Factory"]
    row = one["results"][0]
    assert row["q_origin_key"] == "Fortinet_Factory" and row["source"] == "factory"
    assert row["auto-regenerate-days"] == 0  # integers are numbers
    assert "last-updated" not in row  # hidden attributes stay hidden


def test_singleton_is_an_object(api) -> None:
    body = api.get("/api/v2/cmdb/system/global").json()
    assert isinstance(body["results"], dict)
    assert body["results"]["hostname"] == "FortiProxy"
    assert body["results"]["rest-api-key-url-query"] == "disable"


def test_nested_object_round_trip(api, box: Served) -> None:
    r = api.put("/api/v2/cmdb/vpn.certificate/setting", json={"crl-verification": {"expiry": "revoke"}})
    assert r.status_code == 200, r.text
    got = api.get("/api/v2/cmdb/vpn.certificate/setting").json()["results"]
    assert got["crl-verification"]["expiry"] == "revoke"
    assert "set expiry revoke" in box.ssh("show vpn certificate setting")


def _names(api, *filters: str, **params: str) -> list[str]:
    query = [("filter", f) for f in filters] + list(params.items())
    body = api.get(LOCAL, params=query).json()
    assert body["status"] == "success", body
    return [r["name"] for r in body["results"]]


def test_filters_operators_or_and(api) -> None:
    for name, days in (("web-a", "10"), ("web-b", "20"), ("mail-c", "30")):
        assert api.post(LOCAL, json={"name": name, "comments": f"c-{name}", "auto-regenerate-days": days}) \
            .status_code == 200
    assert _names(api, "name==web-a") == ["web-a"]
    assert "web-a" not in _names(api, "name!=web-a") and "web-b" in _names(api, "name!=web-a")
    assert _names(api, "name=@web") == ["web-a", "web-b"]
    assert "web-a" not in _names(api, "name!@web") and "mail-c" in _names(api, "name!@web")
    assert _names(api, "auto-regenerate-days>10") == ["web-b", "mail-c"]
    assert _names(api, "auto-regenerate-days>=10", "auto-regenerate-days<30") == ["web-a", "web-b"]  # AND
    assert _names(api, "name==web-a,name==mail-c") == ["web-a", "mail-c"]  # OR
    assert _names(api, "name=@web", "comments==c-web-b") == ["web-b"]
    assert _names(api, "no-such-field==1") == []


def test_format_start_count(api) -> None:
    rows = api.get(LOCAL, params={"format": "name|source"}).json()["results"]
    assert rows and all(set(r) == {"name", "source", "q_origin_key"} for r in rows)
    every = _names(api)
    assert _names(api, start="1", count="2") == every[1:3]
    body = api.get(LOCAL, params={"start": "1", "count": "2"}).json()
    assert body["matched_count"] == len(every)


def test_schema_action(api) -> None:
    body = api.get(LOCAL, params={"action": "schema"}).json()["results"]
    assert body["category"] == "table" and body["mkey"] == "name" and body["mkey_type"] == "string"
    enroll = body["children"]["enroll-protocol"]
    assert enroll["type"] == "option" and {"name": "est", "help": "Enrollment over Secure Transport."} \
        in enroll["options"]
    days = body["children"]["auto-regenerate-days"]
    assert days["type"] == "integer" and days["min-value"] == 0 and days["max-value"] == 4294967295
    assert body["children"]["est-client-cert"]["datasource"] == ["vpn.certificate.local"]
    glob = api.get("/api/v2/cmdb/system/global", params={"action": "schema"}).json()["results"]
    assert glob["category"] == "unitary" and "mkey" not in glob


def test_create_exists_update_missing_delete(api, box: Served) -> None:
    r = api.post(LOCAL, json={"name": "rot-1", "comments": "first"})
    body = r.json()
    assert r.status_code == 200 and body["mkey"] == "rot-1" and body["revision_changed"] is True
    assert body["old_revision"] != body["revision"]
    r = api.post(LOCAL, json={"name": "rot-1"})
    assert (r.status_code, r.json()["error"], r.json()["status"]) == (500, -5, "error")
    r = api.put(f"{LOCAL}/rot-1", json={"comments": "second", "q_origin_key": "rot-1", "name": "rot-1"})
    assert r.status_code == 200, r.text
    assert api.get(f"{LOCAL}/rot-1").json()["results"][0]["comments"] == "second"
    r = api.put(f"{LOCAL}/nope", json={"comments": "x"})
    assert (r.status_code, r.json()["error"]) == (404, -3)
    r = api.get(f"{LOCAL}/nope")
    assert (r.status_code, r.json()["error"], r.json()["http_method"]) == (404, -3, "GET")
    r = api.delete(f"{LOCAL}/rot-1")
    assert r.status_code == 200 and r.json()["mkey"] == "rot-1"
    assert api.delete(f"{LOCAL}/rot-1").status_code == 404
    assert "rot-1" not in box.ssh("show vpn certificate local")


def test_delete_of_a_referenced_entry_is_refused(api, box: Served) -> None:
    api.post(LOCAL, json={"name": "client-id"})
    r = api.post(LOCAL, json={"name": "user-of-it", "est-client-cert": "client-id"})
    assert r.status_code == 200, r.text
    before = box.config_text()
    r = api.delete(f"{LOCAL}/client-id")
    assert (r.status_code, r.json()["error"]) == (500, -23)
    assert "used by other 1 entries" in r.json()["cli_error"] or "used" in r.json()["cli_error"]
    assert box.config_text() == before


def test_clone(api) -> None:
    api.post(LOCAL, json={"name": "orig", "comments": "same"})
    r = api.post(f"{LOCAL}/orig", params={"action": "clone", "nkey": "copy"})
    assert r.status_code == 200 and r.json()["mkey"] == "copy"
    assert api.get(f"{LOCAL}/copy").json()["results"][0]["comments"] == "same"


def test_secrets_are_enc_and_round_trip(api, box: Served) -> None:
    api.post(LOCAL, json={"name": "est-1", "est-http-password": "s3cret"})
    row = api.get(f"{LOCAL}/est-1").json()["results"][0]
    assert row["est-http-password"].startswith("ENC ") and "s3cret" not in row["est-http-password"]
    r = api.put(f"{LOCAL}/est-1", json=row)  # a GET-modify-PUT round trip keeps the secret
    assert r.status_code == 200, r.text
    assert box.device.cmdb.entry(("vpn", "certificate", "local"), "est-1").get("est-http-password") == "s3cret"


def test_with_meta(api) -> None:
    row = api.get(f"{LOCAL}/Fortinet_Factory", params={"with_meta": "1"}).json()["results"][0]
    assert row["q_path"] == "vpn.certificate" and row["q_name"] == "local" and row["q_mkey_type"] == "string"
    assert isinstance(row["q_ref"], int)


def test_requests_shaped_as_ansible_sends_them(api) -> None:
    """JSON under a form Content-Type, DELETE with the body `null`, `vdom=root` on every call."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    missing = api.get(f"{LOCAL}/ans-1", params={"vdom": "root"})
    assert missing.status_code == 404 and missing.json()["http_method"] == "GET"
    r = api.post(LOCAL, params={"vdom": "root"}, content=b'{"name": "ans-1", "comments": "play"}', headers=form)
    assert r.status_code == 200 and r.json()["status"] == "success", r.text
    r = api.put(f"{LOCAL}/ans-1", params={"vdom": "root"}, content=b'{"name": "ans-1", "comments": "play"}',
                headers=form)
    assert r.json()["revision_changed"] is False  # same values: a second run reports no change
    r = api.request("DELETE", f"{LOCAL}/ans-1", params={"vdom": "root"}, content=b"null", headers=form)
    assert r.status_code == 200, r.text


def test_exclude_default_values(api) -> None:
    api.post(LOCAL, json={"name": "lean", "comments": "only this", "auto-regenerate-days": 5})
    row = api.get(f"{LOCAL}/lean", params={"exclude-default-values": "1"}).json()["results"][0]
    assert row == {"name": "lean", "q_origin_key": "lean", "comments": "only this", "auto-regenerate-days": 5}
    full = api.get(f"{LOCAL}/lean").json()["results"][0]
    assert full["enroll-protocol"] == "none"


def test_a_refused_write_says_nothing_changed(api) -> None:
    """What Ansible's `state: absent` of a missing entry reads to report `ok` rather than `changed`."""
    rev = api.get(LOCAL).json()["revision"]
    for method, url, body in (("DELETE", f"{LOCAL}/ghost", None), ("POST", LOCAL, {"name": "Fortinet_Factory"}),
                              ("PUT", f"{LOCAL}/ghost", {"comments": "x"})):
        r = api.request(method, url, json=body)
        got = r.json()
        assert got["status"] == "error" and got["http_method"] == method, r.text
        assert (got["revision"], got["old_revision"], got["revision_changed"]) == (rev, rev, False)


def test_integer_keys_are_json_numbers(api, box: Served) -> None:
    """``config trusthost`` / ``edit 1``: an integer in the schema is a JSON number, keys included."""
    assert box.cli("config system api-user", "edit bot", "config trusthost", "edit 1",
                   "set ipv4-trusthost 127.0.0.0/8", "next", "edit abc", "end", "next", "end") == [
        "new entry '1' added", "invalid unsigned integer value: abc", "", "value parse error before 'abc'", "Command fail. Return code -651"]
    assert box.cli("config system api-user", "edit bot", "config trusthost", "edit 07", "end", "end") == [
        "new entry '7' added"]  # the number, as the table keeps it
    shown = box.cli("show system api-user bot")
    assert "            edit 1" in shown  # integer keys bare, as the device writes them
    row = api.get("/api/v2/cmdb/system/api-user/bot").json()["results"][0]
    host = row["trusthost"][0]
    assert host["id"] == 1 and host["q_origin_key"] == 1 and isinstance(host["id"], int)
    schema = api.get("/api/v2/cmdb/system/api-user", params={"action": "schema"}).json()["results"]
    assert schema["children"]["trusthost"]["mkey_type"] == "integer"
    assert schema["children"]["trusthost"]["children"]["id"]["type"] == "integer"
    # the body's number (or its text) names the same entry: nothing changes
    for same in (1, "1", "01"):
        r = api.put("/api/v2/cmdb/system/api-user/bot", json={"trusthost": [
            {"id": same, "type": "ipv4-trusthost", "ipv4-trusthost": "127.0.0.0 255.0.0.0"}]})
        assert r.json()["revision_changed"] is False, (same, r.text)


def test_rename_through_put(served) -> None:
    """PUT with a new key in the body renames the entry (references follow, as ``rename``)."""
    box = served()
    with box.client(box.token()) as api:
        _rename(api, box)
    box.server.stop()  # the rename and the edit are in the configuration the device starts from
    text = served(state=box.state).config_text()
    assert 'edit "renamed"' in text and 'edit "client-id"' not in text and 'set comments "new"' in text
    assert 'set est-client-cert "renamed"' in text


def _rename(api: Any, box: Served) -> None:
    api.post(LOCAL, json={"name": "client-id", "comments": "old"})
    api.post(LOCAL, json={"name": "user-of-it", "est-client-cert": "client-id"})
    api.post(LOCAL, json={"name": "taken"})
    before = box.config_text()
    r = api.put(f"{LOCAL}/client-id", json={"name": "taken", "comments": "lost"})
    assert (r.status_code, r.json()["error"]) == (500, -5)
    r = api.put(f"{LOCAL}/client-id", json={"name": "renamed", "comments": "x" * 600})  # a bad value: nothing
    assert (r.status_code, r.json()["error"]) == (500, -1)  # too long, as `set comments` says
    r = api.put(f"{LOCAL}/client-id", json={"name": "n" * 36})
    assert r.status_code == 500 and r.json()["revision_changed"] is False
    assert box.config_text() == before
    r = api.put(f"{LOCAL}/client-id", json={"name": "renamed", "comments": "new"})
    body = r.json()
    assert (r.status_code, body["mkey"], body["revision_changed"]) == (200, "renamed", True), r.text
    assert api.get(f"{LOCAL}/client-id").status_code == 404
    assert api.get(f"{LOCAL}/renamed").json()["results"][0]["comments"] == "new"
    assert api.get(f"{LOCAL}/user-of-it").json()["results"][0]["est-client-cert"] == "renamed"
    assert 'set est-client-cert "renamed"' in box.ssh("show vpn certificate local user-of-it")
