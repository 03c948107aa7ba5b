"""The EST engine against the lab responder over real TLS on 127.0.0.1."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from fortishell import errors
from fortishell.est import pki
from fortishell.est.args import CA, LOCAL

# the guide's bracketed lines, kept in the repository as test data (tests/fidelity/)
GUIDE_LINES = Path(__file__).resolve().parents[1] / "fidelity" / "guide_trace_lines.txt"


def example1_success_lines() -> list[str]:
    """Example 1's trace lines (the untrusted-CA lines are their own section)."""
    lines, section = [], None
    for line in GUIDE_LINES.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:]
        elif section == "example1" and line:
            lines.append(line)
    assert len(lines) == 56, len(lines)
    return lines


def normalise(line: str) -> str:
    line = re.sub(r"(testrfc7030\.com):\d+", r"\1:PORT", line)
    line = re.sub(r"Buffer:.*", "Buffer:<base64>", line)
    line = re.sub(r"Content-Length: \d+", "Content-Length: N", line)
    return line.rstrip()


def assert_subsequence(expected: list[str], actual: list[str]) -> None:
    pos = 0
    for want in expected:
        w = normalise(want)
        while pos < len(actual) and normalise(actual[pos]) != w:
            pos += 1
        assert pos < len(actual), f"guide line not found in order: {want!r}"
        pos += 1


def example1(rig, name: str = "est-test101", alg: str = "ec-secp256r1") -> list[str]:
    return rig.generate(name, alg, rig.url, "CN=firewall-portal1,DC=local,DC=COM",
                        "DNS:firewall-portal1.local.ca,IP:172.18.60.184", "estuser", "estpwd", "G_CA_Cert_1")


def stored_cert(rig, name: str) -> x509.Certificate:
    return pki.load_cert(rig.cmdb.entry(LOCAL, name).get("certificate"))


# ------------------------------------------------------------------ Example 1
def test_example1_golden_trace(rig):
    assert example1(rig) == ["Done."]
    expected = example1_success_lines()
    assert len(expected) == 56
    assert_subsequence(expected, rig.lines)
    # the est_ctx dump as the guide prints it (tabs)
    start = rig.lines.index("est_ctx:\tis_global:1")
    assert rig.lines[start + 1:start + 5] == ["\tvfid:0", "\tsvr_original_url:" + rig.url,
                                              "\tsvr_hostinfo:Exists", "\tca_identifier:(null)"]
    assert "\tsubject:CN=firewall-portal1,DC=local,DC=COM" in rig.lines
    assert "\tec_curvename:secp256r1" in rig.lines
    assert rig.lines[-1] == "[592] est_ctx_clear_tmp_data: trace"
    # the stored entry and its settings
    entry = rig.cmdb.entry(LOCAL, "est-test101")
    assert entry.get("enroll-protocol") == "est" and entry.get("est-server") == rig.url
    assert entry.get("est-http-username") == "estuser" and entry.get("est-http-password") == "estpwd"
    assert entry.get("est-ca-id") == "" and entry.get("est-server-cert") == ""
    key = pki.load_key(entry.get("private-key"), entry.get("password"))
    assert re.fullmatch(r"[0-9a-f]{62}", entry.get("password"))
    cert = stored_cert(rig, "est-test101")
    assert pki.cert_matches_key(cert, key)
    assert cert.subject.rfc4514_string() == "CN=firewall-portal1"
    # the lab CA was already trusted as G_CA_Cert_1: no duplicate import
    assert rig.cmdb.keys(CA) == ["G_CA_Cert_1"]


def test_stored_certificate_reads_with_openssl(rig, tmp_path):
    example1(rig)
    pem = tmp_path / "cert.pem"
    pem.write_text(rig.cmdb.entry(LOCAL, "est-test101").get("certificate"))
    out = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(pem)], capture_output=True,
                         text=True, check=True).stdout
    assert "Issuer: CN = estExampleCA" in out and "Subject: CN = firewall-portal1" in out
    # the private key decrypts with the stored password in openssl too
    key = tmp_path / "key.pem"
    entry = rig.cmdb.entry(LOCAL, "est-test101")
    key.write_text(entry.get("private-key"))
    subprocess.run(["openssl", "pkey", "-in", str(key), "-passin", f"pass:{entry.get('password')}", "-noout"],
                   check=True, capture_output=True)


