"""The lab certificate authority: root ``CN=estExampleCA`` and what it signs.

Owns the lab root CA (shipped fixed test material under ``lab/material/`` or a
fresh one), the responder's TLS server certificate, and issuing end-entity
certificates from CSRs the way the reference EST test server does (guide,
Example 1): subject reduced to the CSR's CN (and serialNumber), CA:FALSE, Key
Usage Digital Signature, SKI from the CSR key, AKI = the CA's SKI, 365 days.

``python -m fortishell.lab.ca --regenerate`` rewrites the shipped material.
Nothing here touches the network.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..errors import LabError
from .compat import printable_name_attribute

MATERIAL = Path(__file__).resolve().parent / "material"
UTC = _dt.timezone.utc

# The guide prints the reference root with this serial and Subject Key Identifier;
# the shipped lab root carries the same values so transcripts match the guide.
GUIDE_CA_SERIAL = 0xABE832E1F66A6B43
GUIDE_CA_SKI = bytes.fromhex("1ADF3984C256E66CCF2AB426A5FD0CD243F53D3E")
CA_NOT_BEFORE = _dt.datetime(2015, 1, 1, tzinfo=UTC)
CA_NOT_AFTER = _dt.datetime(2045, 12, 31, 23, 59, 59, tzinfo=UTC)
SERVER_SANS = ("testrfc7030.com", "localhost", "127.0.0.1")
ISSUED_DAYS = 365
# ECDSA P-256 signatures are 70..72 bytes of DER; the reference responses (the
# guide's Content-Length: 585) have the 70-byte form.  Re-signing (fresh random
# nonce) until that length makes response sizes stable and guide-identical.
_SIG_LEN = 70
_SIG_TRIES = 64

_PRINTABLE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?")


class CsrRejected(LabError):
    """A CSR the CA will not sign (malformed, bad signature, no usable subject)."""


def _name_attr(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    """PrintableString where the value allows it (as the reference CA encodes), else UTF8String."""
    if value and set(value) <= _PRINTABLE:
        return printable_name_attribute(oid, value)
    return x509.NameAttribute(oid, value)


def _sign(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    cert = builder.sign(key, hashes.SHA256())
    for _ in range(_SIG_TRIES):
        if len(cert.signature) == _SIG_LEN:
            break
        cert = builder.sign(key, hashes.SHA256())
    return cert


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


@dataclass
class LabCA:
    """The lab root CA and the TLS server certificate it issued for the responder."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    server_cert: x509.Certificate
    server_key: ec.EllipticCurvePrivateKey

    # ------------------------------------------------------------ construction
    @classmethod
    def shipped(cls, directory: Path = MATERIAL) -> "LabCA":
        """The fixed lab test material shipped in ``lab/material/`` (never a secret)."""
        try:
            return cls.load(directory)
        except (OSError, ValueError) as exc:
            raise LabError(f"Lab CA material is missing or damaged in {directory}: {exc}") from None

    @classmethod
    def load(cls, directory: Path) -> "LabCA":
        def read(name: str) -> bytes:
            return (directory / name).read_bytes()

        ca_key = serialization.load_pem_private_key(read("ca.key"), None)
        srv_key = serialization.load_pem_private_key(read("server.key"), None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey) or not isinstance(srv_key, ec.EllipticCurvePrivateKey):
            raise ValueError("lab keys must be EC keys")
        return cls(
            cert=x509.load_pem_x509_certificate(read("ca.pem")),
            key=ca_key,
            server_cert=x509.load_pem_x509_certificate(read("server.pem")),
            server_key=srv_key,
        )

    @classmethod
    def new(cls, *, guide_ids: bool = False, common_name: str = "estExampleCA") -> "LabCA":
        """A fresh root (``--new-ca``).  ``guide_ids`` makes it the guide's reference root:
        the guide's serial and SKI, and Basic Constraints CA:TRUE *not* marked critical
        (the guide prints ``X509v3 Basic Constraints:`` without ``critical`` for it).
        Other fresh roots mark it critical, as RFC 5280 asks of a CA certificate.
        ``common_name``: the other roots of the PKI topology knobs (``lab/topology.py``)."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([_name_attr(NameOID.COMMON_NAME, common_name)])
        ski = (
            x509.SubjectKeyIdentifier(GUIDE_CA_SKI)
            if guide_ids
            else x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(GUIDE_CA_SERIAL if guide_ids else x509.random_serial_number())
            .not_valid_before(CA_NOT_BEFORE)
            .not_valid_after(CA_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=not guide_ids)
            .add_extension(ski, critical=False)
        )
        ca_cert = _sign(builder, key)
        srv_key = ec.generate_private_key(ec.SECP256R1())
        ca = cls(cert=ca_cert, key=key, server_cert=ca_cert, server_key=srv_key)
        ca.server_cert = ca._server_certificate(srv_key)
        return ca

    def subordinate(self, common_name: str) -> "LabCA":
        """An issuing intermediate CA signed by this CA (pathlen 0, keyCertSign + cRLSign); it
        shares this CA's TLS server certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([_name_attr(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(CA_NOT_BEFORE)
            .not_valid_after(CA_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(self._aki(), critical=False)
        )
        return LabCA(cert=_sign(builder, self.key), key=key, server_cert=self.server_cert, server_key=self.server_key)

    def twin(self) -> x509.Certificate:
        """Another self-signed certificate of this root: same name, same key, another serial (each
        of the two names the other as its issuer and verifies with its key)."""
        builder = (
            x509.CertificateBuilder()
            .subject_name(self.cert.subject)
            .issuer_name(self.cert.subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.cert.not_valid_before_utc)
            .not_valid_after(self.cert.not_valid_after_utc)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier(self.ski), critical=False)
        )
        return _sign(builder, self.key)

    def save(self, directory: Path) -> None:
        """Write ca.pem, ca.key, server.pem, server.key (keys mode 0600)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.pem").write_text(self.cert_pem)
        (directory / "server.pem").write_text(self.server_cert_pem)
        for name, text in (("ca.key", _key_pem(self.key)), ("server.key", self.server_key_pem)):
            path = directory / name
            path.write_text(text)
            path.chmod(0o600)

    def _server_certificate(self, srv_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        sans: list[x509.GeneralName] = [x509.DNSName(h) for h in SERVER_SANS if not h[0].isdigit()]
        import ipaddress

        sans += [x509.IPAddress(ipaddress.ip_address(h)) for h in SERVER_SANS if h[0].isdigit()]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([_name_attr(NameOID.COMMON_NAME, SERVER_SANS[0])]))
            .issuer_name(self.cert.subject)
            .public_key(srv_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(CA_NOT_BEFORE)
            .not_valid_after(CA_NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
            .add_extension(
                x509.KeyUsage(True, False, False, False, True, False, False, False, False), critical=True
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(srv_key.public_key()), critical=False)
            .add_extension(self._aki(), critical=False)
        )
        return _sign(builder, self.key)

    # ------------------------------------------------------------ accessors
    @property
    def cert_pem(self) -> str:
        return _pem(self.cert)

    @property
    def server_cert_pem(self) -> str:
        return _pem(self.server_cert)

    @property
    def server_key_pem(self) -> str:
        return _key_pem(self.server_key)

    @property
    def ski(self) -> bytes:
        return self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

    def _aki(self) -> x509.AuthorityKeyIdentifier:
        return x509.AuthorityKeyIdentifier(self.ski, None, None)

    def chains_to_me(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` was signed by this CA's key."""
        try:
            cert.verify_directly_issued_by(self.cert)
        except (InvalidSignature, ValueError, TypeError):
            # wrong signature; issuer name not this CA's subject; a signature or key type that cannot match
            return False
        return True

    # ------------------------------------------------------------ issuing
    def issue(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        now: _dt.datetime,
        serial: int,
        public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None = None,
    ) -> x509.Certificate:
        """Sign ``csr`` as the reference responder does.  ``public_key`` overrides the
        CSR's key (the ``wrong_key_cert`` fault and ``/serverkeygen`` use it).  Raises :class:`CsrRejected`."""
        builder = leaf_builder(csr, issuer=self.cert, now=now, serial=serial, public_key=public_key)
        return _sign(builder, self.key)


