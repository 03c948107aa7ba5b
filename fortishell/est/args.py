"""The 14 positions of ``execute vpn certificate local generate est`` and their checks.

``parse_generate_args`` validates every argument before any network traffic
and raises :mod:`fortishell.errors` CLI errors with FortiOS-style lines:

* unknown algorithm / too many words: ``command parse error before '<word>'``
  (rc -61; the key type is a keyword of the command tree on FortiOS);
* fewer than three words for a new certificate: ``incomplete command in the end`` (rc -160);
* a malformed value: ``<reason>`` / blank / ``value parse error before '<value>'``
  (rc -1; -3 for a certificate that is not in the CMDB, as FortiOS does for a
  missing datasource entry; -8 for an invalid IP address).

Two behaviours the guide shows rather than documents:

* An existing certificate name means *re-generate* ("re-generate will ignore
  all the options you have provided"): the other words are not checked.
  :func:`parse_generate_args` is the one place that decides it: it returns
  :class:`Regenerate` for an existing name, :class:`EstSettings` otherwise.
* Example 1 passes ``G_CA_Cert_1`` in position 8 (CA identifier) and the trace
  shows ``ca_identifier:(null)`` and a URL without a label.  So a position-8
  value that names an existing ``vpn certificate ca`` entry (with position 9
  empty) is taken as that CA certificate being trusted, not as a CA label; the
  trust store is the global CA store as in the guide (``global CAs are loaded.``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fortishell import errors

from .pki import ALGORITHMS, PkiError, parse_san, parse_subject
from .settings import EstSettings

LOCAL = ("vpn", "certificate", "local")
CA = ("vpn", "certificate", "ca")
NAME_MAX = 35


@dataclass(frozen=True)
class Regenerate:
    """``generate est <existing name> ...``: re-enroll that certificate; the other words are ignored."""

    name: str


POSITIONS: list[tuple[str, str]] = [
    ("<name>", "Name of the local server certificate."),
    ("<algorithm>", "Cryptography algorithm: rsa-1024, rsa-1536, rsa-2048, rsa-4096, ec-secp256r1, "
                    "ec-secp384r1, or ec-secp521r1."),
    ("<est-url>", "URL and listening port of the remote EST responder (such as https://example.com:1234)."),
    ("[subject]", "Server certificate subject in the certificate enroll request. Separate fields by a comma (,)."),
    ("[SAN]", "Subject Alternative Name, e.g. DNS:<FQDN>,IP:<IP_address>. Separate fields by a comma (,)."),
    ("[http-username]", "HTTP authentication username."),
    ("[http-password]", "HTTP authentication password."),
    ("[ca-id]", "CA identifier."),
    ("[ca-cert]", "CA certificate used to verify the remote EST responder server certificate and "
                  "certificates issued by a remote PKI."),
    ("[key-password]", "Password for the private key."),
    ("[client-cert]", "Client certificate."),
    ("[source-ip]", "Source IP for communications to the CA server."),
    ("[srp-username]", "TLS-SRP username."),
    ("[srp-password]", "TLS-SRP password."),
]
FIELDS = ("name", "algorithm", "url", "subject", "san", "http_username", "http_password", "ca_id",
          "ca_cert", "key_password", "client_cert", "source_ip", "srp_username", "srp_password")

_LABEL_RE = re.compile(r"[A-Za-z0-9._~-]{1,255}")


def _bad(reason: str, value: str, rc: int = -1) -> errors.ValueParseError:
    return errors.ValueParseError(reason, value, rc)


def _exists(cmdb: Any, path: tuple[str, ...], key: str) -> bool:
    return cmdb is not None and cmdb.entry(path, key) is not None


def check_url(url: str) -> str:
    """``https://host[:port]`` (no path, query or credentials); returns it unchanged."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _bad("Invalid EST server URL. Use https://<host>[:<port>].", url) from exc
    if (parts.scheme != "https" or not parts.hostname or parts.path not in ("", "/") or parts.query
            or parts.fragment or parts.username or parts.password or port == 0):
        raise _bad("Invalid EST server URL. Use https://<host>[:<port>].", url)
    return url


def parse_generate_args(words: list[str], cmdb: Any) -> EstSettings | Regenerate:
    """Words after ``generate est`` -> :class:`Regenerate` for an existing certificate name (the
    one place that decides it), else validated :class:`EstSettings` for a new enrollment."""
    if not words or not words[0]:
        raise errors.IncompleteCommand()
    name = words[0]
    if _exists(cmdb, LOCAL, name):
        return Regenerate(name)
    if len(words) > len(FIELDS):
        raise errors.ParseError(words[len(FIELDS)])
    if len(name) > NAME_MAX:
        raise _bad(f"The name is too long (at most {NAME_MAX} characters).", name)
    if len(words) < 3 or not words[1] or not words[2]:
        if len(words) >= 2 and words[1] and words[1] not in ALGORITHMS:
            raise errors.ParseError(words[1])
        raise errors.IncompleteCommand()
    values: dict[str, str | None] = dict.fromkeys(FIELDS)
    values.update({f: (w if w != "" else None) for f, w in zip(FIELDS, words)})
    if values["algorithm"] not in ALGORITHMS:
        raise errors.ParseError(words[1])
    check_url(words[2])
    if values["subject"]:
        try:
            parse_subject(values["subject"])
        except PkiError as exc:
            raise _bad(f"Invalid subject: {exc}.", values["subject"]) from exc
    if values["san"]:
        try:
            parse_san(values["san"])
        except PkiError as exc:
            raise _bad(f"Invalid subject alternative name: {exc}.", values["san"]) from exc
    if values["http_password"] and not values["http_username"]:
        raise _bad("HTTP authentication password given without a username.", values["http_password"])
    ca_id = values["ca_id"]
    if ca_id and not values["ca_cert"] and _exists(cmdb, CA, ca_id):
        values["ca_id"] = None  # Example 1: a CA certificate name in position 8 (see module doc)
    elif ca_id and not _LABEL_RE.fullmatch(ca_id):
        raise _bad("Invalid CA identifier.", ca_id)
    for field, path in (("ca_cert", CA), ("client_cert", LOCAL)):
        value = values[field]
        if value and not _exists(cmdb, path, value):
            raise _bad("entry not found in datasource", value, -3)
    if values["source_ip"]:
        try:
            ipaddress.IPv4Address(values["source_ip"])
        except ValueError as exc:
            raise _bad("Invalid IPv4 address.", values["source_ip"], -8) from exc
        if values["source_ip"] == "0.0.0.0":
            values["source_ip"] = None
    if values["srp_password"] and not values["srp_username"]:
        raise _bad("TLS-SRP password given without a username.", values["srp_password"])
    if values["srp_username"] and not values["srp_password"]:
        raise errors.IncompleteCommand()
    return EstSettings.from_positions(values)
