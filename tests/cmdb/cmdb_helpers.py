"""Helpers for the cmdb tests: a certificate with the guide's Example 3 values."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from fortishell.cmdb.model import Cmdb

LOCAL = ("vpn", "certificate", "local")
CA = ("vpn", "certificate", "ca")
SKI = bytes.fromhex("9BF839D521E6FF49FFAC02575BFC4C1A8B1E5D8F")
AKI = bytes.fromhex("1ADF3984C256E66CCF2AB426A5FD0CD243F53D3E")


def example3_cert() -> x509.Certificate:
    """CN=firewall-portal1 issued by CN=estExampleCA, serial 0x074702, the guide's dates and key ids."""
    issuer_key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    leaf_key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "firewall-portal1")]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "estExampleCA")]))
        .public_key(leaf_key.public_key())
        .serial_number(0x074702)
        .not_valid_before(dt.datetime(2023, 4, 13, 17, 23, 40))
        .not_valid_after(dt.datetime(2024, 4, 12, 17, 23, 40))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=False)
        .add_extension(x509.SubjectKeyIdentifier(SKI), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(AKI, None, None), critical=False)
        .sign(issuer_key, None)
    )


