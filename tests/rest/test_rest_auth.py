"""Authentication as on the device: API users and keys, access profiles, URL-query keys,
session login with CSRF, the legacy /logincheck."""

from __future__ import annotations

import re

from rest_helpers import RW_PROFILE, Served

GLOBAL = "/api/v2/cmdb/system/global"
STATUS = "/api/v2/monitor/system/status"


def test_generate_key_cli_output_and_storage(box: Served) -> None:
    box.cli(*RW_PROFILE, "config system api-user", "edit bot", "set accprofile rw", "next", "end")
    lines = box.cli("execute api-user generate-key bot")
    assert re.fullmatch(r"New API key: [A-Za-z0-9]{30}", lines[0]), lines
    assert lines[1] == ("NOTE: The bearer of this API key will be granted all access privileges assigned to the "
                        "api-user bot.")
    key = lines[0].split(": ")[1]
    shown = "\n".join(box.cli("show system api-user"))
    assert re.search(r"set api-key ENC \S+", shown) and key not in shown
    assert key not in box.config_text()  # only the hash is kept
    for name, data in box.files().items():
        assert key.encode() not in data, name
    with box.client(key) as c:
        assert c.get(STATUS).json()["status"] == "success"


def test_generate_key_for_unknown_user(box: Served) -> None:
    out = box.cli("execute api-user generate-key ghost")
    assert out[-1] == "Command fail. Return code -3"


def test_a_new_key_replaces_the_old_one(box: Served) -> None:
    old = box.token()
    new = box.cli("execute api-user generate-key bot")[0].split(": ")[1]
    with box.client(old) as c:
        assert c.get(STATUS).status_code == 401
    with box.client(new) as c:
        assert c.get(STATUS).status_code == 200


def test_deleting_the_api_user_revokes_its_key(box: Served) -> None:
    key = box.token()
    with box.client(key) as c:
        assert c.get(STATUS).status_code == 200
        box.cli("config system api-user", "delete bot", "end")
        assert c.get(STATUS).status_code == 401


def test_read_only_profile_gets_403_on_writes(box: Served) -> None:
    key = box.token("reader", "ro")
    with box.client(key) as c:
        assert c.get(GLOBAL).status_code == 200
        r = c.put(GLOBAL, json={"hostname": "nope"})
        assert (r.status_code, r.json()["status"]) == (403, "error")
        assert c.get(GLOBAL).json()["results"]["hostname"] == "FortiProxy"
        assert c.delete("/api/v2/cmdb/vpn.certificate/local/Fortinet_Factory").status_code == 403


def test_profile_without_the_group_gets_403_on_reads(box: Served) -> None:
    box.cli("config system accprofile", "edit sysonly", "set sysgrp read-write", "next", "end")
    key = box.token("sys", "sysonly")
    with box.client(key) as c:
        assert c.get(GLOBAL).status_code == 200
        assert c.get("/api/v2/cmdb/vpn.certificate/local").status_code == 403


def test_access_token_in_the_url_needs_the_global_setting(box: Served) -> None:
    key = box.token()
    with box.client() as c:
        assert c.get(STATUS, params={"access_token": key}).status_code == 401
        box.cli("config system global", "set rest-api-key-url-query enable", "end")
        assert c.get(STATUS, params={"access_token": key}).status_code == 200
        # an unknown key in the URL is a failed API login, as in the Authorization header
        assert c.get(STATUS, params={"access_token": "x" * 30}).status_code == 401
    lines = box.server.registry.logins.path.read_text().splitlines()
    assert [re.sub(r"^\S+ | from=127\.0\.0\.1:\d+", "", line) for line in lines] == [
        "login failed user=- reason=unknown-api-key method=https"]


def test_api_user_needs_a_profile(box: Served) -> None:
    out = box.cli("config system api-user", "edit lone", "end")
    assert "Attribute 'accprofile' MUST be set." in out