def leaf_builder(
    csr: x509.CertificateSigningRequest,
    *,
    issuer: x509.Certificate,
    now: _dt.datetime,
    serial: int,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | None = None,
) -> x509.CertificateBuilder:
    """The lab's end-entity profile (module note) for ``csr``, issued by ``issuer`` (unsigned:
    the lab root signs it, or the SCEP responder's RSA issuing CA).  Raises :class:`CsrRejected`."""
    if not csr.is_signature_valid:
        raise CsrRejected("CSR signature is not valid")
    kept = [
        _name_attr(a.oid, str(a.value))
        for a in csr.subject
        if a.oid in (NameOID.COMMON_NAME, NameOID.SERIAL_NUMBER)
    ]
    if not any(a.oid == NameOID.COMMON_NAME for a in kept):
        raise CsrRejected("CSR subject has no CN")
    try:
        key = public_key or csr.public_key()
    except ValueError as exc:
        raise CsrRejected(f"unsupported CSR key: {exc}") from None
    now = now.astimezone(UTC).replace(microsecond=0)
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name(kept))
        .issuer_name(issuer.subject)
        .public_key(key)
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + _dt.timedelta(days=ISSUED_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(ski, None, None), critical=False)
    )


def regenerate(directory: Path = MATERIAL) -> LabCA:
    """Make the shipped material anew (guide serial and SKI) and write it to ``directory``."""
    ca = LabCA.new(guide_ids=True)
    ca.save(directory)
    (directory / "README").write_text(
        "Fixed lab TEST material for the fortishell EST lab responder (CN=estExampleCA).\n"
        "The private keys here are public and protect nothing; never use them outside the lab.\n"
        "Regenerate with: python -m fortishell.lab.ca --regenerate\n"
    )
    return ca


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fortishell.lab.ca")
    parser.add_argument("--regenerate", action="store_true", help="rewrite the shipped lab material")
    parser.add_argument("--dir", type=Path, default=MATERIAL)
    args = parser.parse_args(argv)
    if not args.regenerate:
        print(LabCA.shipped(args.dir).cert_pem, end="")
        return 0
    ca = regenerate(args.dir)
    print(f"lab CA written to {args.dir} (serial {ca.cert.serial_number:x})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
