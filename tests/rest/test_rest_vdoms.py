"""Per-vdom API users (``config system api-user`` / ``set vdom``) and the vdoms a request names:
403 outside the caller's vdoms (unknown vdoms included), ``vdom=*`` restricted to the caller's."""

from __future__ import annotations

from rest_helpers import Served

LOCAL = "/api/v2/cmdb/vpn.certificate/local"
GLOBAL = "/api/v2/cmdb/system/global"
STATUS = "/api/v2/monitor/system/status"
USER = "/api/v2/cmdb/system/api-user"


def test_the_vdom_list_of_an_api_user_is_checked_as_a_datasource(box: Served) -> None:
    box.token()
    assert box.cli("config system api-user", "edit bot", "set vdom vd1", "end") == [
        "entry not found in datasource", "", "value parse error before 'vd1'", "Command fail. Return code -3"]
    assert 'set vdom "root"' in "\n".join(box.cli("show full-configuration system api-user bot"))
    with box.client(box.token("admin-bot")) as c:
        row = c.get(f"{USER}/bot").json()["results"][0]
        assert row["vdom"] == [{"name": "root", "q_origin_key": "root"}]  # a member table on the device
        r = c.put(f"{USER}/bot", json={"vdom": [{"name": "root"}, {"name": "vd1"}]})
        assert (r.status_code, r.json()["error"]) == (500, -3)
        assert c.put(f"{USER}/bot", json={"vdom": [{"name": "root"}]}).json()["revision_changed"] is False


def test_a_request_outside_the_callers_vdoms_is_403(served) -> None:
    box = served()
    key = box.token()
    with box.client(key) as c:
        assert c.get(LOCAL, params={"vdom": "root"}).status_code == 200
        # a write to a vdom not the caller's is refused before its body is read (a malformed one too)
        r = c.put(f"{LOCAL}/x", params={"vdom": "vd1"}, content=b"{not json",
                  headers={"Content-Type": "application/json"})
        assert (r.status_code, r.json()["http_status"]) == (403, 403), r.text
        r = c.get(LOCAL, params={"vdom": "vd1"})  # a vdom the device does not have
        body = r.json()
        assert (r.status_code, body["status"], body["http_status"], body["vdom"]) == (403, "error", 403, "vd1")
        assert "error" not in body and body["path"] == "vpn.certificate" and body["name"] == "local"
        star = c.get(LOCAL, params={"vdom": "*"}).json()
        assert [(b["vdom"], b["http_status"]) for b in star] == [("root", 200)]
        # global=1 asks for every vdom of the caller as vdom=* does (KB 344460), monitor endpoints too
        for url in (LOCAL, STATUS):
            every = c.get(url, params={"global": "1"})
            assert [(b["vdom"], b["status"]) for b in every.json()] == [("root", "success")], url
        twice = c.post(LOCAL, params={"scope": "global", "vdom": "root,vd1"}, json={"name": "once"})
        assert [b["status"] for b in twice.json()] == ["success", "success"], twice.text  # global: written once
        r = c.get(STATUS, params={"vdom": "root,vd1"})
        assert r.status_code == 403 and [(b["vdom"], b["http_status"]) for b in r.json()] == [("root", 200),
                                                                                             ("vd1", 403)]
        assert r.json()[0]["results"]["hostname"] == "FortiProxy"
        # a list of vdoms none of which is the caller's: still one envelope per name, as the CMDB answers
        for url in (LOCAL, STATUS):
            r = c.get(url, params={"vdom": "vd1,vd2"})
            assert r.status_code == 403 and [(b["vdom"], b["http_status"]) for b in r.json()] == [
                ("vd1", 403), ("vd2", 403)], (url, r.text)
    # an API user keeps one vdom at least: an emptied list would read back as root
    assert box.cli("config system api-user", "edit bot", "unselect vdom root", "end") == [
        "Attribute 'vdom' MUST be set.", "Command fail. Return code -56"]

    # a configuration (from a device with vdoms) binds the key to vdom vd1 alone: every door is shut
    box.server.stop()
    conf = box.state / "fortishell.conf"
    text = conf.read_text()
    assert text.count('set vdom "root"') == 1  # the API user's, saved as the device saves it
    conf.write_text(text.replace('set vdom "root"', 'set vdom "vd1"'))
    box = served(state=box.state)
    assert 'set vdom "vd1"' in "\n".join(box.cli("show system api-user bot"))
    with box.client(key) as c:
        for params in ({}, {"vdom": "root"}, {"vdom": "vd1"}, {"vdom": "*"}, {"global": "1"}, {"scope": "global"}):
            r = c.get(LOCAL, params=params)
            assert (r.status_code, r.json()["status"]) == (403, "error"), params
        r = c.get(STATUS)  # monitor endpoints alike (fortios collection issue 345)
        assert (r.status_code, r.json()["vdom"], r.json()["name"]) == (403, "root", "status")
        listed = c.get(LOCAL, params={"vdom": "root,vd1"})
        assert [(b["vdom"], b["http_status"]) for b in listed.json()] == [("root", 403), ("vd1", 403)]
        assert c.put(GLOBAL, json={"alias": "not-mine"}).status_code == 403
        assert "alias" not in "\n".join(box.cli("show system global"))
        assert box.cli("config system api-user", "edit bot", "append vdom root", "end") == []
        assert c.get(STATUS).status_code == 200
        assert c.get(LOCAL, params={"vdom": "vd1"}).status_code == 403  # still not a vdom of this device