def test_ca_certs_imported_when_new(make_rig, tmp_path):
    rig = make_rig()
    with rig.cmdb.transaction() as tx:  # trust only through option 9 under another name
        tx.delete(CA, "G_CA_Cert_1")
        tx.put(CA, "lab-root", {"ca": rig.responder.ca.cert_pem})
    rig.generate("c1", "ec-secp256r1", rig.url, "CN=c1", "", "estuser", "estpwd", "", "lab-root")
    assert "[151] __curl_ssl_ctx_finalizer: CA cert lab-root is loaded." in rig.lines
    assert rig.cmdb.keys(CA) == ["lab-root"]  # identical cert not imported twice
    assert rig.cmdb.entry(LOCAL, "c1").get("est-server-cert") == "lab-root"


# ------------------------------------------------------------------ algorithms
@pytest.mark.parametrize("alg", ["rsa-1024", "rsa-1536", "rsa-2048", "ec-secp256r1", "ec-secp384r1",
                                 "ec-secp521r1"])
def test_every_algorithm(rig, alg):
    assert rig.generate("c-" + alg, alg, rig.url, "CN=x", "", "estuser", "estpwd") == ["Done."]
    entry = rig.cmdb.entry(LOCAL, "c-" + alg)
    key = pki.load_key(entry.get("private-key"), entry.get("password"))
    algo = pki.ALGORITHMS[alg]
    if algo.curve:
        assert key.curve.name == algo.curve
        assert f"\tec_curvename:{algo.curve}" in rig.lines and "\trsa_keysize:0" in rig.lines
    else:
        assert key.key_size == algo.rsa_bits
        assert f"\trsa_keysize:{algo.rsa_bits}" in rig.lines
    assert pki.cert_matches_key(stored_cert(rig, "c-" + alg), key)


@pytest.mark.slow  # about 1 s: RSA-4096 key generation
def test_rsa_4096_with_key_password(rig):
    rig.generate("big", "rsa-4096", rig.url, "CN=big", "", "estuser", "estpwd", "", "", "s3cret")
    entry = rig.cmdb.entry(LOCAL, "big")
    assert entry.get("password") == "s3cret"
    assert pki.load_key(entry.get("private-key"), "s3cret").key_size == 4096
    assert "\tpasswd:s3cret" in rig.lines


# ------------------------------------------------------------------ authentication
def test_digest_auth(make_rig):
    rig = make_rig(auth="digest")
    assert rig.generate("d", "ec-secp256r1", rig.url, "CN=d", "", "estuser", "estpwd") == ["Done."]
    assert any(l.startswith("[1651] curl_header_debug_func: Header received:HTTP/1.1 401") for l in rig.lines)
    assert any("WWW-Authenticate: Digest" in l for l in rig.lines)


def test_wrong_password_fails_cleanly(rig):
    before = rig.cmdb.snapshot()
    with pytest.raises(errors.EstError) as info:
        rig.generate("w", "ec-secp256r1", rig.url, "CN=w", "", "estuser", "wrong")
    assert "HTTP error 401" in info.value.output()[0]
    assert info.value.output()[-1] == "Command fail. Return code -1"
    assert rig.lines[-2] == "[2408] est_simple_enroll: POST ret:-1"
    assert rig.cmdb.snapshot() == before


def test_client_certificate_auth(rig):
    rig.generate("first", "ec-secp256r1", rig.url, "CN=first", "", "estuser", "estpwd")
    rig.lines.clear()
    assert rig.generate("second", "ec-secp256r1", rig.url, "CN=second", "", "", "", "", "", "", "first") == ["Done."]
    assert "[2014] __est_curl_set_auth: Will use cert first to prove my identity" in rig.lines
    assert "[2046] __est_curl_set_auth: HTTP Authentication username is set" not in rig.lines
    assert rig.cmdb.entry(LOCAL, "second").get("est-client-cert") == "first"


