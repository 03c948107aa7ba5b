"""The events the sans-IO EST flows yield and the replies the driver sends back.

A flow (``protocol.py``) is a generator.  It yields

* :class:`EstRequest` -- send it; the driver replies with an :class:`EstResponse`
  or, when the request failed on the wire, a :class:`WireFailure`;
* :class:`Wait` -- sleep (cancellably); reply ``None``;
* :class:`Trace` -- one trace line (a catalogue point and its values, or a raw
  block); reply ``None``;
* :class:`StoreCaCerts` / :class:`StoreLocal` -- write to the CMDB; the driver
  replies with a :class:`Stored` (or raises into the flow when the CMDB refuses).

and returns its outcome.  A failure raises :class:`FlowFailure` carrying the
stage at which it happened.  Everything here is frozen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509

from fortishell import errors
from fortishell.trace import TracePoint

Stage = Literal["auth", "cacerts", "csrattrs", "post", "store"]


@dataclass(frozen=True)
class TlsInfo:
    version: str | None = None
    cipher: str | None = None
    tls_unique: bytes | None = None  # RFC 5929 channel binding (TLS 1.2 only)
    new_connection: bool = False  # this request opened a new connection


@dataclass(frozen=True)
class EstRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None


@dataclass(frozen=True)
class Interim:
    """A response the HTTP layer answered itself before the final one (a 401 Digest challenge)."""

    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def status_line(self) -> str:
        return f"{self.http_version} {self.status} {self.reason}".rstrip()


class HeaderPairs:
    """Header lookups over raw ``(name, value)`` pairs in wire order (the replies of EST and ACME)."""

    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    @property
    def media_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class EstResponse(HeaderPairs):
    status: int
    reason: str = ""
    http_version: str = "HTTP/1.1"
    headers: tuple[tuple[str, str], ...] = ()  # raw pairs in wire order
    body: bytes = b""
    tls: TlsInfo | None = None
    interim: tuple[Interim, ...] = ()  # earlier responses of the same request, in order

    @property
    def status_line(self) -> str:
        return f"{self.http_version} {self.status} {self.reason}".rstrip()


@dataclass(frozen=True)
class WireFailure:
    """The request failed on the wire: curl's ``Error buf`` text; ``connected``: a connection was opened."""

    text: str
    connected: bool = False


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Trace:
    """One trace line: ``point`` with ``values``, or (``point`` None) a raw block ``text``."""

    point: TracePoint | None
    values: tuple[tuple[str, Any], ...] = ()
    text: str = ""

    @staticmethod
    def of(point: TracePoint, **values: Any) -> "Trace":
        return Trace(point, tuple(values.items()))

    @staticmethod
    def raw(text: str) -> "Trace":
        return Trace(None, (), text)


@dataclass(frozen=True)
class StoreCaCerts:
    """Import the received CA certificates now, in their own transaction."""

    certs: tuple[x509.Certificate, ...]
    url: str
    ca_id: str | None


@dataclass(frozen=True)
class StoreLocal:
    """Store the local certificate, its encrypted key and the EST settings, all or nothing."""

    name: str
    values: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Stored:
    names: tuple[str, ...] = field(default_factory=tuple)  # entries written


Event = EstRequest | Wait | Trace | StoreCaCerts | StoreLocal
Reply = EstResponse | WireFailure | Stored | None


class FlowFailure(errors.ProtocolError):
    """The operation cannot go on; ``reason`` is the short cause, ``stage`` where it happened."""

    def __init__(self, reason: str, stage: Stage = "post") -> None:
        super().__init__(reason)
        self.reason, self.stage = reason, stage