def test_session_login_csrf_and_logout(served) -> None:
    box = served(users_toml='[users.alice]\npassword = "pw-1"\n')
    with box.client() as c:
        r = c.post("/api/v2/authentication", json={"username": "alice", "secretkey": "wrong"})
        assert r.status_code == 401 and r.json()["status_message"] == "LOGIN_FAILED"
        r = c.post("/api/v2/authentication", json={"username": "alice", "secretkey": "pw-1",
                                                   "ack_pre_disclaimer": True, "request_key": True})
        assert r.json()["status_message"] == "LOGIN_SUCCESS"
        csrf = next(v for k, v in c.cookies.items() if k.startswith("ccsrf_token_"))
        assert c.get(GLOBAL).status_code == 200  # the session cookie
        assert c.put(GLOBAL, json={"alias": "no-csrf"}).status_code == 403
        assert c.put(GLOBAL, json={"alias": "forged"}, headers={"X-CSRFTOKEN": "0" * 32}).status_code == 403
        assert c.put(GLOBAL, json={"alias": "with-csrf"}, headers={"X-CSRFTOKEN": csrf}).status_code == 200
        key = r.json()["session_key"]
        bearer = {"Authorization": f"Bearer {key}"}
        assert c.put(GLOBAL, json={"alias": "bearer"}, headers=bearer).status_code == 200  # no CSRF with Bearer
        assert c.delete("/api/v2/authentication", headers=bearer).status_code == 200
        assert c.get(GLOBAL, headers=bearer).status_code == 401
    assert 'set alias "bearer"' in box.ssh("show system global", user="alice", password="pw-1")


def test_legacy_logincheck(served) -> None:
    box = served(users_toml='[users.bob]\npassword = "pw-2"\n')
    with box.client() as c:
        assert c.post("/logincheck", content=b"username=bob&secretkey=bad&ajax=1").text.startswith("0")
        r = c.post("/logincheck", content=b"username=bob&secretkey=pw-2&ajax=1")
        assert r.text.startswith("1")
        token = c.cookies.get("ccsrftoken", "").strip('"')
        assert token
        assert c.put(GLOBAL, json={"alias": "legacy"}, headers={"X-CSRFTOKEN": token}).status_code == 200
        c.post("/logout")
        assert c.get(GLOBAL).status_code == 401


def test_per_user_devices_key_picks_the_device(served) -> None:
    """Without --shared each login user has a device; an API key acts on the device that holds it."""
    box = served(shared=False, users_toml='[users.admin]\npassword = ""\n[users.carol]\npassword = "c"\n')
    carol = box.server.registry.device_for("carol")
    from fortishell.frontend.hub import hub_for
    from fortishell.shell.session import Session

    sess = Session(carol)
    lines: list[str] = []
    for line in [*RW_PROFILE, "config system api-user", "edit cbot", "set accprofile rw", "next", "end",
                 "execute api-user generate-key cbot"]:
        lines = hub_for(carol).run_for(_Quiet(), lambda line=line: sess.execute(line)).lines
    key = lines[0].split(": ")[1]
    with box.client(key) as c:
        assert c.put(GLOBAL, json={"alias": "carols"}).status_code == 200
    assert 'set alias "carols"' in box.ssh("show system global", user="carol", password="c")
    assert 'carols' not in box.ssh("show system global", user="admin", password="")


class _Quiet:
    def emit(self, line: str) -> None:
        pass


def test_failed_logins_lock_the_address_out(served) -> None:
    box = served(users_toml='[users.dave]\npassword = "right"\n')
    with box.client() as c:
        for _ in range(3):
            r = c.post("/api/v2/authentication", json={"username": "dave", "secretkey": "wrong"})
            assert r.json()["status_message"] == "LOGIN_FAILED"
        r = c.post("/api/v2/authentication", json={"username": "dave", "secretkey": "right"})
        assert r.json()["status_message"] == "LOGIN_FAILED"  # locked out for now, even with the password
        assert c.post("/logincheck", content=b"username=dave&secretkey=right").text.startswith("0")


