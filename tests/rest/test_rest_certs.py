"""The certificate actions of the REST door over real HTTPS on loopback (httpx; curl for the GUI's
multipart upload): each answers as its CLI command does, because it calls the same helper; a
refused request changes nothing."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from certs_material import MiniCa, b64, key_pem, p12, pem
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from rest_helpers import Served

MON = "/api/v2/monitor"


def _refused(r, status: int, error: int) -> str:  # noqa: ANN001
    body = r.json()
    assert (r.status_code, body["http_status"], body["status"], body["error"]) == (status, status, "error", error), \
        r.text
    assert "Traceback" not in r.text
    return str(body.get("cli_error", ""))


def test_csr_generate_download_then_local_import_completes_it(box: Served) -> None:
    ca = MiniCa.make()
    with box.client(box.token()) as c:
        r = c.post(f"{MON}/vpn-certificate/csr/generate",
                   json={"certname": "web", "subject": "web.example.net", "keytype": "ec", "curvename": "secp384r1",
                         "orgunits": ["Ops", "Lab"], "org": "Example", "countrycode": "CA",
                         "subject_alt_name": "DNS:www.example.net", "scope": "global"})
        assert r.status_code == 200 and r.json()["results"]["mkey"] == "web", r.text
        assert "PENDING" in "\n".join(box.cli("get vpn certificate local web"))
        d = c.get(f"{MON}/system/certificate/download", params={"mkey": "web", "type": "local-csr"})
        assert d.status_code == 200 and d.headers["content-disposition"] == 'attachment; filename="web.csr"'
        csr = x509.load_pem_x509_csr(d.content)
        assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "web.example.net"
        assert [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)] == ["Ops", "Lab"]
        assert csr.public_key().curve.name == "secp384r1"  # type: ignore[union-attr]

        # the same name again: refused with the very lines the CLI prints
        cli = box.cli("execute vpn certificate local generate rsa web 2048 other.example")
        again = c.post(f"{MON}/vpn-certificate/csr/generate", json={"certname": "web", "subject": "other.example"})
        assert _refused(again, 500, -5) == "\n".join(cli) == ("Certificate 'web' already exists.\n"
                                                            "Command fail. Return code -5")
        before = box.config_text()
        bad_size = c.post(f"{MON}/vpn-certificate/csr/generate",
                          json={"certname": "w2", "subject": "x", "keytype": "rsa", "keysize": 3000})
        _refused(bad_size, 500, -61)
        scep = c.post(f"{MON}/vpn-certificate/csr/generate",
                      json={"certname": "w3", "subject": "x", "scep_url": "http://scep.example/"})
        assert "SCEP" in _refused(scep, 500, -1)
        stranger = ca.leaf("not requested")[1]
        nomatch = c.post(f"{MON}/vpn-certificate/local/import",
                         json={"type": "local", "file_content": b64(pem(stranger))})
        assert "does not match any pending" in _refused(nomatch, 500, -1)
        assert box.config_text() == before

        signed = ca.sign_csr(d.content)
        # the GUI's form: multipart, the certificate as a raw file part
        r = c.post(f"{MON}/vpn-certificate/local/import", data={"type": "local", "scope": "global"},
                   files={"file_content": ("web.cer", pem(signed), "application/octet-stream")})
        assert r.status_code == 200 and r.json()["results"]["mkey"] == "web", r.text
        got = c.get(f"{MON}/system/certificate/download", params={"mkey": "web", "type": "local-cer"})
        assert x509.load_pem_x509_certificate(got.content) == signed
    assert "PENDING" not in box.ssh("get vpn certificate local web")


def test_pkcs12_and_regular_import_and_their_refusals(box: Served) -> None:
    ca = MiniCa.make()
    key, cert = ca.leaf("p12 leaf")
    url = f"{MON}/vpn-certificate/local/import"
    with box.client(box.token()) as c:
        before = box.config_text()
        wrong = c.post(url, json={"type": "pkcs12", "certname": "p1", "password": "nope",
                                  "file_content": b64(p12(key, cert, "s3cret"))})
        assert "wrong password" in _refused(wrong, 500, -1)
        key2, cert2 = ca.leaf("other")
        mismatch = c.post(url, json={"type": "regular", "certname": "r1", "password": "kp",
                                     "file_content": b64(pem(cert)), "key_file_content": b64(key_pem(key2, "kp"))})
        assert "does not match" in _refused(mismatch, 500, -1)
        nopass = c.post(url, json={"type": "regular", "certname": "r1", "file_content": b64(pem(cert)),
                                   "key_file_content": b64(key_pem(key, "kp"))})
        assert "password" in _refused(nopass, 500, -1)
        _refused(c.post(url, json={"type": "pkcs12", "certname": "p1", "file_content": "%%%"}), 400, -651)
        _refused(c.post(url, json={"type": "other", "certname": "p1", "file_content": "AA=="}), 400, -651)
        _refused(c.post(url, json=["not", "an", "object"]), 400, -651)
        assert box.config_text() == before

        ok = c.post(url, json={"type": "pkcs12", "certname": "p1", "password": "s3cret",
                               "file_content": b64(p12(key, cert, "s3cret")), "scope": "global"})
        assert ok.status_code == 200, ok.text
        ok = c.post(url, json={"type": "regular", "certname": "r1", "password": "kp",
                               "file_content": b64(pem(cert2)), "key_file_content": b64(key_pem(key2, "kp"))})
        assert ok.status_code == 200, ok.text
        dup = c.post(url, json={"type": "regular", "certname": "r1", "password": "kp",
                                "file_content": b64(pem(cert2)), "key_file_content": b64(key_pem(key2, "kp"))})
        _refused(dup, 500, -5)
        for name, want in (("p1", cert), ("r1", cert2)):
            got = c.get(f"{MON}/system/certificate/download", params={"mkey": name, "type": "local-cer"})
            assert x509.load_pem_x509_certificate(got.content) == want
    shown = box.ssh("show vpn certificate local r1")
    assert "set private-key" in shown and "set certificate" in shown


def test_crl_import_and_download(box: Served) -> None:
    ca, stranger = MiniCa.make("CRL Root"), MiniCa.make("Unknown Root")
    with box.client(box.token()) as c:
        before = box.config_text()
        r = c.post(f"{MON}/vpn-certificate/crl/import", json={"scope": "global", "file_content": b64(ca.crl())})
        assert "is not a CA certificate on this device" in _refused(r, 500, -1)
        assert box.config_text() == before
        assert c.post(f"{MON}/vpn-certificate/ca/import",
                      json={"import_method": "file", "file_content": b64(pem(ca.cert))}).status_code == 200
        crl = ca.crl()
        r = c.post(f"{MON}/vpn-certificate/crl/import", json={"scope": "global", "file_content": b64(crl)})
        assert r.status_code == 200 and r.json()["results"]["mkey"] == "CRL_1", r.text
        _refused(c.post(f"{MON}/vpn-certificate/crl/import", json={"file_content": b64(crl)}), 500, -5)
        forged = c.post(f"{MON}/vpn-certificate/crl/import", json={"file_content": b64(stranger.crl())})
        _refused(forged, 500, -1)
        got = c.get(f"{MON}/system/certificate/download", params={"mkey": "CRL_1", "type": "crl"})
        assert got.status_code == 200
        assert x509.load_pem_x509_crl(got.content).public_bytes(serialization.Encoding.DER) == crl
    assert "CRL Root" in box.ssh("get vpn certificate crl CRL_1")


def test_local_create_is_signed_by_fortinet_ca_ssl(box: Served) -> None:
    with box.client(box.token()) as c:
        r = c.post(f"{MON}/vpn-certificate/local/create",
                   json={"certname": "made", "common_name": "gw.example.net", "scope": "global"})
        assert r.status_code == 200, r.text
        leaf = x509.load_pem_x509_certificate(c.get(f"{MON}/system/certificate/download",
                                                    params={"mkey": "made", "type": "local-cer"}).content)
        issuer = x509.load_pem_x509_certificate(c.get(f"{MON}/system/certificate/download",
                                                      params={"mkey": "Fortinet_CA_SSL", "type": "local-cer"}).content)
        leaf.verify_directly_issued_by(issuer)
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["gw.example.net"]
        _refused(c.post(f"{MON}/vpn-certificate/local/create", json={"certname": "made", "common_name": "x"}),
                 500, -5)
        _refused(c.post(f"{MON}/vpn-certificate/local/create", json={"certname": "long", "common_name": "x" * 65}),
                 500, -1)


def test_remote_certificate_download_and_missing_entries(api, box: Served) -> None:
    url = f"{MON}/system/certificate/download"
    leaf = MiniCa.make("Remote Root").leaf("peer.example.net")[1]
    r = api.post("/api/v2/cmdb/vpn.certificate/remote", json={"name": "peer", "remote": pem(leaf).decode()})
    assert r.status_code == 200, r.text
    got = api.get(url, params={"mkey": "peer", "type": "remote-cer"})
    assert got.status_code == 200 and got.headers["content-type"] == "application/x-x509-user-cert"
    assert got.headers["content-disposition"] == 'attachment; filename="peer.cer"'
    assert x509.load_pem_x509_certificate(got.content) == leaf
    assert "does not exist" in _refused(api.get(url, params={"mkey": "ghost", "type": "remote-cer"}), 404, -3)
    assert "does not exist" in _refused(api.get(url, params={"mkey": "CRL_9", "type": "crl"}), 404, -3)
    # a name that would break the header (a quote, a backslash, a line break) is written safe
    odd = 'pe"e' + "\\" + "\r\n" + "X-Injected: 1"
    r = api.post("/api/v2/cmdb/vpn.certificate/remote", json={"name": odd, "remote": pem(leaf).decode()})
    assert r.status_code == 200, r.text
    got = api.get(url, params={"mkey": odd, "type": "remote-cer"})
    assert got.status_code == 200 and "x-injected" not in got.headers
    assert got.headers["content-disposition"] == 'attachment; filename="pe_e___X-Injected: 1.cer"'


def test_a_json_body_labelled_as_a_form_is_read_as_json(api) -> None:
    """What the Ansible httpapi plugin sends: JSON with ``Content-Type: application/x-www-form-urlencoded``
    (only multipart is read as a form)."""
    body = json.dumps({"certname": "from-ansible", "common_name": "a.example.net"})
    r = api.post(f"{MON}/vpn-certificate/local/create", content=body,
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["results"]["mkey"] == "from-ansible", r.text


def test_download_errors_and_read_only_access(box: Served) -> None:
    url = f"{MON}/system/certificate/download"
    with box.client(box.token("reader", "ro")) as c:
        ok = c.get(url, params={"mkey": "Fortinet_CA", "type": "local-ca"})
        assert ok.status_code == 200 and ok.headers["content-type"] == "application/x-x509-ca-cert"
        assert "Fortinet_CA' does not exist" not in ok.text
        _refused(c.get(url, params={"mkey": "ghost", "type": "local-cer"}), 404, -3)
        _refused(c.get(url, params={"mkey": "Fortinet_Factory", "type": "local-csr"}), 500, -1)
        _refused(c.get(url, params={"mkey": "Fortinet_Factory", "type": "pem"}), 400, -651)
        _refused(c.get(url, params={"type": "local-cer"}), 400, -651)
        w = c.post(f"{MON}/vpn-certificate/local/create", json={"certname": "ro", "common_name": "x"})
        assert w.status_code == 403
        assert c.post(url, json={}).status_code == 405


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_multipart_pkcs12_upload(box: Served, tmp_path: Path) -> None:
    """What a script does with curl: -F fields, the PKCS#12 file as a file part."""
    ca = MiniCa.make()
    key, cert = ca.leaf("curl leaf")
    (tmp_path / "bundle.p12").write_bytes(p12(key, cert, "pw"))
    out = subprocess.run(
        ["curl", "-sS", "--cacert", str(box.cert), "-H", f"Authorization: Bearer {box.token()}",
         "-F", "type=pkcs12", "-F", "certname=from-curl", "-F", "password=pw",
         "-F", f"file_content=@{tmp_path / 'bundle.p12'}", "-w", "\n%{http_code}",
         f"{box.base_url}{MON}/vpn-certificate/local/import"],
        capture_output=True, text=True, timeout=30, check=False)
    body, _, code = out.stdout.rpartition("\n")
    assert code == "200", (out.stdout, out.stderr)
    assert '"mkey":"from-curl"' in body
    assert "curl leaf" in "\n".join(box.cli("get vpn certificate local from-curl"))


