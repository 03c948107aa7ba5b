"""The certificate detail block of ``get`` (Subject, Issuer, ..., Extensions).

Owns the text FortiOS prints under ``certificate :`` (local) and ``ca :`` (CA)
and the run-time ``state`` of a local certificate.  Layout from the guide's
Example 3: 8-space indent for the fields, 16 spaces for the serial number and
the extension blocks, a blank line after each extension and one more at the
end.  Names are printed the OpenSSL "oneline" way (``CN = x, O = y``, in
certificate order), the fingerprint is the MD5 of the DER encoding (16 bytes,
as in the guide), extension names and contents follow OpenSSL's texts.
The guide shows a trailing space after one extension value; that is a
copy artefact (the same line has none in the debug dump) and is not reproduced.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..x509text import colon_hex, extension_name, extension_text, name_spaced, serial_colon

I1 = " " * 8
I2 = " " * 16


def load(pem: str) -> x509.Certificate | None:
    """The certificate of a PEM value, or None when it does not parse."""
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None


def detail_lines(pem: str, *, base: str = I1, inner: str = I2, serial_inline: bool = False) -> list[str]:
    """The lines printed under ``certificate :`` (or ``crl :``) for ``pem`` (each with its indent).

    ``base`` / ``inner`` are the two indents (``get``: 8 and 16 spaces); ``serial_inline`` puts
    the serial number on the ``Serial Num:`` line (``get ... details``)."""
    if pem.lstrip().startswith("-----BEGIN X509 CRL-----"):
        return crl_lines(pem)
    cert = load(pem)
    if cert is None:
        return [f"{base}(unreadable certificate)", ""]
    der = cert.public_bytes(serialization.Encoding.DER)
    fmt = "%Y-%m-%d %H:%M:%S"
    serial = serial_colon(cert.serial_number)
    lines = [
        f"{base}Subject:     {name_spaced(cert.subject)}",
        f"{base}Issuer:      {name_spaced(cert.issuer)}",
        f"{base}Valid from:  {cert.not_valid_before_utc.strftime(fmt)}  GMT",
        f"{base}Valid to:    {cert.not_valid_after_utc.strftime(fmt)}  GMT",
        f"{base}Fingerprint: {colon_hex(hashlib.md5(der).digest())}",
        f"{base}Root CA:     {'Yes' if cert.subject == cert.issuer else 'No'}",
        f"{base}Version:     {cert.version.value + 1}",
        *([f"{base}Serial Num:  {serial}"] if serial_inline else [f"{base}Serial Num:", f"{inner}{serial}"]),
        f"{base}Extensions:",
    ]
    for ext in cert.extensions:
        lines += [
            f"{inner}Name:     {extension_name(ext)}",
            f"{inner}Critical: {'yes' if ext.critical else 'no'}",
            f"{inner}Content:",
            f"{inner}{extension_text(ext)}",
            "",
        ]
    lines.append("")
    return lines


def crl_lines(pem: str) -> list[str]:
    """The lines printed under ``crl :`` (our layout; FortiOS does not document it):
    issuer, update times, then each revoked serial with its revocation time."""
    try:
        crl = x509.load_pem_x509_crl(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return [f"{I1}(unreadable CRL)", ""]
    fmt = "%Y-%m-%d %H:%M:%S"
    nxt = crl.next_update_utc
    lines = [
        f"{I1}Issuer:      {name_spaced(crl.issuer)}",
        f"{I1}Last update: {crl.last_update_utc.strftime(fmt)}  GMT",
        f"{I1}Next update: {nxt.strftime(fmt) + '  GMT' if nxt else '(none)'}",
        f"{I1}Revoked:     {len(crl)}",
    ]
    for rev in sorted(crl, key=lambda r: r.serial_number):
        lines += [f"{I2}Serial Num: {serial_colon(rev.serial_number)}",
                  f"{I2}Revoked at: {rev.revocation_date_utc.strftime(fmt)}  GMT"]
    lines.append("")
    return lines


def details_listing(cmdb: Any, path: tuple[str, ...], name: str | None) -> list[str]:
    """``get vpn certificate local|ca details [name]``: per certificate ``== [ name ]``,
    ``Name:``, then the detail block at the left margin with the serial number on its line
    (the layout of published device output: ``Name:        vpn.example.com`` /
    ``Subject:     CN = ...`` / ... / ``Serial Num:  <serial>``).  A pending request shows
    its state and the CSR's subject."""
    attr = "ca" if path[-1] == "ca" else "certificate"
    entries = [cmdb.entry(path, name)] if name is not None else list(cmdb.entries(path))
    lines: list[str] = []
    for entry in entries:
        if entry is None:
            continue
        lines += [f"== [ {entry.key} ]", f"Name:        {entry.key}"]
        pem = entry.get(attr)
        if pem:
            lines.extend(detail_lines(pem, base="", inner=I1, serial_inline=True))
        elif entry.get("csr"):
            lines += ["State:       PENDING", f"Subject:     {_csr_subject(entry.get('csr'))}", ""]
        else:
            lines.append("")
    return lines


def _csr_subject(pem: str) -> str:
    try:
        return name_spaced(x509.load_pem_x509_csr(pem.encode("ascii")).subject)
    except (ValueError, UnicodeEncodeError):
        return "(unreadable request)"


def effective_state(entry: Any, now: _dt.datetime) -> str:
    """The ``state`` shown by ``get`` for a local certificate entry.

    ``OK`` for a certificate in its validity period, ``EXPIRED`` once the clock
    is past its Valid-to date, else what the EST engine stored (``PENDING`` while
    a CSR waits, ``FAILED``), else ``PENDING`` when only a CSR exists.
    """
    pem = entry.get("certificate")
    stored = entry.get("state")
    if pem:
        cert = load(pem)
        if cert is not None and now > cert.not_valid_after_utc:
            return "EXPIRED"
        if stored and str(stored).endswith("FAILED"):
            return str(stored)  # run-time failure of a renewal (``RENEWAL FAILED``), old cert kept
        return "OK"
    if stored:
        return str(stored)
    return "PENDING" if entry.get("csr") else ""
