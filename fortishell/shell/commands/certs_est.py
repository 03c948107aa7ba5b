"""``execute vpn certificate ca import est`` and the CA-name check of ``generate est``.

``ca import est <url> [<ca-identifier>] [<http-username>] [<http-password>]
[<source-ip>] [<client-cert>] [<srp-username>] [<srp-password>] [<fingerprint>]``:
the nine positions of the 7.6 reference (string string string string ip string
string string string); the reference names only the first two, the rest is our
reading, in the order ``generate est`` uses for the same settings.

It fetches ``/cacerts`` with the EST engine (same trace lines as an enrollment's
first step) in RFC 7030 bootstrap mode: a device that does not trust the
server yet cannot authenticate it, so the received CA certificates are shown
(subject, SHA-256 fingerprint) and must be authorised out of band.  The reply
is judged by the trust rules (``certs/trust.py``) before anything is asked or
stored: with a fingerprint (SHA-256, hex, colons optional) the certificate it
names is the anchor and every other received certificate must be a CA
certificate chaining to it (or to the CA store) -- intermediates stay
intermediates, and a self-signed certificate that is not the pinned one is
refused, so a reply ``[genuine CA, R, R']`` with two roots naming each other
stores nothing; without one the reply's single root is what the operator is
asked about (``Do you want to continue? (y/n)``), and a reply with several
untrusted roots is refused (give the fingerprint of the one to trust).  A
refusal stores nothing, and so does a reply holding a certificate that is not
a CA certificate (it is refused, not filtered out).  Pin the root: a pinned intermediate does not make the
root above it trusted.  Imported CA
certificates get the device's names for imported CA certificates in the global
range (``G_CA_Cert_1``, ...), with ``est-url`` / ``ca-identifier`` kept.

``generate est``: a CA identifier (position 8) that looks like a device CA
certificate name (``G_CA_Cert_N`` / ``CA_Cert_N``) but names none is still sent
as a CA label (the user may mean one), and when the enrollment fails the error
says in addition that it is not a CA certificate on this device.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ...certs import trust
from ...cli import ast
from ...cmdb.schema import CA, LOCAL
from ...errors import CertError, FortiError, ValueParseError
from ...est import pki
from ...est.args import check_url
from ...est.settings import EstSettings
from ...x509text import colon_hex, name_spaced
from ..result import Question, Result
from .certs import DONE, _need, _now_epoch
from .certs_ca import ca_store, existing_ca, next_ca_name
from .tree import extra_words

if TYPE_CHECKING:
    from ..session import Session

FIELDS = ("url", "ca_id", "http_username", "http_password", "source_ip", "client_cert", "srp_username",
          "srp_password", "fingerprint")
CA_NAME_RE = re.compile(r"(G_)?CA_Cert_\d+", re.IGNORECASE)  # G_CA_cert_1 is a CA name too, mistyped
QUESTION = "Do you want to continue? (y/n)"
I1 = " " * 8


def sha256_fingerprint(cert: x509.Certificate) -> str:
    return colon_hex(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest())


def _normalise_fingerprint(text: str) -> str:
    hexdigits = re.sub(r"[:\s]", "", text).upper()
    if not re.fullmatch(r"[0-9A-F]{64}", hexdigits):
        raise ValueParseError("Invalid fingerprint (SHA-256, 64 hex digits).", text, -1)
    return hexdigits


def _settings(sess: "Session", values: dict[str, str | None]) -> EstSettings:
    url = values["url"] or ""
    check_url(url)
    if values["source_ip"]:
        try:
            ipaddress.IPv4Address(values["source_ip"])
        except ValueError:
            raise ValueParseError("Invalid IPv4 address.", values["source_ip"], -8) from None
    if values["client_cert"] and sess.cmdb.entry(LOCAL, values["client_cert"]) is None:
        raise ValueParseError("entry not found in datasource", values["client_cert"], -3)
    return EstSettings(name="", url=url, ca_id=values["ca_id"], http_username=values["http_username"],
                       http_password=values["http_password"], source_ip=values["source_ip"],
                       client_cert=values["client_cert"], srp_username=values["srp_username"],
                       srp_password=values["srp_password"])


def positions(rest: list[ast.Word], fields: tuple[str, ...]) -> dict[str, str | None]:
    """The words of ``ca import est`` / ``ca import auto`` by position (at least the URL; ``""``
    or a missing word: None); more words than ``fields`` is an error."""
    _need(rest, 1)
    extra_words(rest, len(fields))
    values: dict[str, str | None] = dict.fromkeys(fields)
    values.update({f: (w.text or None) for f, w in zip(fields, rest)})
    return values


def do_ca_import_est(sess: "Session", rest: list[ast.Word]) -> Result:
    values = positions(rest, FIELDS)
    pin = _normalise_fingerprint(values["fingerprint"]) if values["fingerprint"] else None
    settings = _settings(sess, values)
    certs = sess.device.fetch_cacerts(settings, bootstrap=True)
    if not certs:
        raise CertError(f"No CA certificate received from {settings.url}.")
    shown = _shown(settings.url, certs)
    _judge(sess, certs, pin)
    if pin is not None:
        return Result(shown + _store(sess, certs, settings))
    return Result(question=Question(shown + [QUESTION], sess.guard(
        lambda yes: Result(_store(sess, certs, settings)) if yes else Result())))


def _shown(url: str, certs: list[x509.Certificate]) -> list[str]:
    lines = [f"Received {len(certs)} CA certificate(s) from {url}:"]
    for cert in certs:
        lines += [f"{I1}Subject:     {name_spaced(cert.subject)}",
                  f"{I1}Issuer:      {name_spaced(cert.issuer)}",
                  f"{I1}SHA-256 Fingerprint: {sha256_fingerprint(cert)}"]
    return lines


def _judge(sess: "Session", certs: list[x509.Certificate], pin: str | None) -> None:
    """The trust rules on the bootstrap reply (module doc); raises CertError, storing nothing."""
    store = trust.Anchors.store(cert for _, cert in ca_store(sess.cmdb))
    if pin is not None:
        pinned = trust.pinned(certs, bytes.fromhex(pin))
        if pinned is None:
            got = ", ".join(sha256_fingerprint(c) for c in certs)
            raise CertError(f"CA certificate fingerprint mismatch: received {got}.")
        policy = trust.ReplyPolicy(store + trust.Anchors.chosen([pinned]), at=sess.device.clock.now())
    else:
        policy = trust.ReplyPolicy(store, at=sess.device.clock.now(), vouched_root=True)
    try:
        trust.accept_ca_reply(certs, policy)
    except trust.Untrusted as exc:
        subject = name_spaced(exc.cert.subject) if exc.cert is not None else "?"
        if exc.reason == trust.NOT_CA:
            raise CertError(f"Certificate '{subject}' from the server is not a CA certificate.") from None
        if pin is not None:
            raise CertError(f"CA certificate '{subject}' does not chain to the pinned certificate: "
                            f"{exc.reason}.") from None
        hint = " (give the SHA-256 fingerprint of the one to trust)" if exc.reason == trust.SEVERAL_ROOTS else ""
        raise CertError(f"CA certificate '{subject}' cannot be trusted: {exc.reason}{hint}.") from None


def _store(sess: "Session", certs: list[x509.Certificate], settings: EstSettings) -> list[str]:
    return store_cas(sess, certs, {"est-url": settings.url, "ca-identifier": settings.ca_id or ""})


def store_cas(sess: "Session", certs: list[x509.Certificate], fields: dict[str, str]) -> list[str]:
    """Store the CA certificates of an accepted reply under the device's names, with ``fields``
    (the URL they came from); ``CA certificate imported as 'NAME'.`` lines and ``Done.``.  Stored
    when the configuration file then cannot be written (a commit listener failed after the
    commit), they are kept, as after ``end``: the import succeeds and shows the save failure first."""
    new = [c for c in certs if existing_ca(sess.cmdb, c) is None]
    if not new:
        raise CertError(f"CA certificate already exists as '{existing_ca(sess.cmdb, certs[0])}'.", rc=-5)
    names = []
    notes: list[str] = []
    try:
        with sess.cmdb.transaction() as tx:
            for cert in new:
                name = next_ca_name(sess.cmdb)
                tx.put(CA, name, {"ca": pki.cert_pem(cert), "source": "user", "range": "global", **fields,
                                  "last-updated": _now_epoch(sess)})
                names.append(name)
    except FortiError as exc:
        if not exc.committed:  # refused: rolled back, nothing stored
            raise
        notes = list(exc.lines)
    return notes + [f"CA certificate imported as '{name}'." for name in names] + list(DONE)


# ------------------------------------------------------------------ generate est: CA names
def enroll(sess: "Session", settings: EstSettings) -> list[str]:
    """``Device.enroll`` plus the CA-name check (module doc): a failure's error gets one more
    line; a success says it too, before ``Done.``."""
    ca_id = settings.ca_id
    note = None
    if ca_id and CA_NAME_RE.fullmatch(ca_id) and sess.cmdb.entry(CA, ca_id) is None:
        near = [name for name in sess.cmdb.keys(CA) if name.lower() == ca_id.lower()]
        hint = f"did you mean '{near[0]}'? CA names are case-sensitive; " if near else ""
        note = f"'{ca_id}' is not a CA certificate on this device ({hint}it was sent as the CA identifier)."
    try:
        lines = list(sess.device.enroll(settings))
    except FortiError as exc:
        if note:
            exc.lines.append(note)
        raise
    if note:
        at = len(lines) - 1 if lines and lines[-1] == "Done." else len(lines)
        lines.insert(at, f"Warning: {note}")
    return lines
