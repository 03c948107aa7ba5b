"""The lab responder's real-server body habits (issue 18), checked on the wire over real TLS with
independent clients (curl, a raw socket, pyasn1): what each knob sends, the admin endpoint, the
``lab-server`` flags."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from labkit import basic, client_context, csr_b64, enroll_headers, make_csr, raw_request
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1_modules import rfc2315

from fortishell.lab.cli import build_parser

EST = "/.well-known/est/"
REFERENCE_CSRATTRS = b"MCYGBysGAQEBARYGCSqGSIb3DQEJAQYFK4EEACIGCWCGSAFlAwQCAg==\x00"


def curl(responder, ca_file: Path, path: str, *extra: str) -> tuple[str, bytes]:
    """(response head, raw body) fetched by curl over TLS (``--raw``: transfer coding kept)."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    port = responder.port
    proc = subprocess.run(
        ["curl", "-sS", "--raw", "--max-time", "20", "--cacert", str(ca_file), "--resolve",
         f"testrfc7030.com:{port}:127.0.0.1", "-D", "-", *extra, f"https://testrfc7030.com:{port}{path}"],
        capture_output=True, timeout=30, check=True)
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


def test_nul_terminated_csrattrs_is_the_reference_servers_body(responder, lab_ca):
    responder.faults.set(nul_terminated=True)
    r = raw_request(responder.port, client_context(lab_ca), "GET", EST + "csrattrs")
    assert r.body == REFERENCE_CSRATTRS and r.header("Content-Length") == "57"
    cacerts = raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts")
    assert cacerts.body.endswith(b"\x00") and b"\n\x00" not in cacerts.body


@pytest.mark.parametrize("width", [64, 76, 13])
def test_crlf_wrapped_base64(responder, lab_ca, width):
    responder.faults.set(wrap_columns=width)
    r = raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts")
    lines = r.body.split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) == width for line in lines[:-2]) and 0 < len(lines[-2]) <= width
    assert b"\n" not in r.body.replace(b"\r\n", b"")
    assert base64.b64decode(b"".join(lines)) == serialization_der(lab_ca)


def serialization_der(lab_ca) -> bytes:
    from cryptography.hazmat.primitives.serialization import pkcs7

    return pkcs7.serialize_certificates([lab_ca.cert], serialization.Encoding.DER)


def test_pem_armour_and_no_transfer_encoding(responder, lab_ca):
    responder.faults.set(pem_armour=True, no_transfer_encoding=True)
    r = raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts")
    assert r.body.startswith(b"-----BEGIN PKCS7-----\n") and r.body.endswith(b"-----END PKCS7-----\n")
    assert r.header("Content-Transfer-Encoding") is None
    assert r.header("Content-Length") == str(len(r.body))


@pytest.mark.parametrize("knob,cacerts_type,enroll_type", [
    ("", "application/pkcs7-mime", "application/pkcs7-mime; smime-type=certs-only"),
    ("bare", "application/pkcs7-mime", "application/pkcs7-mime"),
    ("certs-only", "application/pkcs7-mime; smime-type=certs-only", "application/pkcs7-mime; smime-type=certs-only"),
])
def test_pkcs7_content_type(responder, lab_ca, knob, cacerts_type, enroll_type):
    responder.faults.set(pkcs7_type=knob)
    assert raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts").header(
        "Content-Type") == cacerts_type
    _, csr = make_csr()
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll", body=csr_b64(csr),
                    headers=enroll_headers(basic()))
    assert r.status == 200 and r.header("Content-Type") == enroll_type


def test_chain_order_enroll_reply_is_leaf_then_ca_not_der_set_order(responder, lab_ca):
    responder.faults.set(chain_order=True)
    _, csr = make_csr()
    r = raw_request(responder.port, client_context(lab_ca), "POST", EST + "simpleenroll", body=csr_b64(csr),
                    headers=enroll_headers(basic()))
    info, _ = ber_decoder.decode(base64.b64decode(b"".join(r.body.split())), asn1Spec=rfc2315.ContentInfo())
    signed, _ = ber_decoder.decode(bytes(info["content"]), asn1Spec=rfc2315.SignedData())
    ders = [bytes(der_encoder.encode(c["certificate"])) for c in signed["certificates"]]
    assert ders[1] == lab_ca.cert.public_bytes(serialization.Encoding.DER)  # leaf first, then its CA
    assert ders != sorted(ders)  # not the order a DER SET OF would have


def test_chunked_reply_read_by_curl(responder, lab_ca, ca_file):
    responder.faults.set(chunked=True)
    head, raw = curl(responder, ca_file, EST + "cacerts")
    assert "Transfer-Encoding: chunked" in head and "Content-Length" not in head
    sizes = [int(line, 16) for line in raw.split(b"\r\n")[::2] if line.strip()]
    assert len(sizes) == 4 and sizes[-1] == 0  # three data chunks, then the last chunk


