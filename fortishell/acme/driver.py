"""AcmeDriver: the thin driver of the ACME order -- send, receive, sleep, serve, store.

The loop is the EST engine's (``est/cancel.drive``: events performed in
order, cancellations and failures thrown into the flow) and the connections
are the EST client's (``transport.py``); what is ACME's is the performing of
its own events (challenge answers, accounts, the certificate).

The flow (``flows.py``) decides every step and every trace line; the driver
looks up what it needs in the CMDB (the CA store for TLS, a stored account for
the directory), performs the events and turns a failure into one
FortiOS-style line (:class:`~fortishell.errors.AcmeError`)::

    ACME certificate 'vpn-cert' (fgt.example.com) failed: <reason>

The certificate's store is one CMDB transaction: refused inside it (nothing
stored), the order fails; failed after it committed (a commit listener: the
configuration file could not be written), the certificate is kept, as ``end``
keeps a change it could not save, the order succeeds and the save failure's
lines are its outcome's ``notes``.
"""

from __future__ import annotations

import datetime as _dt
import dataclasses
from collections.abc import Callable, Generator
from typing import Any

from fortishell import errors
from fortishell.cmdb import secrets
from fortishell.est.cancel import Cancelled, CancelToken, drive
from fortishell.trace import Tracer

from . import accounts
from . import catalogue as C
from . import flows
from .events import (
    Event, FlowFailure, Outcome, Reply, Request, Serve, StoreAccount, StoreCertificate, Trace, Wait, Withdraw,
)
from .responder import ChallengeResponder
from .settings import AcmeSettings
from .transport import AcmeHttp, Resolver, TransportConfig

CA = ("vpn", "certificate", "ca")
LOCAL = ("vpn", "certificate", "local")
ACME_SYSTEM = ("system", "acme")


