"""The lab responder's access log: one line per answered request (``lab-server``).

A line, fields separated by single spaces, ``-`` for "none"::

    2026-11-30T23:59:01.123Z 127.0.0.1:50412 tls-user=- http-user=estuser op=simpleenroll label=- status=200 serial=07:46:9a ms=41.7

``tls-user`` is the TLS-SRP user name, or the common name of the TLS client
certificate (re-enrollment, ``est-client-cert``); ``http-user`` the user of the
HTTP Basic or Digest ``Authorization`` header (also when it was refused);
``op`` the EST operation (``cacerts``, ``csrattrs``, ``simpleenroll``,
``simplereenroll``), ``.lab/faults`` for the admin endpoint, else the request
path; ``label`` the CA label of ``/.well-known/est/<label>/<op>``; ``serial``
the serial number of the certificate issued by this request, spelt as the
device spells it (``07:46:9a``, as in ``get vpn certificate local details``);
``ms`` the time from the complete request to the answer (a ``--delay`` fault
included).  The time is the host's real time in UTC (the responder's ``--clock``
only dates certificates).  Values are made printable: a client cannot break a line.

The classroom services write the same line.  The CRL server: ``op`` the path
(``estExampleCA.crl``), ``status`` the HTTP status.  The TFTP server:
``op=tftp-get:<file>`` or ``op=tftp-put:<file>`` (the name as the client sent it),
``status`` ``ok`` (the whole file went through), ``not-found`` (a download of no
file in the root), ``access-violation`` (an upload refused) or ``incomplete``,
``ms`` the transfer's duration.  The ACME server (``--acme-port``): ``op=acme-<resource>``
(``acme-directory``, ``acme-new-order``, ``acme-chall``, ``acme-finalize``, ``acme-cert``, ...),
``status`` the HTTP status, ``serial`` the certificate a finalize issued.  The SCEP responder
(``--scep-port``, ``scep.lab``): ``op=scep-<operation>`` (``scep-GetCACaps``, ``scep-GetCACert``) or,
for a PKIOperation, ``scep-<messageType>:<transaction id>`` (``scep-PKCSReq:...``, ``scep-CertPoll:...``:
the id ``lab-ca approve`` takes), ``status`` the CertRep's ``SUCCESS``, ``PENDING`` or
``FAILURE(<failInfo>)`` (else the HTTP status), ``serial`` the certificate issued.  A name tftpy itself refuses (one that climbs out
of the root) never reaches the lab's code and is not logged.

:class:`AccessLog` is the responder's ``on_request`` hook
(:class:`fortishell.lab.server.ResponderConfig`) and has one hook per classroom
service (:meth:`AccessLog.tftp`, :meth:`AccessLog.crl`); it writes to every stream
it was given, under a lock (requests are served on many threads).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from ..x509text import serial_colon
from .estapp import PREFIX, Reply, Request
from .faults import Faults, FaultState

if TYPE_CHECKING:
    from .crl import CrlFetch
    from .scepserver import ScepExchange
    from .tftp import TftpTransfer

_ENROLL = ("simpleenroll", "simplereenroll", "serverkeygen")


def _printable(text: str, limit: int = 64) -> str:
    cleaned = "".join(c if c.isprintable() and not c.isspace() else "?" for c in text)
    return (cleaned[:limit] + "...") if len(cleaned) > limit else (cleaned or "-")


def http_user(req: Request) -> str | None:
    value = req.header("authorization")
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(rest.strip(), validate=True).decode("utf-8", "replace").partition(":")[0]
        except (binascii.Error, ValueError):
            return "?"
    if scheme.lower() == "digest":
        for part in rest.split(","):
            key, _, val = part.strip().partition("=")
            if key.strip().lower() == "username":
                return val.strip().strip('"')
        return "?"
    return None


def tls_user(req: Request) -> str | None:
    if req.srp_user:
        return req.srp_user
    if req.peer_cert is not None:
        names = req.peer_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else req.peer_cert.subject.rfc4514_string()
    return None


def operation(target: str) -> tuple[str, str | None]:
    """``(op, label)`` of a request target."""
    path = target.split("?", 1)[0]
    if path.startswith(PREFIX):
        parts = path[len(PREFIX):].split("/")
        if len(parts) == 2:
            return parts[1], parts[0]
        return parts[0], None
    return path.lstrip("/") or "/", None


def issued_serial(op: str, reply: Reply) -> int | None:
    """The serial of the certificate in a successful enrollment reply."""
    if reply.serial is not None:
        return reply.serial
    if op not in _ENROLL or reply.status != 200 or not reply.body:
        return None
    try:
        certs = pkcs7.load_der_pkcs7_certificates(base64.b64decode(b"".join(reply.body.split()), validate=True))
    except (binascii.Error, ValueError):
        return None  # a fault sent garbage on purpose
    return certs[0].serial_number if certs else None


@dataclass(frozen=True)
class AccessEntry:
    """The fields of one access-log line (see the module note)."""

    peer: tuple[str, int]
    op: str
    status: str
    seconds: float
    tls_user: str | None = None
    http_user: str | None = None
    label: str | None = None
    serial: int | None = None

    def line(self, when: _dt.datetime | None = None) -> str:
        when = when or _dt.datetime.now(_dt.timezone.utc)
        host, port = self.peer[0], self.peer[1]
        fields = [
            when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "tls-user=" + _printable(self.tls_user or ""),
            "http-user=" + _printable(self.http_user or ""),
            "op=" + _printable(self.op),
            "label=" + _printable(self.label or ""),
            "status=" + _printable(self.status),
            "serial=" + (serial_colon(self.serial) if self.serial is not None else "-"),
            f"ms={self.seconds * 1000:.1f}",
        ]
        return " ".join(fields)


def format_line(req: Request, reply: Reply, seconds: float, *, when: _dt.datetime | None = None) -> str:
    op, label = operation(req.target)
    status = str(reply.status) if reply.mode != "drop" else f"{reply.status}(dropped)"
    return AccessEntry(peer=(req.peer[0], req.peer[1]), op=op, status=status, seconds=seconds,
                       tls_user=tls_user(req), http_user=http_user(req), label=label,
                       serial=issued_serial(op, reply)).line(when)


def tftp_entry(transfer: "TftpTransfer") -> AccessEntry:
    return AccessEntry(peer=transfer.peer, op=f"tftp-{transfer.op}:{transfer.name}", status=transfer.status,
                       seconds=transfer.seconds)


def crl_entry(fetch: "CrlFetch") -> AccessEntry:
    return AccessEntry(peer=fetch.peer, op=operation(fetch.target)[0], status=str(fetch.status),
                       seconds=fetch.seconds)


def describe_faults(state: FaultState) -> str:
    """The fault knobs in force, for the start-up lines (``none`` when the responder behaves)."""
    knobs: list[str] = []
    for name, value in vars(state).items():
        if name == "endpoints" or value in (False, None, 0, 0.0, (), ""):
            continue
        if value is True:
            knobs.append(name.replace("_", "-"))
        elif name == "retry_after":
            knobs.append(f"retry-after={value[0]}x{value[1]}s")
        else:
            knobs.append(f"{name.replace('_', '-')}={value}")
    if not knobs:
        return "none"
    where = ", ".join(state.endpoints) if state.endpoints else "every EST operation"
    return f"{', '.join(knobs)} (on {where})"


class AccessLog:
    """Writes :func:`format_line` for each request to every stream in ``streams``.

    With ``faults`` (the responder's knobs), a change made through the admin endpoint
    (``POST /.lab/faults``) is followed by a ``faults: ...`` line saying what is now in force.
    """

    def __init__(self, streams: Iterable[IO[str]], faults: Faults | None = None) -> None:
        self.streams = list(streams)
        self.faults = faults
        self._lock = threading.Lock()

    def __call__(self, req: Request, reply: Reply, seconds: float) -> None:
        line = format_line(req, reply, seconds) + "\n"
        if self.faults is not None and req.method == "POST" and reply.status == 200 \
                and operation(req.target)[0] == ".lab/faults":
            line += f"faults: {describe_faults(self.faults.snapshot())}\n"
        self._write(line)

    def tftp(self, transfer: "TftpTransfer") -> None:
        """The lab TFTP server's ``on_transfer`` hook."""
        self._write(tftp_entry(transfer).line() + "\n")

    def crl(self, fetch: "CrlFetch") -> None:
        """The lab CRL server's ``on_request`` hook."""
        self._write(crl_entry(fetch).line() + "\n")

    def scep(self, exchange: "ScepExchange") -> None:
        """The lab SCEP server's ``on_request`` hook."""
        self._write(AccessEntry(peer=exchange.peer, op=exchange.op, status=exchange.outcome,
                                seconds=exchange.seconds, serial=exchange.serial).line() + "\n")

    def acme(self, peer: tuple[str, int], op: str, status: str, seconds: float, serial: int | None) -> None:
        """The classroom ACME server's ``on_request`` hook (``op=acme-<resource>``)."""
        self._write(AccessEntry(peer=peer, op=op, status=status, seconds=seconds, serial=serial).line() + "\n")

    def _write(self, line: str) -> None:
        with self._lock:
            for stream in self.streams:
                try:
                    stream.write(line)
                    stream.flush()
                except (OSError, ValueError):
                    pass  # a closed log (stdout gone): the responder keeps answering