_ACTIONS = ["vpn-certificate/local/import", "vpn-certificate/crl/import", "vpn-certificate/csr/generate",
            "vpn-certificate/local/create", "vpn-certificate/ca/import"]
_FIELDS = ["type", "certname", "password", "file_content", "key_file_content", "scope", "import_method",
           "subject", "keytype", "keysize", "curvename", "orgunits", "countrycode", "common_name",
           "subject_alt_name", "acme_domain"]
_VALUES = st.none() | st.booleans() | st.integers(-5, 5000) | st.sampled_from(
    ["local", "pkcs12", "regular", "file", "scep", "rsa", "ec", "Fortinet_Factory", "web", "", "AA==", "%%",
     "secp384r1", "DNS:x", "x" * 70]) | st.lists(st.text(max_size=5), max_size=2) | st.text(max_size=8)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_NOWHERE = f"https://127.0.0.1:{_closed_port()}/directory"


def _loopback_acme(body: dict) -> dict:
    """An ACME import the fuzz makes orders from loopback, never from the default CA on the internet."""
    return body | {"acme_ca_url": _NOWHERE} if "acme_domain" in body else body


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(action="vpn-certificate/local/import", body={"file_content": "\x80"})  # found by this test
@given(action=st.sampled_from(_ACTIONS),
       body=st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=6).map(_loopback_acme)
       | st.lists(st.integers(), max_size=2))
