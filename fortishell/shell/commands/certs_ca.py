"""``execute vpn certificate ca import tftp|bundle``, ``ca export tftp``, ``crl import auto``.

Choices where the CLI reference is silent:

* An imported CA certificate is named the way the device names imported CA
  certificates in the global range: ``G_CA_Cert_1``, ``G_CA_Cert_2``, ... (the
  first free number).  A certificate already in the CA store is refused with the
  name it has (nothing is stored twice).  A file whose first certificate is not
  a CA certificate (basic constraints CA:TRUE) is refused.
* ``ca import bundle <file> <tftp-server>``: every CA certificate of a PEM file
  (or PKCS#7) that is not in the store yet, each with ``source bundle``; a bundle
  holding a certificate that is not a CA certificate is refused as a whole
  (strict in what enters the trust store; the device's own bundles hold CAs only).
* ``crl import auto <name>`` downloads the CRL from the entry's ``http-url``
  (DER or PEM), checks its signature with the CA certificate named by its issuer
  (the trust rules, ``certs/trust.py``: a look-alike key with the right issuer
  name is refused) and stores it as PEM.  Each of these prints ``Done.``; a failure prints one
  line and ``Command fail. Return code -1``, and stores nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ...certs import CertFileError, files, trust
from ...cli import ast
from ...cmdb.schema import CA
from ...cmdb.schema_pki import CRL
from ...errors import CertError
from ...est import pki
from ...x509text import name_spaced
from ..result import Result
from .certs import DONE, _filexfer, _need, _now_epoch
from .tree import extra_words

if TYPE_CHECKING:
    from ..session import Session

CA_NAME_PREFIX = "G_CA_Cert_"
CRL_NAME_PREFIX = "CRL_"


def next_ca_name(cmdb: Any) -> str:
    """The name the device gives the next imported CA certificate (global range)."""
    n = 1
    while cmdb.entry(CA, f"{CA_NAME_PREFIX}{n}") is not None:
        n += 1
    return f"{CA_NAME_PREFIX}{n}"


def ca_store(cmdb: Any) -> list[tuple[str, x509.Certificate]]:
    """The CA store: (name, certificate) of every readable ``vpn certificate ca`` entry."""
    out = []
    for entry in cmdb.entries(CA):
        try:
            out.append((str(entry.key), pki.load_cert(entry.get("ca"))))
        except pki.PkiError:
            continue  # an unreadable entry trusts nothing
    return out


def existing_ca(cmdb: Any, cert: x509.Certificate) -> str | None:
    """The name of the CA entry holding ``cert``, if any."""
    return next((name for name, held in ca_store(cmdb) if held == cert), None)


def _require_ca(certs: list[x509.Certificate], filename: str) -> None:
    """Only CA certificates enter the CA store (the trust rules): the whole file is refused."""
    try:
        trust.require_ca(certs)
    except trust.Untrusted as exc:
        subject = name_spaced(exc.cert.subject) if exc.cert is not None else "?"
        raise CertError(f"Failed to import '{filename}': '{subject}' is not a CA certificate.") from None


def store_ca(sess: "Session", cert: x509.Certificate, **extra: str) -> str:
    """Add ``cert`` to the CA store under the next name; returns the name."""
    found = existing_ca(sess.cmdb, cert)
    if found is not None:
        raise CertError(f"CA certificate already exists as '{found}'.", rc=-5)
    if not trust.is_ca(cert):
        raise CertError(f"'{name_spaced(cert.subject)}' is not a CA certificate.")
    with sess.cmdb.transaction() as tx:
        name = next_ca_name(sess.cmdb)
        tx.put(CA, name, {"ca": pki.cert_pem(cert), "source": "user", "range": "global",
                          "last-updated": _now_epoch(sess), **extra})
    return name


def _certificates(data: bytes, filename: str) -> list[x509.Certificate]:
    try:
        return files.read_certificates(data)
    except CertFileError as exc:
        raise CertError(f"Failed to import '{filename}': {exc}.") from None


# ------------------------------------------------------------------ handlers
def do_ca_import_tftp(sess: "Session", rest: list[ast.Word]) -> Result:
    _need(rest, 2)
    extra_words(rest, 2)
    filename, server = rest[0].text, rest[1].text
    certs = _certificates(_filexfer().download(sess.device.network, server, filename), filename)
    _require_ca(certs[:1], filename)
    store_ca(sess, certs[0])
    return Result(list(DONE))


def do_ca_import_bundle(sess: "Session", rest: list[ast.Word]) -> Result:
    _need(rest, 2)
    extra_words(rest, 2)
    filename, server = rest[0].text, rest[1].text
    certs = _certificates(_filexfer().download(sess.device.network, server, filename), filename)
    _require_ca(certs, filename)
    new = [c for c in certs if existing_ca(sess.cmdb, c) is None]
    if not new:
        raise CertError(f"Failed to import '{filename}': no new CA certificate in the bundle.")
    with sess.cmdb.transaction() as tx:
        for cert in new:
            tx.put(CA, next_ca_name(sess.cmdb), {"ca": pki.cert_pem(cert), "source": "bundle", "range": "global",
                                                 "last-updated": _now_epoch(sess)})
    return Result(list(DONE))


def do_ca_export_tftp(sess: "Session", rest: list[ast.Word]) -> Result:
    _need(rest, 3)
    extra_words(rest, 3)
    name, filename, server = rest[0].text, rest[1].text, rest[2].text
    _filexfer().upload(sess.device.network, server, filename, ca_file(sess, name))
    return Result(list(DONE))


def ca_file(sess: "Session", name: str) -> bytes:
    """CA certificate ``name`` as a PEM file."""
    return entry_pem(sess, CA, "ca", name, "CA certificate")


def entry_pem(sess: "Session", path: tuple[str, ...], attr: str, name: str, what: str) -> bytes:
    """The PEM attribute ``attr`` of entry ``name`` of ``path`` as a file (one final newline);
    ``<what> '<name>' does not exist.`` (-3) without the entry or without a value."""
    entry = sess.cmdb.entry(path, name)
    if entry is None or not entry.get(attr):
        raise CertError(f"{what} '{name}' does not exist.", rc=-3)
    return str(entry.get(attr)).encode("ascii").rstrip(b"\n") + b"\n"


def do_crl_import_auto(sess: "Session", rest: list[ast.Word]) -> Result:
    _need(rest, 1)
    extra_words(rest, 1)
    name = rest[0].text
    entry = sess.cmdb.entry(CRL, name)
    if entry is None:
        raise CertError(f"CRL '{name}' does not exist.", rc=-3)
    url = entry.get("http-url")
    if not url:
        raise CertError(f"CRL '{name}' has no http-url to update from.")
    crl = parse_crl(_filexfer().http_get(sess.device.network, url))
    _issuer_of(sess, crl)
    with sess.cmdb.transaction() as tx:
        tx.put(CRL, name, {"crl": crl_pem(crl), "last-updated": _now_epoch(sess)})
    return Result(list(DONE))


def import_crl(sess: "Session", data: bytes) -> str:
    """A CRL file (PEM or DER) signed by a CA certificate of the device, stored as the next
    ``CRL_<n>`` (the names the device gives imported CRLs); a CRL stored already is refused with
    the name it has.  Returns the name."""
    crl = parse_crl(data)
    _issuer_of(sess, crl)
    pem = crl_pem(crl)
    for entry in sess.cmdb.entries(CRL):
        if entry.get("crl") and entry.get("crl").strip() == pem.strip():
            raise CertError(f"CRL already exists as '{entry.key}'.", rc=-5)
    n = 1
    while sess.cmdb.entry(CRL, f"{CRL_NAME_PREFIX}{n}") is not None:
        n += 1
    name = f"{CRL_NAME_PREFIX}{n}"
    with sess.cmdb.transaction() as tx:
        tx.put(CRL, name, {"crl": pem, "source": "user", "range": "global", "last-updated": _now_epoch(sess)})
    return name


def parse_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if b"-----BEGIN X509 CRL-----" in data:
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        raise CertError("Failed to import the CRL: the CRL does not parse.") from None


def crl_pem(crl: x509.CertificateRevocationList) -> str:
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _issuer_of(sess: "Session", crl: x509.CertificateRevocationList) -> str:
    """The CA entry that signed ``crl`` (the trust rules); the CRL is refused without one."""
    try:
        return trust.crl_signer(crl, ca_store(sess.cmdb))
    except trust.Untrusted as exc:
        if exc.reason == trust.BAD_SIGNATURE:
            raise CertError(f"Failed to import the CRL: its signature does not verify with the key of CA "
                            f"certificate '{name_spaced(crl.issuer)}'.") from None
        raise CertError(f"Failed to import the CRL: its issuer '{name_spaced(crl.issuer)}' is not a CA "
                        "certificate on this device.") from None
