"""The events the sans-IO SCEP flows yield and the replies their driver sends back.

The shapes are the EST flows' (``est/events.py``): a flow yields a
:class:`Request` (the driver replies with a :class:`Response` or a
:class:`~fortishell.est.events.WireFailure`), a ``Trace`` or ``Wait`` (reply
``None``) and a ``StoreLocal`` (one CMDB transaction; reply ``Stored``), and
returns its outcome.  A failure raises :class:`FlowFailure` with a one-line
reason.  Everything is frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from fortishell import errors
from fortishell.est.events import HeaderPairs, StoreLocal, Stored, Trace, Wait, WireFailure

__all__ = ["CaChain", "Event", "FlowFailure", "Outcome", "Refused", "Reply", "Request", "Response", "StoreLocal", "Stored",
           "Trace", "Wait", "WireFailure"]


@dataclass(frozen=True)
class Request:
    method: str  # GET or POST
    url: str
    body: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Response(HeaderPairs):
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    peer: tuple[str, int] | None = None  # the address the request went to (the trace's dest ip)


@dataclass(frozen=True)
class CaChain:
    """A GetCACert reply sorted by role (RFC 8894 §4.2.1): ``cas`` the CA certificates (issuing CA
    first), ``recipient`` the certificate requests are enveloped to (the RA's encryption
    certificate, else the CA), ``signers`` the certificates a CertRep may be signed by."""

    certs: tuple[x509.Certificate, ...]
    cas: tuple[x509.Certificate, ...]
    recipient: x509.Certificate
    signers: tuple[x509.Certificate, ...]
    ra: bool


@dataclass(frozen=True)
class Outcome:
    """How an enrollment ended: ``certificate`` issued, or ``pending`` (``transaction_id`` to poll).
    ``notes``: FortiOS-style lines the command shows besides (the configuration file could not be
    saved after the store: the result is kept, as after ``end``)."""

    certificate: x509.Certificate | None
    pending: bool
    transaction_id: str
    notes: tuple[str, ...] = ()


Event = Request | Trace | Wait | StoreLocal
Reply = Response | WireFailure | Stored | None


class FlowFailure(errors.ScepError):
    """The operation cannot go on; ``reason`` is the short cause; ``refused``: the CA answered
    FAILURE (rather than the exchange failing)."""

    def __init__(self, reason: str, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.refused = reason, refused


class Refused(errors.ScepError):
    """The CA refused the request (CertRep FAILURE); one line."""