def test_fuzz_certificate_actions_answer_an_envelope_and_change_nothing_when_refused(
        box: Served, api_token: str, action: str, body: object) -> None:
    """Whatever the body, an envelope with the device's codes (never an unexpected error); a refused
    request leaves the configuration and the state files as they were."""
    before, files = box.config_text(), box.files()
    with box.client(api_token) as c:
        r = c.post(f"{MON}/{action}", json=body)
    got = r.json()
    assert "Traceback" not in r.text
    if r.status_code == 200:
        assert got["status"] == "success" and got["results"]["mkey"]
        return
    assert r.status_code in (400, 404, 500) and got["http_status"] == r.status_code and got["status"] == "error"
    assert got["error"] != -1 or "cli_error" in got  # -1 without the CLI's lines would be a crash
    assert box.config_text() == before and box.files() == files


@pytest.fixture()
def api_token(box: Served) -> str:
    return box.token()


_PART = b'--xx\r\nContent-Disposition: form-data; name="type"\r\n%s\r\nlocal\r\n--xx--\r\n'


@pytest.mark.parametrize("content_type,body", [
    ("multipart/form-data", b"no boundary"),
    ("multipart/form-data; boundary=xx", b"garbage"),
    ("multipart/form-data; boundary=xx", b'--xx\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nab'),
    ("multipart/form-data; boundary=xx", _PART % b"Content-Type: text/plain; charset=no-such-charset\r\n"),
])
def test_malformed_multipart_is_a_bad_request(box: Served, content_type: str, body: bytes) -> None:
    token = box.token()
    before = box.config_text()
    with box.client(token) as c:
        r = c.post(f"{MON}/vpn-certificate/local/import", content=body, headers={"Content-Type": content_type})
    assert r.status_code == 400 and r.json()["status"] == "error", r.text
    assert box.config_text() == before