def test_lockout_ends_after_its_duration() -> None:
    from fortishell.rest.auth import Lockout

    now = [100.0]
    lock = Lockout(threshold=3, seconds=60, clock=lambda: now[0])
    lock.failed("a")
    lock.failed("a")
    assert not lock.locked("a")
    lock.failed("a")
    assert lock.locked("a") and not lock.locked("b")
    now[0] += 59.9
    assert lock.locked("a")
    now[0] += 0.2
    assert not lock.locked("a")
    lock.failed("a")
    lock.succeeded("a")
    lock.failed("a")
    lock.failed("a")
    assert not lock.locked("a")  # a success resets the count


def test_rest_logins_go_to_the_login_log_of_the_ssh_door(served) -> None:
    """Session logins (both forms), their failures, a locked-out try and an unknown API key: one line
    each in the devices folder's logins.log, beside the SSH door's lines."""
    box = served(users_toml='[users.erin]\npassword = "pw-e"\n')
    log_file = box.server.registry.logins.path
    box.ssh("get system status", user="erin", password="pw-e")
    with box.client() as c:
        c.post("/api/v2/authentication", json={"username": "erin", "secretkey": "pw-e"})
        c.post("/api/v2/authentication", json={"username": "erin", "secretkey": "bad"})
        c.post("/logincheck", content=b"username=nobody&secretkey=x&ajax=1")
        c.post("/logincheck", content=b"username=erin&secretkey=pw-e&ajax=1")  # failures reset
        c.get("/api/v2/monitor/system/status", headers={"Authorization": "Bearer " + "x" * 30})
        for _ in range(3):
            c.post("/api/v2/authentication", json={"username": "erin", "secretkey": "bad"})
        c.post("/api/v2/authentication", json={"username": "erin", "secretkey": "pw-e"})
    lines = [line.split(" ", 1)[1] for line in log_file.read_text().splitlines()]
    rest = [re.sub(r"from=127\.0\.0\.1:\d+ ", "", line) for line in lines if "method=https" in line]
    assert any(line.startswith("login ok user=erin") and "method=password" in line for line in lines)  # SSH
    assert rest == [
        "login ok user=erin method=https",
        "login failed user=erin reason=wrong-password method=https",
        "login failed user=nobody reason=unknown-user method=https",
        "login ok user=erin method=https",
        "login failed user=- reason=unknown-api-key method=https",
        "login failed user=erin reason=wrong-password method=https",
        "login failed user=erin reason=wrong-password method=https",
        "login failed user=erin reason=wrong-password method=https",
        "login failed user=erin reason=locked-out method=https",
    ]


TRUSTHOST = ["config system api-user", "edit bot", "config trusthost", "edit 1",
             "set ipv4-trusthost 192.0.2.0 255.255.255.0", "next", "end", "next", "end"]


def test_trusthost_limits_where_an_api_key_is_taken_from(served) -> None:
    box = served()
    token = box.token()
    with box.client(token) as c:
        assert c.get(STATUS).status_code == 200  # no trusthost entry: any address
        assert box.cli(*TRUSTHOST) == ["new entry '1' added"]
        r = c.get(STATUS)
        assert r.status_code == 401 and r.json()["status"] == "error"
        # an IPv6 entry does not let an IPv4 client in; a /8 written the CIDR way does
        assert box.cli("config system api-user", "edit bot", "config trusthost", "edit 2",
                       "set type ipv6-trusthost", "set ipv6-trusthost ::1/128", "next", "edit 3",
                       "set ipv4-trusthost 127.0.0.0/8", "next", "end", "next", "end") == \
            ["new entry '2' added", "new entry '3' added"]
        assert c.get(STATUS).status_code == 200
        # the REST door edits the table too (JSON as the Ansible module sends it), all or nothing
        r = c.put("/api/v2/cmdb/system/api-user/bot",
                  json={"trusthost": [{"id": 3, "type": "ipv4-trusthost", "ipv4-trusthost": "198.51.100.7 255.255.255.255"}]})
        assert r.status_code == 200, r.text
        assert c.get(STATUS).status_code == 401
    shown = "\n".join(box.cli("show system api-user bot"))
    assert "set ipv4-trusthost 198.51.100.7 255.255.255.255" in shown
    assert "set ipv6-trusthost ::1/128" in shown and "set type ipv6-trusthost" in shown
    assert "reason=untrusted-host" in box.server.registry.logins.path.read_text()
    box.server.stop()  # the table is in the configuration the device starts from
    assert "set ipv4-trusthost 198.51.100.7 255.255.255.255" in served(state=box.state).config_text()


