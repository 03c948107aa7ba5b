"""``execute vpn certificate local generate rsa|ec``, ``local export|import tftp``.

Parameters follow the FortiOS 7.6 CLI reference; choices where it is silent:

* ``generate rsa <name> <key-size> <subject> [<country> <state> <city> <org>
  <unit> <email> <subject-alt-names> <scep-url> <challenge-password>
  <source-ip> <ca-identifier> <private-key-password>]`` (``ec``: a curve
  ``secp256r1|secp384r1|secp521r1`` instead of the key size) creates the key
  and the CSR and stores the entry with ``csr`` set: ``get`` shows ``state :
  PENDING`` and the CSR.  ``""`` skips a position.  With a ``scep-url`` the
  request is enrolled over SCEP (``certs_scep.py``).  It prints nothing.
* ``local export tftp <name> {cer|p12|csr} <file> <tftp-server> [<password>]``:
  ``p12`` needs the password (the PKCS#12 encryption password).  ``Done.``
* ``local import tftp <file> <tftp-server> [cer|p12] [<password>]``: a
  certificate completes the pending request whose key it certifies; a PKCS#12
  file (with its password) becomes a new entry named after the file (without
  its extension).  ``Done.``
* Every failure prints one line and ``Command fail. Return code -1`` (a missing
  certificate -3, a name in use -5) and stores nothing.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from cryptography import x509

from ...certs import CertFileError, files, request
from ...cli import ast
from ...cmdb.schema import CA, LOCAL
from ...errors import CertError, IncompleteCommand, ParseError, ValueParseError
from ...est import pki
from ..result import Result
from .tree import extra_words

if TYPE_CHECKING:
    from ..session import Session

NAME_MAX = 35
DONE = ["Done."]
_GENERATE_OPTIONAL = ("country", "state", "city", "org", "unit", "email", "san", "scep_url", "challenge",
                      "source_ip", "ca_id", "key_password")


def _filexfer() -> Any:
    """The transfer module, loaded on first use (it brings httpx and the lab network, which
    the shell does not load before a command needs them)."""
    from .. import filexfer

    return filexfer


def _now_epoch(sess: "Session") -> int:
    return int(sess.device.clock.now().timestamp())


def _texts(rest: list[ast.Word]) -> list[str]:
    return [w.text for w in rest]


def _need(rest: list[ast.Word], n: int) -> None:
    if len(rest) < n:
        raise IncompleteCommand()


def _entry(sess: "Session", name: str) -> Any:
    entry = sess.cmdb.entry(LOCAL, name)
    if entry is None:
        raise CertError(f"Certificate '{name}' does not exist.", rc=-3)
    return entry


def check_new_name(sess: "Session", name: str) -> None:
    if not name or len(name) > NAME_MAX or not re.fullmatch(r"[^\s\"'\\]+", name):
        raise CertError(f"Invalid certificate name '{name}'.")
    if sess.cmdb.entry(LOCAL, name) is not None:
        raise CertError(f"Certificate '{name}' already exists.", rc=-5)


# ------------------------------------------------------------------ generate rsa|ec
def _generate(kind: str) -> Any:
    def handler(sess: "Session", rest: list[ast.Word]) -> Result:
        _need(rest, 3)
        extra_words(rest, 3 + len(_GENERATE_OPTIONAL))
        words = _texts(rest)
        name, size, subject = words[:3]
        opt = dict(zip(_GENERATE_OPTIONAL, words[3:]))
        spec = request.RequestSpec(kind, size, subject, opt.get("country", ""), opt.get("state", ""),
                                   opt.get("city", ""), opt.get("org", ""), opt.get("unit", ""),
                                   opt.get("email", ""), opt.get("san", ""))
        return Result(generate_request(sess, name, spec, key_password=opt.get("key_password", ""),
                                       scep_url=opt.get("scep_url", ""), source_ip=opt.get("source_ip", ""),
                                       scep_options=opt))

    return handler


do_generate_rsa = _generate("rsa")
do_generate_ec = _generate("ec")


def generate_request(sess: "Session", name: str, spec: request.RequestSpec, *, key_password: str = "",
                     scep_url: str = "", source_ip: str = "", scep_options: dict[str, str] | None = None) -> list[str]:
    """A new key and CSR stored as the pending entry ``name`` (``generate rsa|ec``, REST csr/generate);
    with a ``scep_url`` enrolled over SCEP (``certs_scep.py``; ``scep_options``: the command's
    positions -- challenge, CA identifier).  The lines to show: an SCEP enrollment stored but not
    saved shows the save failure."""
    check_new_name(sess, name)
    if spec.kind == "rsa" and spec.size_or_curve not in request.RSA_SIZES \
            or spec.kind == "ec" and spec.size_or_curve not in request.CURVES:
        raise ParseError(spec.size_or_curve)
    if scep_url:
        from .certs_scep import generate_scep

        options = dict(scep_options or {})
        options.update(scep_url=scep_url, source_ip=source_ip, key_password=key_password)
        return generate_scep(sess, spec.kind, name, spec.size_or_curve, spec, options).lines
    if source_ip:
        try:
            ipaddress.IPv4Address(source_ip)
        except ValueError:
            raise ValueParseError("Invalid IPv4 address.", source_ip, -8) from None
    try:
        key, csr = request.make_request(spec)
    except CertFileError as exc:
        raise CertError(f"Failed to generate the certificate request: {exc}.") from None
    password = key_password or pki.random_password()
    values = {"csr": request.csr_pem(csr), "private-key": pki.encrypt_key(key, password),
              "password": password, "source": "user", "range": "global",
              "last-updated": _now_epoch(sess)}
    if source_ip:
        values["source-ip"] = source_ip
    with sess.cmdb.transaction() as tx:
        tx.put(LOCAL, name, values)
    return []


# ------------------------------------------------------------------ export
def do_local_export_tftp(sess: "Session", rest: list[ast.Word]) -> Result:
    _need(rest, 4)
    extra_words(rest, 5)
    name, kind, filename, server = _texts(rest[:4])
    password = rest[4].text if len(rest) > 4 else ""
    if kind not in ("cer", "p12", "csr"):
        raise ParseError(kind)
    data = local_file(sess, name, kind, password)
    _filexfer().upload(sess.device.network, server, filename, data)
    return Result(list(DONE))


def local_file(sess: "Session", name: str, kind: str, password: str = "") -> bytes:
    """The file of local certificate ``name``: ``cer`` (PEM), ``csr`` (PEM) or ``p12`` (with ``password``)."""
    entry = _entry(sess, name)
    if kind == "csr":
        if not entry.get("csr"):
            raise CertError(f"Certificate '{name}' has no pending certificate request.")
        return str(entry.get("csr")).encode("ascii")
    if not entry.get("certificate"):
        raise CertError(f"Certificate '{name}' has no certificate yet (its request is pending).")
    try:
        cert = pki.load_cert(entry.get("certificate"))
    except pki.PkiError as exc:
        raise CertError(f"Failed to export certificate '{name}': {exc}.") from None
    if kind == "cer":
        return str(entry.get("certificate")).encode("ascii").rstrip(b"\n") + b"\n"
    if not password:
        raise CertError("A PKCS#12 export needs a password.")
    try:
        key = pki.load_key(entry.get("private-key"), entry.get("password") or None)
        return files.export_p12(name, key, cert, _issuers(sess, cert), password)
    except (pki.PkiError, CertFileError) as exc:
        raise CertError(f"Failed to export certificate '{name}': {exc}.") from None


def _issuers(sess: "Session", cert: x509.Certificate) -> list[x509.Certificate]:
    """The device's CA certificates that issued ``cert`` (for a PKCS#12 chain)."""
    out = []
    for entry in sess.cmdb.entries(CA):
        try:
            ca = pki.load_cert(entry.get("ca"))
        except pki.PkiError:
            continue
        if pki.issued_by(cert, ca):
            out.append(ca)
    return out