def test_srp_against_lab(make_rig):
    rig = make_rig(trust=False)  # SRP authenticates the server: no CA needed
    assert rig.generate("s", "ec-secp256r1", rig.url, "CN=s", "", "", "", "", "", "", "", "",
                        "srpuser", "srppwd") == ["Done."]
    assert "[2031] __est_curl_set_auth: TLS-SRP username is set" in rig.lines
    entry = rig.cmdb.entry(LOCAL, "s")
    assert entry.get("est-srp-username") == "srpuser" and entry.get("est-srp-password") == "srppwd"
    assert rig.cmdb.keys(CA) == ["G_CA_Cert_1"]  # the lab root came with cacerts


def test_srp_wrong_password(make_rig):
    rig = make_rig(trust=False)
    with pytest.raises(errors.EstError) as info:
        rig.generate("s", "ec-secp256r1", rig.url, "CN=s", "", "", "", "", "", "", "", "", "srpuser", "nope")
    assert info.value.lines[0].endswith("TLS-SRP handshake failed: remote alert bad_record_mac")
    assert any(l.startswith("[1795] est_curl_req: Error buf: TLS-SRP handshake failed") for l in rig.lines)
    assert rig.cmdb.keys(LOCAL) == []


def test_ca_label(rig):
    rig.generate("l", "ec-secp256r1", rig.url, "CN=l", "", "estuser", "estpwd", "myca")
    assert f"[1728] est_curl_req: URL: {rig.url}/.well-known/est/myca/cacerts" in rig.lines
    assert f"[1728] est_curl_req: URL: {rig.url}/.well-known/est/myca/simpleenroll" in rig.lines
    assert "\tca_identifier:myca" in rig.lines
    assert rig.cmdb.entry(LOCAL, "l").get("est-ca-id") == "myca"


def test_source_ip(rig):
    rig.generate("src", "ec-secp256r1", rig.url, "CN=src", "", "estuser", "estpwd", "", "", "", "", "127.0.0.1")
    assert "\tsource_ip:127.0.0.1" in rig.lines
    assert rig.cmdb.entry(LOCAL, "src").get("source-ip") == "127.0.0.1"


def test_source_ip_not_on_this_host(rig):
    with pytest.raises(errors.EstError) as info:
        rig.generate("src", "ec-secp256r1", rig.url, "CN=src", "", "estuser", "estpwd", "", "", "", "",
                     "192.0.2.77")
    assert "bind failed" in info.value.lines[0] or "Cannot assign" in info.value.lines[0]
    assert rig.cmdb.keys(LOCAL) == []


def test_proof_of_possession(make_rig):
    rig = make_rig(require_pop=True, csrattrs_b64="MAsGCSqGSIb3DQEJBw==")  # challengePassword
    assert rig.generate("pop", "ec-secp256r1", rig.url, "CN=pop", "", "estuser", "estpwd") == ["Done."]
    assert "\tneed_pop:1" in rig.lines
    assert "[1474] decode_csrattrs_callback: Object: 1.2.840.113549.1.9.7 challengePassword" in rig.lines


# ------------------------------------------------------------------ failures
def test_untrusted_ca(make_rig):
    rig = make_rig(trust=False)
    before = rig.cmdb.snapshot()
    with pytest.raises(errors.EstError) as info:
        example1(rig)
    assert rig.lines[-3:] == [
        "[1795] est_curl_req: Error buf: SSL certificate problem: self-signed certificate in certificate chain,",
        "[2402] est_simple_enroll: Failed to get ca certs: -1.",
        "[592] est_ctx_clear_tmp_data: trace",
    ]
    assert info.value.output() == [
        "EST enrollment of certificate 'est-test101' failed: SSL certificate problem: self-signed "
        "certificate in certificate chain", "Command fail. Return code -1"]
    assert rig.cmdb.snapshot() == before


def test_connection_refused(rig):
    rig.responder.stop()
    with pytest.raises(errors.EstError) as info:
        example1(rig)
    assert "Connection refused" in info.value.lines[0]


def test_retry_after_202(rig):
    rig.responder.faults.set(retry_after=(2, 3))
    assert rig.generate("r", "ec-secp256r1", rig.url, "CN=r", "", "estuser", "estpwd") == ["Done."]
    assert rig.sleeps == [3.0, 3.0]
    assert sum(l.startswith("[1753] est_curl_req: HTTP POST") for l in rig.lines) == 3


