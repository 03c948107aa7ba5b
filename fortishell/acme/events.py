"""The events the sans-IO ACME flow yields and the replies its driver sends back.

A flow (``flows.py``) is a generator.  It yields

* :class:`Request` -- one HTTP request; the driver replies with a :class:`Response`
  or, when it failed on the wire, a :class:`WireFailure`;
* :class:`Wait` -- sleep (cancellably); reply ``None``;
* :class:`Trace` -- one debug line (a catalogue point and its values); reply ``None``;
* :class:`Serve` / :class:`Withdraw` -- publish / remove an http-01 answer on the
  device's challenge responder; reply ``None``;
* :class:`StoreAccount` / :class:`StoreCertificate` -- write to the CMDB in one
  transaction each; reply ``None`` (the driver raises :class:`FlowFailure` into the
  flow when the CMDB refuses).

and returns its :class:`Outcome`.  A failure raises :class:`FlowFailure`.  Everything is frozen.
:class:`Wait`, :class:`Trace` and :class:`WireFailure` are the EST flows' own (``est/events.py``:
the same events mean the same to both protocols' drivers); the rest is ACME's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

# shared with the EST flows (one set of building blocks, one driver loop: est/cancel.drive)
from fortishell.est.events import HeaderPairs, Trace, Wait, WireFailure

__all__ = ["Event", "FlowFailure", "HeaderPairs", "Outcome", "Reply", "Request", "Response", "Serve",
           "StoreAccount", "StoreCertificate", "Trace", "Wait", "WireFailure", "Withdraw"]


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    body: bytes | None = None
    content_type: str = "application/jose+json"


@dataclass(frozen=True)
class Response(HeaderPairs):
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass(frozen=True)
class Serve:
    token: str
    key_authorization: str


@dataclass(frozen=True)
class Withdraw:
    token: str


@dataclass(frozen=True)
class StoreAccount:
    """One ``config system acme`` / ``config accounts`` entry (values as the device shows them)."""

    account_id: str
    url: str
    ca_url: str
    email: str
    status: str
    private_key: str


@dataclass(frozen=True)
class StoreCertificate:
    """The new key and certificate of a local entry (with the chain's CA certificates), all at once."""

    name: str
    certificate_pem: str
    private_key: rsa.RSAPrivateKey  # the new key object (sealed by the driver as FortiOS stores every local key)
    chain_pems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """How an order ended.  ``notes``: FortiOS-style lines to show besides (the certificate was
    stored but the configuration file could not be saved: it is kept, as after ``end``)."""

    name: str
    domain: str
    serial: str
    not_before: float  # epoch seconds
    not_after: float
    order_url: str
    notes: tuple[str, ...] = ()


class FlowFailure(Exception):
    """The order failed; ``reason`` is the one-line text shown to the user."""

    def __init__(self, reason: str, *, problem: str = "", retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.problem = problem  # the ACME problem type when the server gave one
        self.retry_after = retry_after  # seconds the CA asked to wait (Retry-After of the refusal)


Event = Request | Wait | Trace | Serve | Withdraw | StoreAccount | StoreCertificate
Reply = Response | WireFailure | None