def test_http10_reply_read_by_curl(responder, lab_ca, ca_file):
    responder.faults.set(http10=True)
    head, body = curl(responder, ca_file, EST + "csrattrs")
    assert head.startswith("HTTP/1.0 200 OK\r\n") and "Connection: close" in head
    assert body.startswith(b"MCYG")


def test_connection_close_closes_after_the_reply(responder, lab_ca):
    responder.faults.set(connection_close=True)
    ctx = client_context(lab_ca)
    import socket

    with socket.create_connection(("127.0.0.1", responder.port), timeout=10) as tcp:
        with ctx.wrap_socket(tcp, server_hostname="testrfc7030.com") as tls:
            tls.sendall(b"GET /.well-known/est/csrattrs HTTP/1.1\r\nHost: testrfc7030.com\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    assert b"\r\nConnection: close\r\n" in data and data.endswith(b"Ag==\n")  # then end of stream


def test_rfc7030_csrattrs_example(responder, lab_ca):
    responder.faults.set(csrattrs_example=True)
    r = raw_request(responder.port, client_context(lab_ca), "GET", EST + "csrattrs")
    assert b"".join(r.body.split()) == (b"MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEB"
                                        b"AQEWBggqhkjOPQQDAw==")


def test_habits_through_the_admin_endpoint(responder, lab_ca):
    body = json.dumps({"wrap_columns": 76, "pkcs7_type": "bare", "chunked": True}).encode()
    r = raw_request(responder.port, client_context(lab_ca), "POST", "/.lab/faults", body=body)
    assert r.status == 200 and json.loads(r.body)["wrap_columns"] == 76
    assert responder.faults.snapshot().pkcs7_type == "bare"
    for bad in ({"wrap_columns": 2}, {"wrap_columns": True}, {"pkcs7_type": "smime"}):
        refused = raw_request(responder.port, client_context(lab_ca), "POST", "/.lab/faults",
                              body=json.dumps(bad).encode())
        assert refused.status == 400, bad
    assert responder.faults.snapshot().wrap_columns == 76


def test_lab_server_help_and_flags():
    parser = build_parser()
    text = " ".join(parser.format_help().split())
    for flag in ("--nul-terminated", "--wrap-columns N", "--pem-armour", "--no-transfer-encoding", "--chain-order",
                 "--chunked", "--http10", "--connection-close", "--csrattrs-example", "--pkcs7-type"):
        assert flag in text, flag
    assert "RFC 7030 section 4.5.2 example" in text
    args = parser.parse_args(["--wrap-columns", "76", "--http10", "--pkcs7-type", "certs-only"])
    from fortishell.lab.cli import habit_knobs

    assert habit_knobs(args) == {"http10": True, "wrap_columns": 76, "pkcs7_type": "certs-only"}
    with pytest.raises(SystemExit):
        parser.parse_args(["--wrap-columns", "2"])


def test_lab_server_binary_help_lists_the_habits():
    import sys

    exe = Path(sys.executable).parent / "fortishell"
    if not exe.exists():
        pytest.fail(f"the fortishell command is not installed next to {sys.executable}")
    proc = subprocess.run([str(exe), "lab-server", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "--chunked habit: send replies in chunked transfer encoding, without Content-Length (default: off)" in text
    assert "--wrap-columns N habit: base64 bodies in lines of N columns (4-1024) ending CRLF" in text


def test_lab_server_binary_serves_the_flagged_habits(tmp_path):
    """``fortishell lab-server --nul-terminated --http10``: the start-up line names the habits and
    curl gets the reference server's NUL-terminated /csrattrs in an HTTP/1.0 reply."""
    import re
    import signal
    import sys

    from fortishell.lab.ca import LabCA

    exe = Path(sys.executable).parent / "fortishell"
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(LabCA.shipped().cert_pem)
    proc = subprocess.Popen([str(exe), "lab-server", "--port", "0", "--ephemeral", "--quiet", "--nul-terminated", "--http10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        listening, faults = proc.stdout.readline(), proc.stdout.readline()
        port = int(re.search(r"https://127\.0\.0\.1:(\d+)", listening).group(1))
        assert faults.startswith("faults: nul-terminated, http10 (on every EST operation)"), faults
        got = subprocess.run(
            ["curl", "-sS", "--max-time", "20", "--cacert", str(ca_file), "--resolve",
             f"testrfc7030.com:{port}:127.0.0.1", "-D", "-", f"https://testrfc7030.com:{port}{EST}csrattrs"],
            capture_output=True, timeout=30, check=True).stdout
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200 OK\r\n") and b"Content-Length: 57" in head
        assert body == REFERENCE_CSRATTRS
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - reported by the assertion below
            proc.kill()
            pytest.fail("lab-server did not stop on SIGINT")
    assert proc.returncode == 0