def test_retry_after_gives_up(rig):
    rig.responder.faults.set(retry_after=(10, 1))
    before = rig.cmdb.snapshot()
    with pytest.raises(errors.EstError) as info:
        rig.generate("r", "ec-secp256r1", rig.url, "CN=r", "", "estuser", "estpwd")
    assert "still pending" in info.value.lines[0]
    assert len(rig.sleeps) == 3
    assert rig.cmdb.snapshot() == before


FAULTS = [
    ({"reject_auth": True}, "HTTP error 401"),
    ({"status_500": True}, "HTTP error 500"),
    ({"truncate_body": True}, ""),
    ({"garbage_base64": True}, "base64"),
    ({"wrong_content_type": True}, "Content-Type"),
    ({"drop_connection": True}, "Empty reply"),
    ({"wrong_key_cert": True}, "does not match the private key"),
    ({"foreign_ca_cert": True}, "does not chain"),
    ({"tls_failure": True}, "SSL"),
    ({"status_500": True, "endpoints": ("cacerts",)}, "HTTP error 500"),
    ({"wrong_content_type": True, "endpoints": ("csrattrs",)}, "Content-Type"),
]


@pytest.mark.parametrize("knobs,reason", FAULTS, ids=[",".join(f[0]) + str(i) for i, f in enumerate(FAULTS)])
def test_fault_knobs_leave_cmdb_unchanged(rig, knobs, reason):
    rig.generate("keep", "ec-secp256r1", rig.url, "CN=keep", "", "estuser", "estpwd")
    before = rig.cmdb.snapshot()
    rig.responder.faults.set(**knobs)
    with pytest.raises(errors.EstError) as info:
        rig.generate("new", "ec-secp256r1", rig.url, "CN=new", "", "estuser", "estpwd")
    assert reason in info.value.lines[0]
    assert rig.cmdb.snapshot() == before
    assert rig.lines[-1] == "[592] est_ctx_clear_tmp_data: trace"


def test_delay_beyond_timeout(rig):
    rig.engine.timeout = 0.3
    rig.responder.faults.set(delay_seconds=1.0)
    with pytest.raises(errors.EstError) as info:
        rig.generate("slow", "ec-secp256r1", rig.url, "CN=slow", "", "estuser", "estpwd")
    assert "timed out" in info.value.lines[0]


def test_trace_off_prints_nothing_but_done(rig):
    rig.engine.tracer.enabled = False
    assert example1(rig) == ["Done."]
    assert rig.lines == []


# ------------------------------------------------------------------ re-enrollment (issue 5)
def test_regenerate_keeps_key_and_ski(rig):
    example1(rig)
    old = stored_cert(rig, "est-test101")
    rig.lines.clear()
    assert rig.engine.regenerate("est-test101") == ["Done."]
    new = stored_cert(rig, "est-test101")
    ski = x509.SubjectKeyIdentifier
    assert new.extensions.get_extension_for_class(ski) == old.extensions.get_extension_for_class(ski)
    assert new.serial_number != old.serial_number
    expected = [
        "[1024] reconstruct_est_ctx: Reconstruction succeeded",
        "[2453] est_simple_reenroll: Try to use est-test101 as client cert to authenticate",
        "[1962] __est_curl_set_auth: trace",
        "[2014] __est_curl_set_auth: Will use cert est-test101 to prove my identity",
        "[2274] __est_simple_reenroll: ============STARTED============",
        "[965] est_generate_csr_from_cert: Successfully generated CSR for est-test101",
        "[2200] __est_simple_post: Data to be posted:",
        f"[1728] est_curl_req: URL: {rig.url}/.well-known/est/simplereenroll",
        "[827] est_cmdb_update_cert: Cert est-test101 updated in CMDB",
        "[2477] est_simple_reenroll: POST ret:0",
    ]
    assert_subsequence(expected, rig.lines)
    assert "[2046] __est_curl_set_auth: HTTP Authentication username is set" not in rig.lines


def test_regenerate_failure_keeps_old_cert(rig):
    example1(rig)
    before = rig.cmdb.snapshot()
    rig.responder.faults.set(status_500=True)
    with pytest.raises(errors.EstError):
        rig.engine.renew("est-test101")
    assert rig.cmdb.snapshot() == before