# ------------------------------------------------------------------ import
def do_local_import_tftp(sess: "Session", rest: list[ast.Word]) -> Result:
    _need(rest, 2)
    extra_words(rest, 4)
    filename, server = rest[0].text, rest[1].text
    kind = rest[2].text if len(rest) > 2 else ""
    if kind not in ("", "cer", "p12"):
        raise ParseError(kind)
    password = rest[3].text if len(rest) > 3 else ""
    data = _filexfer().download(sess.device.network, server, filename)
    if kind == "p12" or (not kind and files.looks_like_p12(data)):
        import_p12(sess, PurePosixPath(filename).stem[:NAME_MAX], data, password, filename)
    else:
        complete_request(sess, data)
    return Result(list(DONE))


def import_p12(sess: "Session", name: str, data: bytes, password: str, filename: str = "") -> None:
    """A PKCS#12 file (key and certificate) stored as the new entry ``name``."""
    check_new_name(sess, name)
    if not password:
        raise CertError("A PKCS#12 import needs the file's password.")
    try:
        key, cert, _extra = files.load_p12(data, password)
    except CertFileError as exc:
        raise CertError(f"Failed to import '{filename or name}': {exc}.") from None
    key_password = pki.random_password()
    with sess.cmdb.transaction() as tx:
        tx.put(LOCAL, name, {"certificate": pki.cert_pem(cert), "private-key": pki.encrypt_key(key, key_password),
                             "password": key_password, "source": "user", "range": "global",
                             "last-updated": _now_epoch(sess)})


def complete_request(sess: "Session", data: bytes) -> str:
    """A certificate completes the pending request whose key it certifies; the entry's name."""
    try:
        cert = files.read_certificates(data)[0]
    except CertFileError as exc:
        raise CertError(f"Failed to import the certificate: {exc}.") from None
    pending = [e for e in sess.cmdb.entries(LOCAL) if e.get("csr") and not e.get("certificate")]
    for entry in pending:
        try:
            if request.cert_matches_csr(cert, request.load_csr(entry.get("csr"))):
                break
        except CertFileError:
            continue
    else:
        raise CertError("The certificate does not match any pending certificate request.")
    with sess.cmdb.transaction() as tx:
        tx.put(LOCAL, entry.key, {"certificate": pki.cert_pem(cert), "last-updated": _now_epoch(sess)},
               unset=("csr", "state"))
    return str(entry.key)
