"""Clients nobody here wrote: curl (RFC 7030 appendix style), openssl, gnutls-cli (SRP),
and the ``lab-server`` command as a real subprocess.

A missing tool fails the test when the environment variable CI is set, and skips it otherwise.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from labkit import ROOT

from fortishell.lab.state import FIRST_SERIAL

EST = "/.well-known/est/"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is required in CI (install it in .ci/run)")
        pytest.skip(f"{tool} not installed")
    return path


def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, input=input, timeout=30, check=check)


@pytest.fixture()
def csr_files(tmp_path: Path):
    """openssl req: an EC P-256 key and CSR, the CSR as base64 DER (wrapped, as openssl base64 writes it)."""
    need("openssl")

    def make(cn: str, key: Path | None = None) -> tuple[Path, Path]:
        key_out = key or tmp_path / f"{cn}.key"
        der = tmp_path / f"{cn}.der"
        keyargs = ["-key", str(key)] if key else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                   "-keyout", str(key_out)]
        run("openssl", "req", "-new", *keyargs, "-nodes", "-subj", f"/CN={cn}/DC=local/DC=COM",
            "-outform", "DER", "-out", str(der))
        b64 = tmp_path / f"{cn}.b64"
        run("openssl", "base64", "-in", str(der), "-out", str(b64))
        return key_out, b64

    return make


def curl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(need("curl"), "-sS", "--http1.1", *args, check=check)


def p7_to_pem(tmp_path: Path, body: str, name: str = "out") -> Path:
    p7 = tmp_path / f"{name}.p7"
    p7.write_bytes(base64.b64decode("".join(body.split())))
    pem = tmp_path / f"{name}.pem"
    run("openssl", "pkcs7", "-inform", "DER", "-in", str(p7), "-print_certs", "-out", str(pem))
    return pem


# ------------------------------------------------------------------ curl
def test_curl_cacerts_and_csrattrs(responder, ca_file, tmp_path):
    r = curl("-i", "--cacert", str(ca_file), responder.url + EST + "csrattrs")
    assert r.stdout.replace("\r\n", "\n") == (
        "HTTP/1.1 200 OK\nStatus: 200 OK\nContent-Type: application/csrattrs\n"
        "Content-Transfer-Encoding: base64\nContent-Length: 57\n\n"
        "MCYGBysGAQEBARYGCSqGSIb3DQEJAQYFK4EEACIGCWCGSAFlAwQCAg==\n")
    body = curl("--cacert", str(ca_file), responder.url + EST + "cacerts").stdout
    text = run("openssl", "x509", "-in", str(p7_to_pem(tmp_path, body)), "-noout", "-text").stdout
    assert "Issuer: CN = estExampleCA" in text and "ab:e8:32:e1:f6:6a:6b:43" in text and "CA:TRUE" in text


def test_curl_without_the_lab_ca_fails(responder):
    r = curl(responder.url + EST + "cacerts", check=False)
    assert r.returncode == 60
    assert "self-signed certificate in certificate chain" in r.stderr


def test_curl_simpleenroll_and_openssl_checks(responder, ca_file, csr_files, tmp_path):
    _, b64 = csr_files("firewall-portal1")
    url = responder.url + EST + "simpleenroll"
    r = curl("-i", "--cacert", str(ca_file), "-u", "estuser:estpwd", "--data-binary", f"@{b64}",
             "-H", "Content-Type: application/pkcs10", url)
    head, _, body = r.stdout.replace("\r\n", "\n").partition("\n\n")
    assert head.split("\n") == ["HTTP/1.1 200 OK", "Status: 200 OK",
                                "Content-Type: application/pkcs7-mime; smime-type=certs-only",
                                "Content-Transfer-Encoding: base64", "Content-Length: 585"]
    text = run("openssl", "x509", "-in", str(p7_to_pem(tmp_path, body)), "-noout", "-text").stdout
    assert f"Serial Number: {FIRST_SERIAL} (0x74697)" in text
    assert "Subject: CN = firewall-portal1" in text
    assert "CA:FALSE" in text and "Digital Signature" in text
    assert "X509v3 Authority Key Identifier" in text and "1A:DF:39:84:C2:56:E6:6C" in text
    verify = run("openssl", "verify", "-CAfile", str(ca_file), "-attime", str(int(responder.clock.now().timestamp()) + 60),
                 str(tmp_path / "out.pem"))
    assert verify.stdout.strip().endswith("OK")


def test_curl_auth_outcomes(responder, ca_file, csr_files):
    _, b64 = csr_files("authcheck")
    url = responder.url + EST + "simpleenroll"
    common = ["--cacert", str(ca_file), "--data-binary", f"@{b64}", "-H", "Content-Type: application/pkcs10",
              "-o", "/dev/null", "-w", "%{http_code}"]
    assert curl(*common, url).stdout == "401"
    assert curl(*common, "-u", "estuser:wrong", url).stdout == "401"
    assert curl(*common, "-u", "estuser:estpwd", url).stdout == "200"
    # --anyauth: curl sends credentials only after the 401 challenge
    assert curl(*common, "--anyauth", "-u", "estuser:estpwd", url).stdout == "200"


def test_curl_digest(make_responder, ca_file, csr_files):
    r = make_responder(auth="digest")
    _, b64 = csr_files("digest")
    res = curl("--cacert", str(ca_file), "--digest", "-u", "estuser:estpwd", "--data-binary", f"@{b64}",
               "-H", "Content-Type: application/pkcs10", "-o", "/dev/null", "-w", "%{http_code}",
               r.url + EST + "arbitraryLabel1/simpleenroll")
    assert res.stdout == "200"


def test_curl_simplereenroll_with_client_cert(responder, ca_file, csr_files, tmp_path):
    key, b64 = csr_files("renewme")
    body = curl("--cacert", str(ca_file), "-u", "estuser:estpwd", "--data-binary", f"@{b64}",
                "-H", "Content-Type: application/pkcs10", responder.url + EST + "simpleenroll").stdout
    cert = p7_to_pem(tmp_path, body, "first")
    _, b64_again = csr_files("renewme", key=key)
    url = responder.url + EST + "simplereenroll"
    r = curl("--cacert", str(ca_file), "--cert", str(cert), "--key", str(key), "--data-binary", f"@{b64_again}",
             "-H", "Content-Type: application/pkcs10", url)
    text = run("openssl", "x509", "-in", str(p7_to_pem(tmp_path, r.stdout, "renewed")), "-noout", "-text").stdout
    assert f"Serial Number: {FIRST_SERIAL + 1} " in text
    no_cert = curl("--cacert", str(ca_file), "--data-binary", f"@{b64_again}", "-H",
                   "Content-Type: application/pkcs10", "-o", "/dev/null", "-w", "%{http_code}", url)
    assert no_cert.stdout == "403"


def test_curl_tls_srp(responder, csr_files):
    _, b64 = csr_files("srp-curl")
    # SRP authenticates the server by the shared secret; the server has no certificate then (hence -k)
    r = curl("-k", "--tlsauthtype", "SRP", "--tlsuser", "srpuser", "--tlspassword", "srppwd", "--data-binary",
             f"@{b64}", "-H", "Content-Type: application/pkcs10", "-o", "/dev/null", "-w", "%{http_code}",
             responder.url + EST + "simpleenroll", check=False)
    if "not support" in r.stderr.lower():
        pytest.skip("this curl build lacks TLS-SRP")
    assert r.stdout == "200", r.stderr


def test_gnutls_cli_srp(responder):
    gnutls = need("gnutls-cli")
    r = run(gnutls, "--srpusername", "srpuser", "--srppasswd", "srppwd", "--priority",
            "NORMAL:-KX-ALL:+SRP:-VERS-TLS1.3", "-p", str(responder.port), "127.0.0.1",
            input="GET /.well-known/est/csrattrs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", check=False)
    assert "(SRP)" in r.stdout
    assert "MCYGBysGAQEBARYGCSqGSIb3DQEJAQYFK4EEACIGCWCGSAFlAwQCAg==" in r.stdout


# ------------------------------------------------------------------ openssl s_client
def test_openssl_s_client_sees_the_chain(responder, ca_file):
    need("openssl")
    r = run("openssl", "s_client", "-connect", f"127.0.0.1:{responder.port}", "-servername", "testrfc7030.com",
            "-CAfile", str(ca_file), "-verify_hostname", "testrfc7030.com", "-showcerts", input="", check=False)
    assert "Verify return code: 0 (ok)" in r.stdout
    assert "i:CN = estExampleCA" in r.stdout and "s:CN = testrfc7030.com" in r.stdout
    assert "TLSv1.3" in r.stdout or "TLSv1.2" in r.stdout


# ------------------------------------------------------------------ lab-server subprocess
def test_lab_server_command(tmp_path, ca_file, csr_files):
    need("curl")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fortishell", "--state-dir", str(tmp_path / "st"), "lab-server", "--port", "0",
         "--retry-after", "1", "5", "--clock", "2023-04-06 22:37:34"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("EST lab responder listening on https://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[5]  # "EST lab responder listening on <url> ..."
        _, b64 = csr_files("cli")
        args = ["--cacert", str(ca_file), "-u", "estuser:estpwd", "--data-binary", f"@{b64}", "-H",
                "Content-Type: application/pkcs10", "-o", "/dev/null", "-w", "%{http_code}", url + EST + "simpleenroll"]
        assert curl(*args).stdout == "202"
        assert curl(*args).stdout == "200"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert (tmp_path / "st" / "est-lab" / "issued" / f"{FIRST_SERIAL}.pem").exists()


def test_lab_server_bad_port_reports_cleanly(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        r = subprocess.run([sys.executable, "-m", "fortishell.lab.cli", "--port", str(port), "--ephemeral"], capture_output=True,
                           text=True, env=env, timeout=30)
    assert r.returncode == 1
    assert r.stderr.startswith("fortishell lab-server: Cannot listen on 127.0.0.1:")
    assert "Traceback" not in r.stderr
