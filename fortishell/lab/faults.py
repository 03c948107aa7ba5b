"""Fault knobs of the lab responder (tests and lab exercises).

One :class:`Faults` object per responder, thread-safe, settable from Python
(``faults.set(status_500=True)``), from ``lab-server`` flags and from the admin
endpoint ``POST /.lab/faults`` (JSON, loopback peers only).  This module only
holds the knobs; the server decides what each one does:

===================  ===========================================================
reject_auth          every enrollment answers 401, whatever the credentials
status_500           500 Internal Server Error
retry_after          ``(n, seconds)``: the next n enrollments get 202 + Retry-After
delay_seconds        sleep this long before answering
truncate_body        announce the full Content-Length, send half, close
garbage_base64       a body that is not base64 (correct Content-Length)
wrong_content_type   ``text/html`` instead of the EST media type
drop_connection      read the request, close without answering
wrong_key_cert       enroll: a certificate for another public key
foreign_ca_cert      enroll: a certificate signed by a CA that is not the lab CA
tls_failure          fatal handshake_failure alert instead of a TLS handshake
cacerts_not_ca       cacerts: the reply also holds the TLS server certificate (CA:FALSE)
cacerts_unchained    cacerts: the reply also holds a CA certificate issued by an
                     unknown root (it chains to nothing the client has)
split_writes         HTTP header block and body in two sends with Nagle on (as
                     many real EST servers): a client that delays its ACKs waits
                     ~40 ms for every body; applies to every reply
endpoints            operations the HTTP faults apply to (empty = every EST one)
===================  ===========================================================

Real-server body habits (see :mod:`.habits`; they shape the replies of the
operations ``endpoints`` selects, and ``/serverkeygen``):

=====================  ==================================================
nul_terminated         base64 bodies end with one NUL byte (in Content-Length)
wrap_columns           base64 in lines of this many columns ending CRLF (0: 64, LF)
pem_armour             PKCS#7 bodies in PEM armour (BEGIN PKCS7)
no_transfer_encoding   no Content-Transfer-Encoding header
pkcs7_type             ``bare`` / ``certs-only``: the PKCS#7 Content-Type of every reply
chain_order            PKCS#7 sets in chain order; enroll replies add the CA certificate
chunked                chunked transfer encoding (no Content-Length)
http10                 HTTP/1.0 status line, connection closed after each reply
connection_close       ``Connection: close`` on every reply
csrattrs_example       /csrattrs answers the RFC 7030 section 4.5.2 example
=====================  =========================================================
=======
PKI topology knobs (``lab/topology.py``; they apply to every operation, whatever
``endpoints`` says): ``issuing_intermediate`` and ``tls_separate_root`` are shapes
of real servers, ``rogue_root`` and ``evil_twin`` hostile ones.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..errors import LabError

ENROLL_OPS = frozenset({"simpleenroll", "simplereenroll"})
ALL_OPS = frozenset({"cacerts", "csrattrs", "serverkeygen", *ENROLL_OPS})
PKCS7_TYPES = ("", "bare", "certs-only")  # real-server body habits: pkcs7_type
# real-server body habits: knobs a client must cope with (not failures; tests/est/test_est_server_habits.py)
HABIT_KNOBS = ("nul_terminated", "wrap_columns", "pem_armour", "no_transfer_encoding", "pkcs7_type", "chain_order",
               "chunked", "http10", "connection_close", "csrattrs_example")


@dataclass
class FaultState:
    reject_auth: bool = False
    status_500: bool = False
    retry_after: tuple[int, int] | None = None
    delay_seconds: float = 0.0
    truncate_body: bool = False
    garbage_base64: bool = False
    wrong_content_type: bool = False
    drop_connection: bool = False
    wrong_key_cert: bool = False
    foreign_ca_cert: bool = False
    tls_failure: bool = False
    split_writes: bool = False
    cacerts_not_ca: bool = False
    cacerts_unchained: bool = False
    endpoints: tuple[str, ...] = field(default_factory=tuple)
    # real-server body habits
    nul_terminated: bool = False
    wrap_columns: int = 0
    pem_armour: bool = False
    no_transfer_encoding: bool = False
    pkcs7_type: str = ""
    chain_order: bool = False
    chunked: bool = False
    http10: bool = False
    connection_close: bool = False
    csrattrs_example: bool = False
    # end of real-server body habits
    # PKI topology knobs (lab/topology.py)
    issuing_intermediate: bool = False  # issue from CN=estExampleSubCA; cacerts [intermediate, root]
    tls_separate_root: bool = False  # TLS server certificate from CN=estTlsRootCA (not in cacerts)
    rogue_root: bool = False  # hostile: an extra self-signed root in cacerts, issuing enrollments
    evil_twin: bool = False  # hostile: cacerts [root, R, R'], two self-signed roots naming each other


KNOBS = tuple(f.name for f in fields(FaultState))


def _coerce(name: str, value: Any) -> Any:
    if name == "retry_after":
        if value in (None, False, 0):
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return (value, 1)
        try:
            count, secs = (int(v) for v in value)
        except (TypeError, ValueError):
            raise LabError(f"retry_after wants (count, seconds), not {value!r}") from None
        if count < 0 or secs < 0:
            raise LabError("retry_after values must not be negative")
        return (count, secs) if count else None
    if name == "delay_seconds":
        try:
            delay = float(value or 0)
        except (TypeError, ValueError):
            raise LabError(f"delay_seconds wants a number, not {value!r}") from None
        if not 0 <= delay <= 600:
            raise LabError("delay_seconds must be between 0 and 600")
        return delay
    # real-server body habits
    if name == "wrap_columns":
        if isinstance(value, bool) or not isinstance(value, int) or not (value == 0 or 4 <= value <= 1024):
            raise LabError(f"wrap_columns wants 0 or a width of 4-1024 columns, not {value!r}")
        return value
    if name == "pkcs7_type":
        if value not in PKCS7_TYPES:
            raise LabError(f"pkcs7_type wants one of {', '.join(repr(t) for t in PKCS7_TYPES)}, not {value!r}")
        return value
    # end of real-server body habits
    if name == "endpoints":
        ops = (value,) if isinstance(value, str) else tuple(value or ())
        bad = [op for op in ops if op not in ALL_OPS]
        if bad:
            raise LabError(f"unknown endpoint(s) {', '.join(map(str, bad))}")
        return ops
    if not isinstance(value, (bool, int)):
        raise LabError(f"{name} wants true or false, not {value!r}")
    return bool(value)


class Faults:
    """Thread-safe fault knobs; read a consistent copy with :meth:`snapshot`."""

    def __init__(self, **knobs: Any) -> None:
        self._lock = threading.Lock()
        self._state = FaultState()
        if knobs:
            self.set(**knobs)

    def set(self, **knobs: Any) -> None:
        """Change the named knobs (validated; unknown names raise :class:`LabError`)."""
        unknown = [k for k in knobs if k not in KNOBS]
        if unknown:
            raise LabError(f"unknown fault knob(s): {', '.join(unknown)}")
        values = {k: _coerce(k, v) for k, v in knobs.items()}
        with self._lock:
            for k, v in values.items():
                setattr(self._state, k, v)

    def clear(self) -> None:
        with self._lock:
            self._state = FaultState()

    def snapshot(self) -> FaultState:
        with self._lock:
            return FaultState(**asdict(self._state))

    def as_dict(self) -> dict[str, Any]:
        state = asdict(self.snapshot())
        state["endpoints"] = list(state["endpoints"])
        if state["retry_after"] is not None:
            state["retry_after"] = list(state["retry_after"])
        return state

    def applies(self, op: str) -> bool:
        """Whether HTTP faults apply to operation ``op``."""
        with self._lock:
            return op in ALL_OPS and (not self._state.endpoints or op in self._state.endpoints)

    def take_retry(self) -> int | None:
        """Consume one 202 reply if ``retry_after`` is armed; returns its Retry-After seconds."""
        with self._lock:
            if self._state.retry_after is None:
                return None
            count, secs = self._state.retry_after
            self._state.retry_after = (count - 1, secs) if count > 1 else None
            return secs

    def __getattr__(self, name: str) -> Any:
        if name in KNOBS:
            return getattr(self.snapshot(), name)
        raise AttributeError(name)
