"""The lab SCEP responder's pending requests: what manual-approval mode waits on.

In manual-approval mode (``lab-server --scep-manual``) a PKCSReq is answered
PENDING and kept here; the trainer decides with ``fortishell lab-ca approve
<transaction-id>`` or ``reject <transaction-id>`` (``lab-ca show`` lists them),
and the requester's next CertPoll (or the same PKCSReq sent again) is answered
from the decision: SUCCESS with the certificate, or FAILURE badRequest.

On disk, the whole store is one JSON file, ``<lab state>/scep/pending.json``
(``<lab state>`` = ``<state-dir>/est-lab``, the EST responder's and ``lab-ca``'s
place), mapping transaction id -> row.  Transaction ids are the client's own text
(base64 for some clients, with ``/`` and ``+``), so they never become file names.
Every change rewrites the file whole (temporary file, fsync, ``os.replace``): a
crash leaves the old store or the new one, never half of one.  Changes are made
under a thread lock and an advisory file lock (``pending.lock``), read-modify-write
inside the lock, so the responder and ``lab-ca`` (two processes) never lose each
other's change; readers take no lock (the file only ever changes by a rename).

A row keeps the request (CSR, the requester's signer certificate the reply is
enveloped to, subject, when it came), its status (``pending``, ``approved``,
``rejected``, ``issued``) and, once issued, the serial and certificate, so a
later poll gets the same certificate again rather than a second one.  Without a
state directory the store lives in memory (tests, ``lab-server --ephemeral``).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ..errors import LabError
from .state import _atomic_write

try:  # POSIX advisory locks; elsewhere the thread lock alone is used
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

Status = Literal["pending", "approved", "rejected", "issued"]
STATUSES: tuple[Status, ...] = ("pending", "approved", "rejected", "issued")
SUBDIR = "scep"


@dataclass(frozen=True)
class PendingRequest:
    """One request manual-approval mode holds (see the module note)."""

    transaction_id: str
    status: Status
    subject: str           # the CSR's subject, RFC 4514
    received: str          # ISO time on the lab clock
    csr_pem: str
    signer_pem: str        # the requester's signer certificate (the reply's envelope goes to it)
    serial: int | None = None
    cert_pem: str | None = None

    @classmethod
    def from_row(cls, txid: str, row: dict[str, Any]) -> "PendingRequest":
        status = row.get("status")
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        serial = row.get("serial")
        cert = row.get("cert_pem")
        return cls(transaction_id=txid, status=status, subject=str(row["subject"]),
                   received=str(row["received"]), csr_pem=str(row["csr_pem"]),
                   signer_pem=str(row["signer_pem"]), serial=int(serial) if serial is not None else None,
                   cert_pem=str(cert) if cert is not None else None)

    def row(self) -> dict[str, Any]:
        data = asdict(self)
        del data["transaction_id"]
        return data


# issues an approved request: -> (serial, certificate PEM)
Issuer = Callable[[PendingRequest], tuple[int, str]]


class PendingStore:
    """Pending SCEP requests (module note); ``lab_dir`` is the lab state directory or None."""

    def __init__(self, lab_dir: Path | None) -> None:
        self.dir = Path(lab_dir) / SUBDIR if lab_dir is not None else None
        self._lock = threading.Lock()
        self._memory: dict[str, PendingRequest] = {}

    @property
    def path(self) -> Path | None:
        return self.dir / "pending.json" if self.dir is not None else None

    # ------------------------------------------------------------ reading
    def all(self) -> list[PendingRequest]:
        """Every request, oldest first (no lock taken)."""
        return sorted(self._read().values(), key=lambda r: (r.received, r.transaction_id))

    def get(self, transaction_id: str) -> PendingRequest | None:
        return self._read().get(transaction_id)

    def _read(self) -> dict[str, PendingRequest]:
        if self.path is None:
            with self._lock:
                return dict(self._memory)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise LabError(f"SCEP pending store {self.path} is unreadable: {exc}") from None
        if not isinstance(data, dict):
            raise LabError(f"SCEP pending store {self.path} is unreadable: not a JSON object")
        out: dict[str, PendingRequest] = {}
        for txid, row in data.items():
            try:
                out[txid] = PendingRequest.from_row(txid, row)
            except (KeyError, TypeError, ValueError) as exc:
                raise LabError(f"SCEP pending store {self.path} is unreadable: {txid}: {exc}") from None
        return out

    # ------------------------------------------------------------ writing
    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, PendingRequest]]:
        """Both locks held; yields the store to change in place, written whole on success."""
        if self.dir is None:
            with self._lock:
                rows = dict(self._memory)
                yield rows
                self._memory = rows
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabError(f"Cannot use SCEP state directory {self.dir}: {exc.strerror}") from None
        with self._lock, open(self.dir / "pending.lock", "a+") as lockf:
            if fcntl is not None:
                fcntl.flock(lockf.fileno(), fcntl.LOCK_EX)
            rows = self._read()
            yield rows
            assert self.path is not None
            text = json.dumps({k: v.row() for k, v in rows.items()}, indent=1, sort_keys=True) + "\n"
            _atomic_write(self.path, text)

    def add(self, request: PendingRequest) -> PendingRequest:
        """Keep ``request``; a transaction already kept is returned as it is (a PKCSReq sent again)."""
        with self._changing() as rows:
            kept = rows.get(request.transaction_id)
            if kept is not None:
                return kept
            rows[request.transaction_id] = request
            return request

    def decide(self, transaction_id: str, approve: bool) -> PendingRequest:
        """``lab-ca approve`` / ``reject``: pending -> approved / rejected.  ``transaction_id`` is
        the whole id or, when it is no id, a prefix of exactly one, in any case (a trainer types
        ``3a7b`` for a device's 32 hex digits).  LabError for an unknown or ambiguous id, or a
        request already decided (the message says how it was decided)."""
        with self._changing() as rows:
            kept = rows.get(transaction_id)
            if kept is None:
                folded = transaction_id.casefold()
                hits = [t for t in rows if t.casefold().startswith(folded)] if transaction_id else []
                if len(hits) > 1:
                    raise LabError(f"{transaction_id} names more than one SCEP request: {', '.join(sorted(hits))}")
                if not hits:
                    known = ", ".join(t for t, r in rows.items() if r.status == "pending") or "none"
                    raise LabError(f"No SCEP request with transaction id {transaction_id} (pending: {known})")
                kept = rows[hits[0]]
            if kept.status != "pending":
                raise LabError(f"SCEP request {kept.transaction_id} was already {kept.status}")
            rows[kept.transaction_id] = decided = replace(kept, status="approved" if approve else "rejected")
            return decided

    def decide_all(self, approve: bool) -> list[PendingRequest]:
        """``lab-ca approve|reject --all``: every pending request, in one write."""
        with self._changing() as rows:
            decided = []
            for tid, kept in list(rows.items()):
                if kept.status == "pending":
                    rows[tid] = row = replace(kept, status="approved" if approve else "rejected")
                    decided.append(row)
            return decided

    def settle(self, transaction_id: str, issue: Issuer) -> tuple[PendingRequest | None, bool]:
        """The request's answer to a poll: an approved request is issued once (``issue(row)``
        -> (serial, certificate PEM), under the store's lock, so two polls racing issue one
        certificate).  Returns the row as it now stands (None when unknown) and whether this
        call issued it."""
        kept = self.get(transaction_id)
        if kept is None or kept.status != "approved":
            return kept, False
        with self._changing() as rows:
            kept = rows.get(transaction_id)
            if kept is None or kept.status != "approved":
                return kept, False
            serial, pem = issue(kept)
            rows[transaction_id] = done = replace(kept, status="issued", serial=serial, cert_pem=pem)
            return done, True