def test_trusthost_values_are_checked_as_the_cli_checks_them(box: Served) -> None:
    box.token()
    before = box.config_text()
    out = box.cli("config system api-user", "edit bot", "config trusthost", "edit 1",
                  "set ipv4-trusthost 192.0.2.0 255.0.255.0", "set ipv4-trusthost 300.1.1.1 255.255.255.0",
                  "set type ipv6-trusthost", "set ipv6-trusthost 2001:db8::/129", "abort", "end", "next", "end")
    assert out.count("Command fail. Return code -8") == 3, out
    assert box.config_text() == before


def test_generate_key_by_a_session_admin_needs_x_admin_passwd(served) -> None:
    """7.6.5+: a password (session) admin confirms ``api-user/generate-key`` with its own password in
    ``X-Admin-Passwd``; missing or wrong: 403 / -37, nothing changes, a failed login in the log; wrong
    ones count toward the lockout.  An API key caller sends none (tests/rest/test_rest_monitor.py)."""
    box = served(users_toml='[users.frank]\npassword = "pw-f"\n')
    box.cli(*RW_PROFILE, "config system api-user", "edit bot", "set accprofile rw", "next", "end")
    url = "/api/v2/monitor/system/api-user/generate-key"
    with box.client() as c:
        key = c.post("/api/v2/authentication", json={"username": "frank", "secretkey": "pw-f"}).json()["session_key"]
        bearer = {"Authorization": f"Bearer {key}"}
        before = box.config_text()
        for headers in (bearer, bearer | {"X-Admin-Passwd": "wrong"}):
            r = c.post(url, json={"api-user": "bot"}, headers=headers)
            body = r.json()
            assert (r.status_code, body["status"], body["error"]) == (403, "error", -37), r.text
            assert "results" not in body
        assert box.config_text() == before
        r = c.post(url, json={"api-user": "bot"}, headers=bearer | {"X-Admin-Passwd": "pw-f"})
        assert r.status_code == 200, r.text
        with box.client(r.json()["results"]["access_token"]) as bot:
            assert bot.get(STATUS).status_code == 200
        for _ in range(3):  # wrong passwords lock the address out, as failed logins do
            c.post(url, json={"api-user": "bot"}, headers=bearer | {"X-Admin-Passwd": "wrong"})
        assert c.post(url, json={"api-user": "bot"}, headers=bearer | {"X-Admin-Passwd": "pw-f"}).status_code == 403
        assert c.post("/api/v2/authentication", json={"username": "frank", "secretkey": "pw-f"}).status_code == 401
    lines = box.server.registry.logins.path.read_text().splitlines()
    rest = [re.sub(r"^\S+ | from=127\.0\.0\.1:\d+", "", line) for line in lines if "method=https" in line]
    assert rest == ["login ok user=frank method=https",
                    "login failed user=frank reason=missing-admin-password method=https",
                    "login failed user=frank reason=wrong-password method=https"] + \
        ["login failed user=frank reason=wrong-password method=https"] * 3 + \
        ["login failed user=frank reason=locked-out method=https"] * 2
