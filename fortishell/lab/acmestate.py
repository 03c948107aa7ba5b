"""The lab ACME server's records -- accounts, orders, authorizations, certificates -- and their file.

:class:`Records` is what :class:`~fortishell.lab.acmeapp.AcmeApp` knows; it
converts to and from plain JSON (:meth:`Records.to_dict` /
:meth:`Records.from_dict`), so the app can take a snapshot before a request and
put it back when the request's change cannot be saved.

:class:`RecordFile` keeps them on disk for a classroom ``fortishell lab-server
--acme-port``: ``acme.json`` in the lab state directory (``<state-dir>/est-lab``,
beside the EST responder's ``state.json``), so a restarted server still knows
its students' accounts and their orders.  A file is replaced whole and at once
(temporary file, fsync, rename: :func:`.state.write_atomically`); a reader sees
the old records or the new ones, never a mix.  Nonces are not kept (a client
whose nonce a restart forgot gets ``badNonce`` and retries with a fresh one, as
RFC 8555 section 6.5 intends).  An authorization still being validated when the
server stopped is ``invalid`` after the restart (its validation never finished;
our choice: the device orders again, where a silent ``pending`` would leave it
polling).

One ``lab-server`` per state directory serves ACME: the file is the memory of
one process, written after each change, not a shared database.  The embedded
``acme.lab`` of a shell keeps its records in memory (a shell and a trainer's
``lab-server`` on the same state directory must not overwrite each other's).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from ..acme import jws
from ..errors import LabError
from .state import write_atomically

FILE_NAME = "acme.json"
VERSION = 1


@dataclass
class Account:
    key: ec.EllipticCurvePublicKey
    jwk: dict[str, str]  # the public key as the client sent it (compared on newAccount)
    contact: list[str]
    status: str = "valid"


@dataclass
class Order:
    account: str
    domains: list[str]
    authzs: list[str]
    status: str = "pending"
    cert: str | None = None
    error: dict[str, Any] | None = None


@dataclass
class Authz:
    domain: str
    token: str
    status: str = "pending"
    challenge_status: str = "pending"
    error: dict[str, Any] | None = None
    validated: str | None = None
    orders: list[str] = field(default_factory=list)
    client: str = ""  # the address the challenge-ready POST came from


@dataclass
class Records:
    next_id: int = 1
    accounts: dict[str, Account] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    authzs: dict[str, Authz] = field(default_factory=dict)
    certs: dict[str, str] = field(default_factory=dict)  # id -> PEM chain

    def new_id(self) -> str:
        ident, self.next_id = self.next_id, self.next_id + 1
        return str(ident)

    def to_dict(self) -> dict[str, Any]:
        """A plain (JSON) copy: nothing in it is shared with the records."""
        return {
            "version": VERSION, "next_id": self.next_id,
            "accounts": {k: {"jwk": dict(a.jwk), "contact": list(a.contact), "status": a.status}
                         for k, a in self.accounts.items()},
            "orders": {k: asdict(o) for k, o in self.orders.items()},
            "authzs": {k: asdict(a) for k, a in self.authzs.items()},
            "certs": dict(self.certs),
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Records":
        """Records from :meth:`to_dict`'s form; raises ``ValueError`` when it is not that."""
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError("not a lab ACME state (version 1)")
        try:
            accounts = {str(k): Account(jws.public_key_of(a["jwk"]), {str(n): str(v) for n, v in a["jwk"].items()},
                                        [str(c) for c in a["contact"]], str(a["status"]))
                        for k, a in dict(data["accounts"]).items()}
            orders = {str(k): Order(**o) for k, o in dict(data["orders"]).items()}
            authzs = {str(k): Authz(**a) for k, a in dict(data["authzs"]).items()}
            certs = {str(k): str(v) for k, v in dict(data["certs"]).items()}
            return cls(int(data["next_id"]), accounts, orders, authzs, certs)
        except (KeyError, TypeError, AttributeError, jws.JwsError) as exc:
            raise ValueError(f"not a lab ACME state ({type(exc).__name__}: {exc})") from None

    def abandon_validations(self, detail: str) -> None:
        """Authorizations left ``processing`` (a validation that never finished) become invalid."""
        for authz in self.authzs.values():
            if authz.challenge_status != "processing":
                continue
            authz.challenge_status = authz.status = "invalid"
            authz.error = {"type": "urn:ietf:params:acme:error:serverInternal", "detail": detail, "status": 500}
            for order_id in authz.orders:
                if order_id in self.orders:
                    self.orders[order_id].status, self.orders[order_id].error = "invalid", authz.error


class RecordFile:
    """``acme.json`` in a lab state directory."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / FILE_NAME

    def load(self) -> Records:
        """The records saved last; none yet: empty ones.  Unreadable: :class:`LabError`."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Records()
        except OSError as exc:
            raise LabError(f"Lab ACME state file {self.path} is unreadable: {exc.strerror}") from None
        try:
            return Records.from_dict(json.loads(text))
        except ValueError as exc:
            raise LabError(f"Lab ACME state file {self.path} is unreadable: {exc}") from None

    def save(self, data: dict[str, Any]) -> None:
        """Replace the file by ``data`` (:meth:`Records.to_dict`), all at once; raises ``OSError``."""
        write_atomically(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n")
