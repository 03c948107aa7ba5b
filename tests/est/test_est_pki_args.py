"""pki.py (subjects, SANs, CSRs checked by openssl, certificate text) and args.py validation."""

from __future__ import annotations

import ipaddress
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fortishell import errors
from fortishell.cmdb.model import Cmdb
from fortishell.est import pki
from fortishell.est.args import CA, LOCAL, POSITIONS, Regenerate, parse_generate_args
from fortishell.lab.ca import LabCA

URL = "https://testrfc7030.com:8443"


# ------------------------------------------------------------------ pki
def test_subject_and_san_parsing():
    name = pki.parse_subject("CN=firewall-portal1,DC=local,DC=COM,O=Acme\\, Inc")
    assert pki.name_oneline(name) == "CN=firewall-portal1,DC=local,DC=COM,O=Acme, Inc"
    san = pki.parse_san("DNS:firewall-portal1.local.ca,IP:172.18.60.184,email:a@b.c,URI:https://x/y")
    assert san == [x509.DNSName("firewall-portal1.local.ca"),
                   x509.IPAddress(ipaddress.ip_address("172.18.60.184")),
                   x509.RFC822Name("a@b.c"), x509.UniformResourceIdentifier("https://x/y")]


@pytest.mark.parametrize("bad", ["CN", "XX=1", "C=USA", "CN=a,,O=b", "=x"])
def test_bad_subjects(bad):
    with pytest.raises(pki.PkiError):
        pki.parse_subject(bad)


@pytest.mark.parametrize("bad", ["DNS:", "IP:300.1.1.1", "FOO:x", "email:nobody", "DNS:a b"])
def test_bad_sans(bad):
    with pytest.raises(pki.PkiError):
        pki.parse_san(bad)


@pytest.mark.parametrize("alg", ["rsa-1024", "ec-secp384r1", "ec-secp521r1"])
def test_csr_verifies_with_openssl(tmp_path, alg):
    key = pki.generate_key(pki.ALGORITHMS[alg])
    csr = pki.build_csr(key, pki.parse_subject("CN=fw,DC=local"), pki.parse_san("DNS:fw.local,IP:10.0.0.1"),
                        challenge_password="dGxzLXVuaXF1ZQ==")
    path = tmp_path / "req.pem"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    res = subprocess.run(["openssl", "req", "-verify", "-noout", "-text", "-in", str(path)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "verify OK" in res.stdout + res.stderr
    assert "challengePassword" in res.stdout and "DNS:fw.local, IP Address:10.0.0.1" in res.stdout


def test_x509_text_of_lab_root():
    text = pki.x509_text(LabCA.shipped().cert)
    lines = text.split("\n")
    assert lines[:5] == ["        Version: 3 (0x2)", "        Serial Number:",
                         "            ab:e8:32:e1:f6:6a:6b:43", "        Issuer: CN=estExampleCA",
                         "        Subject: CN=estExampleCA"]
    assert "            X509v3 Subject Key Identifier:" in lines
    assert "                1A:DF:39:84:C2:56:E6:6C:CF:2A:B4:26:A5:FD:0C:D2:43:F5:3D:3E" in lines
    assert lines[-1] == ""


def test_small_serial_prints_decimal_and_hex():
    key = pki.generate_key(pki.ALGORITHMS["ec-secp256r1"])
    import datetime as dt
    now = dt.datetime(2023, 4, 6, tzinfo=dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(pki.parse_subject("CN=a")).issuer_name(pki.parse_subject("CN=a"))
            .public_key(key.public_key()).serial_number(476823).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, pki.default_hash(key)))
    assert "        Serial Number: 476823 (0x74697)" in pki.x509_text(cert)
    assert pki.serial_colon(0x746A5) == "07:46:a5"


def test_key_encryption_roundtrip():
    key = pki.generate_key(pki.ALGORITHMS["ec-secp256r1"])
    pw = pki.random_password()
    assert len(pw) == 62
    pem = pki.encrypt_key(key, pw)
    assert "ENCRYPTED" in pem
    assert pki.load_key(pem, pw).private_numbers() == key.private_numbers()
    with pytest.raises(pki.PkiError):
        pki.load_key(pem, "wrong")


# ------------------------------------------------------------------ args
@pytest.fixture
def cmdb() -> Cmdb:
    c = Cmdb()
    with c.transaction() as tx:
        tx.put(CA, "G_CA_Cert_1", {"ca": LabCA.shipped().cert_pem})
    return c


def test_guide_command(cmdb):
    req = parse_generate_args(["est-test101", "ec-secp256r1", URL, "CN=firewall-portal1,DC=local,DC=COM",
                               "DNS:firewall-portal1.local.ca,IP:172.18.60.184", "estuser", "estpwd",
                               "G_CA_Cert_1"], cmdb)
    assert req.ca_id is None and req.server_cert is None  # position 8 names a CA entry (module docstring)
    assert (req.http_username, req.http_password) == ("estuser", "estpwd")


def test_skipped_positions(cmdb):
    req = parse_generate_args(["n", "rsa-2048", URL, "", "", "", "", "label1", "G_CA_Cert_1", "", "", "10.1.1.1"],
                              cmdb)
    assert req.subject is None and req.ca_id == "label1" and req.server_cert == "G_CA_Cert_1"
    assert req.source_ip == "10.1.1.1"
    assert len(POSITIONS) == 14


def test_existing_name_means_regenerate(cmdb):
    with cmdb.transaction() as tx:
        tx.put(LOCAL, "old", {"enroll-protocol": "est"})
    assert parse_generate_args(["old", "whatever"], cmdb) == Regenerate("old")
    # the other words are not checked, not even their number
    assert parse_generate_args(["old"] + ["x"] * 20, cmdb) == Regenerate("old")


@pytest.mark.parametrize("words,lines,rc", [
    (["n", "rsa-999", URL], ["command parse error before 'rsa-999'"], -61),
    (["n", "rsa-2048"], ["", "incomplete command in the end"], -160),
    (["n", "rsa-2048", "http://h:1"], None, -1),
    (["n", "rsa-2048", "https://h:1/path"], None, -1),
    (["n", "rsa-2048", URL, "CN"], None, -1),
    (["n", "rsa-2048", URL, "", "DNS:"], None, -1),
    (["n", "rsa-2048", URL, "", "", "", "", "", "nosuchca"], None, -3),
    (["n", "rsa-2048", URL, "", "", "", "", "", "", "", "nosuchlocal"], None, -3),
    (["n", "rsa-2048", URL, "", "", "", "", "", "", "", "", "10.1.1"], None, -8),
    (["n", "rsa-2048", URL, "", "", "", "", "bad/label"], None, -1),
    (["x" * 36, "rsa-2048", URL], None, -1),
    (["n", "rsa-2048", URL] + [""] * 11 + ["extra"], ["command parse error before 'extra'"], -61),
])
def test_argument_errors(cmdb, words, lines, rc):
    with pytest.raises(errors.CliError) as info:
        parse_generate_args(words, cmdb)
    out = info.value.output()
    assert out[-1] == f"Command fail. Return code {rc}"
    if lines is not None:
        assert out[:-1] == lines
    else:
        assert out[-2].startswith("value parse error before '")
