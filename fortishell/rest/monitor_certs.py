"""``/api/v2/monitor/vpn-certificate/...`` and ``system/certificate/download``: the certificate
actions of the REST door, each calling the helper its CLI command calls (``shell/commands/certs*``),
so a file refused by ``execute vpn certificate ... import`` is refused here with the same line.

Bodies as the clients send them: JSON with files as base64 strings (``file_content``,
``key_file_content``), or ``multipart/form-data`` (the GUI's upload form) where a file part holds
the raw file and a plain field the same base64 text as in JSON (``app.py`` reads both into one
dict: a file part becomes ``bytes``).  Choices where the API descriptions are silent:

* ``local/import``: ``type`` ``local`` completes the pending request whose key the certificate
  certifies (``local import tftp ... cer``); ``pkcs12`` stores the PKCS#12 file as ``certname``
  (``local import tftp ... p12``); ``regular`` stores the certificate with its key file
  (``key_file_content``, ``password`` the key file's password).  ``results.mkey`` names the entry.
  The ACME fields (``acme_domain``, ``acme_email``, ``acme_ca_url``, ``acme_rsa_key_size``,
  ``acme_renew_window``) ride on ``regular`` without files (the published type list has no ACME
  type; the field descriptions give ``certname`` to ``pkcs12`` and ``regular`` only): a new
  ``enroll-protocol acme2`` entry made as ``config vpn certificate local`` makes it, ordered at
  once (:func:`_acme`); with another type, or with a file, they are refused (400 / -651).
* ``csr/generate``: ``generate rsa|ec`` with the body's fields; ``keysize`` defaults to 2048,
  ``curvename`` to ``secp256r1``; ``orgunits`` a list (or one string); ``password`` the key's.
* ``local/create``: a certificate signed by ``Fortinet_CA_SSL`` (``certs/issue.py``).
* ``crl/import``: the CRL is checked by the CRL trust rule of ``crl import auto`` and stored as the
  next ``CRL_<n>``.
* ``certificate/download`` answers the file itself, not an envelope: PEM with a
  ``Content-Disposition`` attachment name ``<mkey>.<cer|csr|crl>``; ``local-ca`` and
  ``remote-ca`` both read the CA store (one store on this device).
* ``scope`` (``vdom`` / ``global``) is accepted and changes nothing: one vdom, and the entries are
  stored with ``range global`` as the CLI stores them.
* A CLI refusal: HTTP 500 with its return code as ``error`` and its lines as ``cli_error``
  (404 for return code -3); a body that is not usable (missing field, bad base64): 400 / -651.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

from ..certs import CertFileError, request
from ..certs.files import read_certificates
from ..cmdb.schema_pki import CRL, REMOTE
from ..errors import FortiError
from ..shell.commands import acme, certs, certs_ca, certs_local, certs_scep
from ..shell.session import Session
from .envelope import RestError

log = logging.getLogger("fortishell.rest")


@dataclass(frozen=True)
class Download:
    """A file answered as itself (``system/certificate/download``)."""

    data: bytes
    content_type: str
    filename: str


def _fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RestError(400, -651)
    return body


def _text(body: dict[str, Any], name: str, default: str = "") -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    raise RestError(400, -651)


def _file(body: dict[str, Any], name: str) -> bytes:
    """A file field: the raw bytes of a multipart file part, or base64 text (JSON, form field)."""
    value = body.get(name)
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str) or not value.strip():
        raise RestError(400, -651)
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except ValueError:  # binascii.Error, or a character outside ASCII
        raise RestError(400, -651) from None


def _cli(work: Any) -> Any:
    """Run a CLI helper; its refusal becomes the device's error envelope."""
    try:
        return work()
    except FortiError as exc:
        raise RestError.from_cli(exc, 404 if exc.return_code == -3 else 500) from None


def _done(name: str) -> dict[str, Any]:
    return {"results": {"mkey": name, "status": "success"}}


def ca_import(device: Any, query: Any, body: Any) -> dict[str, Any]:
    """``import_method`` ``file``: the first certificate of a PEM/DER/PKCS#7 file, as ``ca import tftp``
    stores it (``G_CA_Cert_<n>``, CA certificates only).  ``scep``: ``ca import auto <scep_url>
    [<scep_ca_id>]`` (GetCACert, the same trust rules); the API call is the operator's ``y`` (the
    GUI's "Import CA certificate via SCEP" asks nothing either); the result names the first entry."""
    fields = _fields(body)
    method = _text(fields, "import_method", "file")
    if method == "scep":
        url, ca_id = _text(fields, "scep_url"), _text(fields, "scep_ca_id")
        if not url:
            raise RestError(400, -651)
        names = _cli(lambda: certs_scep.import_auto(Session(device), url, ca_id or None))
        return _done(names[0])
    if method != "file":
        raise RestError(400, -651)
    data = _file(fields, "file_content")
    sess = Session(device)
    try:
        cert = read_certificates(data)[0]
    except CertFileError:
        raise RestError(500, -651, "Failed to import the file: not a certificate file.") from None
    return _done(_cli(lambda: certs_ca.store_ca(sess, cert)))


