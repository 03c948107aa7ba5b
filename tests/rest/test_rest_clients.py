"""Real clients against `serve --https-port`: fortigate-api 2.0.8 in token mode."""

from __future__ import annotations

import warnings

import pytest

from rest_helpers import Served

fortigate_api = pytest.importorskip("fortigate_api")


def test_fortigate_api_token_create_get_update_delete(box: Served) -> None:
    token = box.token()
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    api = fortigate_api.FortiGateAPI(host="127.0.0.1", port=box.server.https_port, token=token)
    try:
        api.login()  # token mode: GET monitor/system/status with the Bearer key, raise_for_status
        local = api.cmdb.vpn_certificate.local
        resp = local.create({"name": "fga-1", "comments": "from fortigate-api"})
        assert resp.ok, resp.text
        local.create({"name": "fga-2", "comments": "other"})
        rows = local.get(filter="comments=@fortigate")
        assert [r["name"] for r in rows] == ["fga-1"]
        # the client documents its operators as case-insensitive, as the device's are
        assert [r["name"] for r in local.get(filter="comments=@FortiGate")] == ["fga-1"]
        assert local.is_exist("fga-1")
        resp = local.update({"name": "fga-1", "comments": "updated"})
        assert resp.ok, resp.text
        assert local.get(name="fga-1")[0]["comments"] == "updated"
        assert 'set comments "updated"' in box.ssh("show vpn certificate local fga-1")
        resp = local.delete("fga-1")
        assert resp.ok, resp.text
        assert not local.is_exist("fga-1")
    finally:
        api.logout()


def test_fortigate_api_password_login(served) -> None:
    """Password mode: form POST /logincheck, the ccsrftoken cookie echoed as X-CSRFTOKEN."""
    box = served(users_toml='[users.admin]\npassword = "pw"\n')
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    api = fortigate_api.FortiGateAPI(host="127.0.0.1", port=box.server.https_port, username="admin",
                                     password="pw")
    try:
        api.login()
        local = api.cmdb.vpn_certificate.local
        assert local.create({"name": "pw-1"}).ok
        assert local.update({"name": "pw-1", "comments": "csrf ok"}).ok
        assert local.get(name="pw-1")[0]["comments"] == "csrf ok"
    finally:
        api.logout()
