"""Local certificates that enter without a CLI command of their own: a certificate with its key
file (REST ``local/import`` type ``regular``) and a certificate signed by ``Fortinet_CA_SSL``
(REST ``local/create``).  Same rules and messages as ``local import tftp``: a new name is checked
as ``generate`` checks it, a failure raises one :class:`CertError` and stores nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ...certs import CertFileError, files, issue
from ...cmdb.schema import LOCAL
from ...errors import CertError
from ...est import pki
from .certs import _now_epoch, check_new_name

if TYPE_CHECKING:
    from ..session import Session

SIGNING_CA = "Fortinet_CA_SSL"


def _store(sess: "Session", name: str, key: pki.PrivateKey, cert_pem: str) -> None:
    key_password = pki.random_password()
    with sess.cmdb.transaction() as tx:
        tx.put(LOCAL, name, {"certificate": cert_pem, "private-key": pki.encrypt_key(key, key_password),
                             "password": key_password, "source": "user", "range": "global",
                             "last-updated": _now_epoch(sess)})


def _load_key(data: bytes, password: str) -> pki.PrivateKey:
    """A PEM or DER private key, encrypted with ``password`` or not."""
    secret = password.encode("utf-8") if password else None
    load = serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
    try:
        key = load(data, secret)
    except TypeError:
        raise CertFileError("the key file is encrypted: a password is needed" if secret is None
                            else "the key file is not encrypted") from None
    except ValueError:
        raise CertFileError("the key file does not load (wrong password or not a key)") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CertFileError("unsupported private key type")
    return key


def import_key_pair(sess: "Session", name: str, cert_data: bytes, key_data: bytes, password: str) -> None:
    """A certificate file and its private key file stored as the new entry ``name``."""
    check_new_name(sess, name)
    try:
        cert = files.read_certificates(cert_data)[0]
        key = _load_key(key_data, password)
    except CertFileError as exc:
        raise CertError(f"Failed to import '{name}': {exc}.") from None
    if not pki.cert_matches_key(cert, key):
        raise CertError(f"Failed to import '{name}': the key does not match the certificate.")
    _store(sess, name, key, pki.cert_pem(cert))


def create_local(sess: "Session", name: str, common_name: str) -> None:
    """A new key and certificate for ``common_name`` signed by ``Fortinet_CA_SSL``, as ``name``."""
    check_new_name(sess, name)
    ca = sess.cmdb.entry(LOCAL, SIGNING_CA)
    if ca is None or not ca.get("certificate") or not ca.get("private-key"):
        raise CertError(f"Certificate '{SIGNING_CA}' does not exist.", rc=-3)
    try:
        ca_cert = pki.load_cert(ca.get("certificate"))
        ca_key = pki.load_key(ca.get("private-key"), ca.get("password") or None)
        key, cert = issue.issue(common_name, ca_cert, ca_key, sess.device.clock.now())
    except (pki.PkiError, CertFileError) as exc:
        raise CertError(f"Failed to create certificate '{name}': {exc}.") from None
    _store(sess, name, key, pki.cert_pem(cert))