def test_local_import_with_acme_fields_makes_an_acme_certificate_from_acme_lab(box: Served) -> None:
    """``type: regular`` with ``acme_*`` and no file: an ``enroll-protocol acme2`` entry made as the
    CLI makes one, ordered at once from the embedded lab ACME server (acme.lab)."""
    box.cli("config system acme", "set interface port1", "end")  # the http-01 responder answers
    acme = {"type": "regular", "certname": "acme-rest", "scope": "global", "acme_domain": "fgt.lab.example",
            "acme_email": "admin@lab.example", "acme_ca_url": "https://acme.lab/directory",
            "acme_rsa_key_size": 2048, "acme_renew_window": 20}
    url = f"{MON}/vpn-certificate/local/import"
    lab_ca = box.device.acme.lab.app.ca  # the lab CA that issues acme.lab's certificate
    with box.client(box.token()) as c:
        r = c.post(f"{MON}/vpn-certificate/ca/import", json={"import_method": "file", "scope": "global",
                                                               "file_content": b64(lab_ca.cert_pem.encode())})
        assert r.status_code == 200, r.text
        before = box.config_text()
        # each field goes through `set`'s parser: the size's range is the CLI's
        assert "out of range" in _refused(c.post(url, json=acme | {"acme_rsa_key_size": 1024}), 500, -651)
        _refused(c.post(url, json=acme | {"type": "pkcs12"}), 400, -651)
        _refused(c.post(url, json=acme | {"file_content": b64(b"x")}), 400, -651)
        _refused(c.post(url, json=acme | {"certname": "Fortinet_Factory"}), 500, -5)
        assert box.config_text() == before
        r = c.post(url, json=acme)
        assert r.status_code == 200 and r.json()["results"]["mkey"] == "acme-rest", r.text
        row = c.get("/api/v2/cmdb/vpn.certificate/local/acme-rest").json()["results"][0]
    assert (row["enroll-protocol"], row["acme-domain"], row["acme-email"]) == (
        "acme2", "fgt.lab.example", "admin@lab.example")
    assert (row["acme-rsa-key-size"], row["acme-renew-window"]) == (2048, 20)
    assert row["certificate"].startswith("-----BEGIN CERTIFICATE-----"), row["certificate"][:200]
    cert = x509.load_pem_x509_certificate(row["certificate"].encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["fgt.lab.example"]
    assert cert.public_key().key_size == 2048  # (3072 would prove the field too, at 0.6 s of key generation)
    assert lab_ca.chains_to_me(cert)
