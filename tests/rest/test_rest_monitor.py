"""Monitor endpoints: system/status, system/available-certificates, system/api-user/generate-key."""

from __future__ import annotations

import re

from rest_helpers import Served


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


def _cert_pem(ca: bool) -> bytes:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rotation Root" if ca else "leaf")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_ca_import_file(box: Served) -> None:
    import base64

    url = "/api/v2/monitor/vpn-certificate/ca/import"
    root = base64.b64encode(_cert_pem(ca=True)).decode()
    with box.client(box.token()) as c:
        r = c.post(url, json={"import_method": "file", "scope": "global", "file_content": root})
        assert r.status_code == 200, r.text
        name = r.json()["results"]["mkey"]
        assert name.startswith("G_CA_Cert_")
        again = c.post(url, json={"import_method": "file", "file_content": root})
        assert (again.status_code, again.json()["error"]) == (500, -5)
        before = box.config_text()
        leaf = base64.b64encode(_cert_pem(ca=False)).decode()
        assert c.post(url, json={"import_method": "file", "file_content": leaf}).status_code == 500
        bad = c.post(url, json={"import_method": "file", "file_content": "bm90IGEgY2VydA=="})
        assert (bad.status_code, bad.json()["error"]) == (500, -651)
        assert box.config_text() == before
    assert "Rotation Root" in box.ssh(f"get vpn certificate ca {name}")


def test_ca_import_and_csr_generate_over_scep(box: Served) -> None:
    """import_method scep (GetCACert from the lab's scep.lab, the trust rules of ca import auto) and
    csr/generate with scep_url + scep_password: the CLI's SCEP enrollment behind the API."""
    with box.client(box.token()) as c:
        r = c.post("/api/v2/monitor/vpn-certificate/ca/import",
                   json={"import_method": "scep", "scep_url": "http://scep.lab/scep", "scope": "global"})
        assert r.status_code == 200, r.text
        name = r.json()["results"]["mkey"]
        assert name.startswith("G_CA_Cert_")
        bad = c.post("/api/v2/monitor/vpn-certificate/csr/generate",
                     json={"certname": "api-scep", "subject": "api.lab.example", "keytype": "rsa",
                           "keysize": "2048", "scep_url": "http://scep.lab/scep", "scep_password": "guess"})
        assert bad.status_code == 500 and "failInfo badRequest" in bad.json()["cli_error"], bad.text
        ok = c.post("/api/v2/monitor/vpn-certificate/csr/generate",
                    json={"certname": "api-scep", "subject": "api.lab.example", "keytype": "rsa",
                          "keysize": "2048", "scep_url": "http://scep.lab/scep", "scep_password": "fortinet-lab"})
        assert ok.status_code == 200, ok.text
        entry = c.get("/api/v2/cmdb/vpn.certificate/local/api-scep").json()["results"][0]
        assert entry["enroll-protocol"] == "scep" and entry["scep-url"] == "http://scep.lab/scep"
    assert "CN = api.lab.example" in box.ssh("get vpn certificate local api-scep")
    assert "CN = estExampleCA" in box.ssh(f"get vpn certificate ca {name}")
