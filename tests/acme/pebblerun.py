"""Run pebble (the Let's Encrypt test ACME server, Debian package ``pebble``) on loopback.

``Pebble(workdir, http_port).start()``: a TLS root and a server certificate for
127.0.0.1 / localhost made here (pebble ships none), ``pebble-challtestsrv`` as
its DNS (every name -> 127.0.0.1), pebble validating http-01 on ``http_port``
(the device's challenge responder), ``PEBBLE_VA_NOSLEEP=1``.  Pebble's own
ports are taken from the OS (bind port 0, then released for pebble: pebble
cannot be told to bind port 0 and report it); a start that loses that race is
retried with other ports.  Used by tests/acme and bench/acme_order.py.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

AVAILABLE = bool(shutil.which("pebble") and shutil.which("pebble-challtestsrv"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tls_material(workdir: Path) -> tuple[str, Path, Path]:
    """(root PEM, server cert path, server key path)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble test root")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = workdir / "pebble.pem", workdir / "pebble.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM).decode("ascii"), cert_path, key_path


class Pebble:
    def __init__(self, workdir: Path, http_port: int, *, nonce_reject: int = 0,
                 eab_keys: dict[str, str] | None = None) -> None:
        """``eab_keys``: External Account Binding required, with these key ids -> base64url MAC keys."""
        self.workdir, self.http_port, self.nonce_reject = Path(workdir), http_port, nonce_reject
        self.eab_keys = dict(eab_keys or {})
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root_pem, self._cert, self._key = _tls_material(self.workdir)
        self.root_path = self.workdir / "root.pem"
        self.root_path.write_text(self.root_pem)
        self._procs: list[subprocess.Popen[bytes]] = []
        self.port = 0

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def start(self, attempts: int = 3) -> "Pebble":
        for _ in range(attempts):
            try:
                self._start_once()
                return self
            except RuntimeError:
                self.stop()
        raise RuntimeError(f"pebble did not start; see {self.workdir}/*.log")

    def _start_once(self) -> None:
        dns, mgmt, chall_mgmt = _free_udp_port(), _free_port(), _free_port()
        self.port = _free_port()
        cfg = {"pebble": {"listenAddress": f"127.0.0.1:{self.port}", "managementListenAddress": f"127.0.0.1:{mgmt}",
                          "certificate": str(self._cert), "privateKey": str(self._key),
                          "httpPort": self.http_port, "tlsPort": _free_port(), "ocspResponderURL": "",
                          "externalAccountBindingRequired": bool(self.eab_keys),
                          "externalAccountMACKeys": self.eab_keys}}
        (self.workdir / "pebble.json").write_text(json.dumps(cfg))
        chall_log = open(self.workdir / "challtestsrv.log", "wb")  # noqa: SIM115 - closed with the process
        self._procs.append(subprocess.Popen(
            ["pebble-challtestsrv", "-http01", "", "-https01", "", "-tlsalpn01", "", "-dns01", f"127.0.0.1:{dns}",
             "-management", f"127.0.0.1:{chall_mgmt}", "-defaultIPv6", "", "-defaultIPv4", "127.0.0.1"],
            stdout=chall_log, stderr=subprocess.STDOUT))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT=str(self.nonce_reject),
                   PEBBLE_AUTHZREUSE="0")
        log = open(self.workdir / "pebble.log", "wb")  # noqa: SIM115
        self._procs.append(subprocess.Popen(
            ["pebble", "-config", str(self.workdir / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns}",
             "-strict=false"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir))
        ctx = ssl.create_default_context(cadata=self.root_pem)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self._procs):
                raise RuntimeError("pebble or pebble-challtestsrv exited")
            try:
                with urllib.request.urlopen(self.directory, context=ctx, timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("pebble did not answer")

    def stop(self) -> None:
        for proc in reversed(self._procs):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self._procs.clear()
