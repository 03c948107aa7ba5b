"""A certificate signed by one of the device's own CA certificates (``Fortinet_CA_SSL``).

What ``POST monitor/vpn-certificate/local/create`` makes ("a new certificate signed by
Fortinet_CA_SSL", 7.6 API description).  The description says nothing more; our choices: an
RSA-2048 key, the subject ``CN=<common name>`` alone, the issuer's name as issuer, valid from the
device clock for :data:`VALIDITY_DAYS` (never past the issuer's own end), a server
certificate's extensions as the factory ``Fortinet_SSL`` has them (CA:FALSE, serverAuth, key
identifiers) plus the common name as DNS or IP subject alternative name when it is one.
Pure: no CMDB, no clock of its own.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..est import pki
from . import CertFileError

VALIDITY_DAYS = 3650
COMMON_NAME_MAX = 64


def _san(common_name: str) -> x509.GeneralName | None:
    try:
        return x509.IPAddress(ipaddress.ip_address(common_name))
    except ValueError:
        pass
    try:
        found = pki.parse_san(f"DNS:{common_name}")
    except pki.PkiError:
        return None
    return found[0] if found else None


def issue(common_name: str, issuer: x509.Certificate, issuer_key: pki.PrivateKey,
          now: _dt.datetime) -> tuple[pki.PrivateKey, x509.Certificate]:
    """A new key and its certificate for ``common_name``, signed by ``issuer_key``."""
    if not common_name or len(common_name) > COMMON_NAME_MAX:
        raise CertFileError("the common name must be 1 to 64 characters")
    if not pki.cert_matches_key(issuer, issuer_key):
        raise CertFileError("the issuing CA's key does not match its certificate")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    end = min(now + _dt.timedelta(days=VALIDITY_DAYS), issuer.not_valid_after_utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .issuer_name(issuer.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - _dt.timedelta(minutes=5)).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    san = _san(common_name)
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
    return key, builder.sign(issuer_key, hashes.SHA256())