class AcmeDriver:
    def __init__(self, cmdb: Any, clock: Any, tracer: Tracer | None, responder: ChallengeResponder, *,
                 resolve: Resolver | None = None, sleep: Callable[[float], None] | None = None,
                 poll_interval: float = 1.0, timeout: float = 10.0, answering: bool = True) -> None:
        self.cmdb, self.clock, self.tracer, self.responder = cmdb, clock, tracer, responder
        self.resolve, self.timeout, self.poll_interval = resolve, timeout, poll_interval
        self.sleep = sleep
        self.answering = answering  # False: no `config system acme` interface, nothing answers port 80

    def order(self, settings: AcmeSettings, cancel: CancelToken | None = None) -> Outcome:
        """Run one order; raises :class:`errors.AcmeError` (one line), nothing half-stored.

        ``cancel`` (Ctrl-C): checked before every request and store, waited on between polls; a
        cancellation shuts the connections down (a blocked request returns) and ends the order with
        ``ACME certificate 'NAME' (DOMAIN) cancelled.``"""
        token = cancel if cancel is not None else CancelToken()
        what = f"ACME certificate '{settings.name}' ({settings.domain})"
        now = self.clock.now() if self.clock is not None else _dt.datetime.now(_dt.timezone.utc)
        account = accounts.find(self.cmdb, settings.directory)
        job = flows.Job(settings, now, account=account, new_account_id=accounts.new_id(self.cmdb, settings.directory),
                        poll_interval=self.poll_interval)
        trust = tuple(str(e.get("ca")) for e in self.cmdb.entries(CA) if e.get("ca"))
        # a cancellation shuts the connections down (the transport's streams listen to the token)
        http = AcmeHttp(TransportConfig(trust, self.resolve, self.timeout, _source_ip(self.cmdb)), token)
        notes: list[str] = []  # per order: a service may run two drivers at once
        try:
            outcome = self._drive(flows.order(job), http, token, notes)
            return dataclasses.replace(outcome, notes=tuple(notes)) if notes else outcome
        except Cancelled:
            self._trace(Trace.of(C.FAILED, domain=settings.domain, reason="cancelled"))
            raise Cancelled(f"{what} cancelled.") from None
        except FlowFailure as exc:
            self._trace(Trace.of(C.FAILED, domain=settings.domain, reason=exc.reason))
            raise errors.AcmeError(f"{what} failed: {exc.reason}", problem=exc.problem,
                                   retry_after=exc.retry_after) from None
        finally:
            http.close()

    def _drive(self, flow: Generator[Event, Reply, Outcome], http: AcmeHttp, token: CancelToken,
               notes: list[str]) -> Outcome:
        # a Cancelled or FlowFailure is thrown into the flow: it withdraws its challenge answer
        return drive(flow, lambda event: self._perform(event, http, token, notes), token,
                     thrown=(Cancelled, FlowFailure), recheck=True)

    def _perform(self, event: Event, http: AcmeHttp, token: CancelToken, notes: list[str]) -> Reply:
        if isinstance(event, Trace):
            self._trace(event)
        elif isinstance(event, Request):
            token.check()
            return http.send(event)
        elif isinstance(event, Wait):
            if self.sleep is not None:
                self.sleep(event.seconds)
            else:
                token.wait(event.seconds)
        elif isinstance(event, Serve):
            if not self.answering:
                self._trace(Trace.of(C.NO_INTERFACE))
                return None
            try:
                self.responder.serve(event.token, event.key_authorization)
            except OSError as exc:
                raise FlowFailure(f"cannot listen for the http-01 challenge: {exc.strerror or exc}") from None
        elif isinstance(event, Withdraw):
            self.responder.withdraw(event.token)
        elif isinstance(event, StoreAccount):
            token.check()
            self._store(lambda: accounts.store(self.cmdb, event))
        elif isinstance(event, StoreCertificate):
            token.check()
            self._store_certificate(event, notes)
        return None

    def _store(self, work: Callable[[], None]) -> None:
        try:
            work()
        except errors.FortiError as exc:
            raise FlowFailure("; ".join(exc.lines) or "the configuration refused the change") from None

    def _store_certificate(self, event: StoreCertificate, notes: list[str]) -> None:
        """One transaction.  Refused inside it (nothing stored): the order fails.  Failed after it
        committed (a commit listener: the configuration file could not be saved): the certificate
        is stored, as ``end`` keeps a change it could not save, so the order does not fail; the
        failure's lines go to ``notes``."""
        sealed, password = secrets.seal_key(event.private_key, None)
        stamp = int(self.clock.now().timestamp()) if self.clock is not None else 0
        try:
            with self.cmdb.transaction() as tx:
                if tx.get(LOCAL, event.name) is None:
                    raise FlowFailure(f"certificate '{event.name}' was deleted during the order")
                tx.put(LOCAL, event.name, {"certificate": event.certificate_pem, "private-key": sealed,
                                           "password": password, "state": "OK", "source": "user",
                                           "last-updated": stamp})
        except errors.FortiError as exc:
            if not exc.committed:  # the CMDB refused the values: rolled back
                raise FlowFailure("; ".join(exc.lines) or "the configuration refused the change") from None
            notes.extend(line for line in exc.lines if line not in notes)

    def _trace(self, event: Trace) -> None:
        # the ACME order yields catalogue points only: a raw block (point None) is the EST flows' hex
        # dump, which no ACME flow yields, so none is printed here (as in the SCEP driver)
        if self.tracer is not None and event.point is not None:
            self.tracer.emit(C.APP, event.point, **dict(event.values))


def _source_ip(cmdb: Any) -> str | None:
    """``config system acme`` ``source-ip``; ``0.0.0.0`` (the default) lets the system choose.
    ``source-ip6`` is not used: the lab network and the emulator's transport are IPv4."""
    entry = cmdb.entry(ACME_SYSTEM)
    value = str(entry.get("source-ip") or "") if entry is not None else ""
    return value if value and value != "0.0.0.0" else None
