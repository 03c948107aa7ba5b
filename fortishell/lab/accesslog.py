"""The lab responder's access log: one line per answered request (``lab-server``).

A line, fields separated by single spaces, ``-`` for "none"::

    2026-11-30T23:59:01.123Z 127.0.0.1:50412 tls-user=- http-user=estuser op=simpleenroll label=- status=200 serial=1a2b ms=41.7

``tls-user`` is the TLS-SRP user name, or the common name of the TLS client
certificate (re-enrollment, ``est-client-cert``); ``http-user`` the user of the
HTTP Basic or Digest ``Authorization`` header (also when it was refused);
``op`` the EST operation (``cacerts``, ``csrattrs``, ``simpleenroll``,
``simplereenroll``), ``.lab/faults`` for the admin endpoint, else the request
path; ``label`` the CA label of ``/.well-known/est/<label>/<op>``; ``serial``
the serial number (hex) of the certificate issued by this request; ``ms`` the
time from the complete request to the answer (a ``--delay`` fault included).
The time is the host's real time in UTC (the responder's ``--clock`` only
dates certificates).  Values are made printable: a client cannot break a line.

:class:`AccessLog` is the responder's ``on_request`` hook
(:class:`fortishell.lab.server.ResponderConfig`); it writes to every stream it
was given, under a lock (requests are served on many threads).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import threading
from collections.abc import Iterable
from typing import IO

from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from .estapp import PREFIX, Reply, Request
from .faults import Faults, FaultState

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


def issued_serial(op: str, reply: Reply) -> str | None:
    """The serial (hex) of the certificate in a successful enrollment reply."""
    if reply.serial is not None:
        return format(reply.serial, "x")
    if op not in _ENROLL or reply.status != 200 or not reply.body:
        return None
    try:
        certs = pkcs7.load_der_pkcs7_certificates(base64.b64decode(b"".join(reply.body.split()), validate=True))
    except (binascii.Error, ValueError):
        return None  # a fault sent garbage on purpose
    return format(certs[0].serial_number, "x") if certs else None


def format_line(req: Request, reply: Reply, seconds: float, *, when: _dt.datetime | None = None) -> str:
    when = when or _dt.datetime.now(_dt.timezone.utc)
    op, label = operation(req.target)
    host, port = req.peer[0], req.peer[1]
    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    status = str(reply.status) if reply.mode != "drop" else f"{reply.status}(dropped)"
    fields = [
        when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        addr,
        "tls-user=" + _printable(tls_user(req) or ""),
        "http-user=" + _printable(http_user(req) or ""),
        "op=" + _printable(op),
        "label=" + _printable(label or ""),
        "status=" + status,
        "serial=" + (issued_serial(op, reply) or "-"),
        f"ms={seconds * 1000:.1f}",
    ]
    return " ".join(fields)


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
        with self._lock:
            for stream in self.streams:
                try:
                    stream.write(line)
                    stream.flush()
                except (OSError, ValueError):
                    pass  # a closed log (stdout gone): the responder keeps answering
