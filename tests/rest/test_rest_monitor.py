"""Monitor endpoints: system/status, system/available-certificates, system/api-user/generate-key."""

from __future__ import annotations

import re

from conftest import Served


def test_status_as_ansible_reads_it(box: Served) -> None:
    with box.client(box.token()) as c:
        body = c.get("/api/v2/monitor/system/status").json()
    assert body["status"] == "success" and body["http_method"] == "GET"
    assert re.fullmatch(r"v\d+\.\d+\.\d+", body["version"])  # what the httpapi plugin parses
    assert body["results"]["hostname"] == "FortiProxy" and body["serial"].startswith("FPX")


def test_available_certificates(box: Served) -> None:
    with box.client(box.token()) as c:
        c.post("/api/v2/cmdb/vpn.certificate/local", json={"name": "no-cert-yet"})
        rows = c.get("/api/v2/monitor/system/available-certificates").json()["results"]
        by_name = {r["name"]: r for r in rows}
        assert by_name["Fortinet_Factory"]["type"] == "local-cer"
        assert by_name["Fortinet_Factory"]["source"] == "factory"
        assert by_name["Fortinet_Factory"]["status"] == "valid"
        assert "no-cert-yet" in by_name
        assert all(r["type"] == "local-cer" for r in rows)
        with_ca = c.get("/api/v2/monitor/system/available-certificates", params={"with_ca": "1"}).json()
        assert any(r["type"] == "local-ca" for r in with_ca["results"])
        one = c.get("/api/v2/monitor/system/available-certificates", params={"mkey": "Fortinet_Factory"}).json()
        assert [r["name"] for r in one["results"]] == ["Fortinet_Factory"]


def test_generate_key_endpoint(box: Served) -> None:
    token = box.token()
    box.cli("config system api-user", "edit second", "set accprofile rw", "next", "end")
    with box.client(token) as c:
        r = c.post("/api/v2/monitor/system/api-user/generate-key", json={"api-user": "second"})
        assert r.status_code == 200, r.text
        new = r.json()["results"]["access_token"]
        assert re.fullmatch(r"[A-Za-z0-9]{30}", new)
        r = c.post("/api/v2/monitor/system/api-user/generate-key", json={"api-user": "ghost"})
        assert (r.status_code, r.json()["error"]) == (404, -3)
    with box.client(new) as c2:
        assert c2.get("/api/v2/monitor/system/status").status_code == 200
    reader = box.token("reader", "ro")
    with box.client(reader) as c3:
        assert c3.post("/api/v2/monitor/system/api-user/generate-key", json={"api-user": "reader"}) \
            .status_code == 403


def test_an_unexpected_error_is_one_envelope_and_a_logged_traceback(box: Served, monkeypatch, caplog) -> None:
    from fortishell.rest import monitor

    def broken(device, query, body):  # noqa: ANN001, ANN202
        raise RuntimeError("boom inside")

    monkeypatch.setitem(monitor.ENDPOINTS, "system/status", monitor.Monitor("GET", False, broken))
    with box.client(box.token()) as c:
        r = c.get("/api/v2/monitor/system/status")
    assert (r.status_code, r.json()["status"], r.json()["error"]) == (500, "error", -1)
    assert "boom" not in r.text and "Traceback" not in r.text
    logged = [rec for rec in caplog.records if rec.name == "fortishell.rest" and rec.exc_info]
    assert logged and "boom inside" in str(logged[0].exc_info[1])