_ACME_FIELDS = {"acme_ca_url": "acme-ca-url", "acme_domain": "acme-domain", "acme_email": "acme-email",
                "acme_rsa_key_size": "acme-rsa-key-size", "acme_renew_window": "acme-renew-window"}


def _acme(device: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """``type`` ``regular`` with ``acme_domain`` and no file: a new ACME certificate entry, made as
    the CLI makes one (``acme.create_acme_entry``: ``set`` of each field, one commit whose listener
    orders it).  The device orders in the background and answers at once; the order's outcome is
    the ACME status's, not this answer's (an order's failure line is logged, the entry stays)."""
    name = _text(fields, "certname")
    values = {attr: _text(fields, key) for key, attr in _ACME_FIELDS.items()}
    lines = _cli(lambda: acme.create_acme_entry(Session(device), name, values))
    if lines:
        log.info("ACME import of %s: %s", name, " / ".join(lines))
    return _done(name)


def local_import(device: Any, query: Any, body: Any) -> dict[str, Any]:
    fields = _fields(body)
    kind = _text(fields, "type", "local")
    if any(k in _ACME_FIELDS and fields[k] not in (None, "") for k in fields):
        if kind != "regular" or not _text(fields, "acme_domain") or \
                any(fields.get(k) not in (None, "") for k in ("file_content", "key_file_content")):
            raise RestError(400, -651)  # ACME fields belong to a regular import without files
        return _acme(device, fields)
    sess = Session(device)
    if kind == "local":
        return _done(_cli(lambda: certs.complete_request(sess, _file(fields, "file_content"))))
    name = _text(fields, "certname")
    if kind == "pkcs12":
        data = _file(fields, "file_content")
        _cli(lambda: certs.import_p12(sess, name, data, _text(fields, "password")))
    elif kind == "regular":
        cert, key = _file(fields, "file_content"), _file(fields, "key_file_content")
        _cli(lambda: certs_local.import_key_pair(sess, name, cert, key, _text(fields, "password")))
    else:
        raise RestError(400, -651)
    return _done(name)


def crl_import(device: Any, query: Any, body: Any) -> dict[str, Any]:
    data = _file(_fields(body), "file_content")
    return _done(_cli(lambda: certs_ca.import_crl(Session(device), data)))


def csr_generate(device: Any, query: Any, body: Any) -> dict[str, Any]:
    fields = _fields(body)
    kind = _text(fields, "keytype", "rsa")
    if kind not in ("rsa", "ec"):
        raise RestError(400, -651)
    units = fields.get("orgunits") or []
    if isinstance(units, str):
        units = [units]
    if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
        raise RestError(400, -651)
    size = _text(fields, "keysize", "2048") if kind == "rsa" else _text(fields, "curvename", "secp256r1")
    spec = request.RequestSpec(kind, size, _text(fields, "subject"), _text(fields, "countrycode"),
                               _text(fields, "state"), _text(fields, "city"), _text(fields, "org"),
                               ",".join(units), _text(fields, "email"), _text(fields, "subject_alt_name"))
    name = _text(fields, "certname")
    _cli(lambda: certs.generate_request(Session(device), name, spec, key_password=_text(fields, "password"),
                                        scep_url=_text(fields, "scep_url"),
                                        scep_options={"challenge": _text(fields, "scep_password")}))
    return _done(name)


def local_create(device: Any, query: Any, body: Any) -> dict[str, Any]:
    fields = _fields(body)
    name = _text(fields, "certname")
    _cli(lambda: certs_local.create_local(Session(device), name, _text(fields, "common_name")))
    return _done(name)


_PEM_TYPES = {"cer": "application/x-x509-user-cert", "ca": "application/x-x509-ca-cert",
              "csr": "application/pkcs10", "crl": "application/pkix-crl"}


def download(device: Any, query: Any, body: Any) -> Download:
    name, kind = str(query.get("mkey", "")), str(query.get("type", ""))
    if not name:
        raise RestError(400, -651)
    sess = Session(device)
    if kind == "local-cer":
        data, mime, ext = _cli(lambda: certs.local_file(sess, name, "cer")), _PEM_TYPES["cer"], "cer"
    elif kind == "local-csr":
        data, mime, ext = _cli(lambda: certs.local_file(sess, name, "csr")), _PEM_TYPES["csr"], "csr"
    elif kind in ("local-ca", "remote-ca"):
        data, mime, ext = _cli(lambda: certs_ca.ca_file(sess, name)), _PEM_TYPES["ca"], "cer"
    elif kind == "remote-cer":
        data = _cli(lambda: certs_ca.entry_pem(sess, REMOTE, "remote", name, "Remote certificate"))
        mime, ext = _PEM_TYPES["cer"], "cer"
    elif kind == "crl":
        data, mime, ext = _cli(lambda: certs_ca.entry_pem(sess, CRL, "crl", name, "CRL")), _PEM_TYPES["crl"], "crl"
    else:
        raise RestError(400, -651)
    safe = "".join(c if c.isprintable() and c not in '"\\' else "_" for c in name)
    return Download(data, mime, f"{safe}.{ext}")
