"""Helpers for the lab responder tests: CSRs, a raw HTTPS client, PEM files."""


from __future__ import annotations

import base64
import datetime as dt
import socket
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fortishell.lab.ca import LabCA  # noqa: E402

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)


def make_csr(cn: str = "firewall-portal1", *, key=None, extra_subject=(), challenge: bytes | None = None):
    """(key, csr) with EC P-256; subject CN + extras; optional challengePassword."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn), *extra_subject]
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    if challenge is not None:
        b = b.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, challenge)
    return key, b.sign(key, hashes.SHA256())


def csr_b64(csr, wrap: int | None = 64) -> bytes:
    text = base64.b64encode(csr.public_bytes(serialization.Encoding.DER))
    if not wrap:
        return text
    return b"\n".join(text[i : i + wrap] for i in range(0, len(text), wrap)) + b"\n"


def client_context(lab_ca: LabCA, *, cert: tuple[Path, Path] | None = None, tls12: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=lab_ca.cert_pem)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


@dataclass
class RawReply:
    raw_head: bytes
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def read_reply(sock) -> RawReply:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(part.strip() if i else part for i, part in enumerate(l.split(":", 1))) for l in lines[1:]]
    headers = [(k, v.lstrip()) for k, v in headers]
    length = int(dict((k.lower(), v) for k, v in headers).get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawReply(head + b"\r\n\r\n", int(lines[0].split()[1]), headers, body)


def raw_request(
    port: int,
    ctx: ssl.SSLContext,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    server_hostname: str = "testrfc7030.com",
    before_send=None,
) -> RawReply:
    """One HTTP/1.1 request over a fresh TLS connection (raw bytes, nothing added)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as tcp:
        with ctx.wrap_socket(tcp, server_hostname=server_hostname) as tls:
            hdrs = {"Host": f"{server_hostname}:{port}", **(headers or {})}
            if body or method == "POST":
                hdrs.setdefault("Content-Length", str(len(body)))
            if before_send is not None:
                body, hdrs = before_send(tls, body, hdrs)
            head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
            tls.sendall(head.encode() + body)
            return read_reply(tls)


def basic(user: str = "estuser", pwd: str = "estpwd") -> str:
    return "Basic " + base64.b64encode(f"{user}:{pwd}".encode()).decode()


def enroll_headers(auth: str | None = None) -> dict[str, str]:
    h = {"Content-Type": "application/pkcs10"}
    if auth:
        h["Authorization"] = auth
    return h


def certs_from_reply(body: bytes) -> list[x509.Certificate]:
    from cryptography.hazmat.primitives.serialization import pkcs7

    return pkcs7.load_der_pkcs7_certificates(base64.b64decode(b"".join(body.split())))


def write_pem(path: Path, cert: x509.Certificate | None = None, key=None) -> Path:
    if cert is not None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    return path


