"""EstEngine: the thin driver of the EST flows -- send, receive, sleep, store.

``generate`` (``execute vpn certificate local generate est``) enrolls a new
certificate; ``regenerate`` / ``renew`` re-enroll an existing one with its
current certificate as TLS client certificate (guide Examples 2 and 3);
``fetch_cacerts`` returns a server's CA certificates without storing them
(``execute vpn certificate ca import est``).  The flows (``flows.py``) decide
every step and print every trace line; the engine looks up what they need in
the CMDB, performs the events they yield (requests over an
:class:`~fortishell.est.transport.EstTransport`, cancellable waits, CMDB
transactions) and turns the outcome into the command's result.

Every operation takes an optional :class:`~fortishell.est.cancel.CancelToken`:
a cancellation stops the transfer (the transport shuts the socket down), the
flow ends its trace with ``est_ctx_clear_tmp_data``, nothing more is stored,
and :class:`~fortishell.est.cancel.Cancelled` is raised.

Failure output (not documented by the guide; chosen to match FortiOS's
``execute`` style): the reason on one line, then ``Command fail. Return code -1``::

    EST enrollment of certificate 'est-test101' failed: <reason>
    EST enrollment of certificate 'est-test101' cancelled.

A store is one CMDB transaction.  One the CMDB refuses (rolled back, nothing
stored) fails the operation; one that committed but whose configuration file
could not be written (a commit listener's failure) is kept, as ``end`` keeps a
change it could not save: the operation succeeds (its trace is the success
trace) and the save failure's lines are shown once, before ``Done.`` (a
renewal returns them for the device's debug.log).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

from collections.abc import Callable, Generator
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from fortishell import errors

from ..certs import trust as rules
from . import catalogue as C
from . import flows, pki
from .cancel import Cancelled, CancelToken, drive
from .events import (
    EstRequest,
    Event,
    FlowFailure,
    Reply,
    StoreCaCerts,
    StoreLocal,
    Stored,
    Trace,
    Wait,
    WireFailure,
)
from .ports import Clock, Cmdb, Network, Tracer, Transaction
from .protocol import FlowConfig
from .settings import EstSettings
from .transport import DEFAULT_TIMEOUT, EstTransport, EstTransportError, TransportConfig

CA = ("vpn", "certificate", "ca")
LOCAL = ("vpn", "certificate", "local")
CA_NAME_PREFIX = "G_CA_Cert_"
T = TypeVar("T")
log = logging.getLogger("fortishell.est")


class EstEngine:
    """The EST client of one device."""

    def __init__(self, cmdb: Cmdb, clock: Clock | None, tracer: Tracer | None, network: Network | None, *,
                 timeout: float = DEFAULT_TIMEOUT, retry_limit: int = 3, retry_budget: float = 60.0,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.cmdb, self.clock, self.tracer, self.network = cmdb, clock, tracer, network
        self.timeout, self.retry_limit, self.retry_budget = timeout, retry_limit, retry_budget
        self.sleep = sleep  # None: wait on the cancellation token (tests replace it)

    # ================================================================== public
    def generate(self, settings: EstSettings, cancel: CancelToken | None = None) -> list[str]:
        """Enroll a new local certificate; returns ``["Done."]`` (after the save failure's lines of a
        result stored but not saved) or raises EstError / Cancelled."""
        what = f"EST enrollment of certificate '{settings.name}'"
        notes: list[str] = []
        self._run(what, lambda: _wrap(flows.enroll, self._job(settings)), cancel, notes)
        return [*notes, "Done."]

    def regenerate(self, name: str, cancel: CancelToken | None = None) -> list[str]:
        """Re-enroll an existing certificate (``generate est <existing-name>``, Example 3)."""
        return [*self._reenroll(name, cancel), "Done."]

    def renew(self, name: str, cancel: CancelToken | None = None) -> list[str]:
        """Automatic renewal (Example 2): the same re-enrollment, started by the renewal service.
        Returns the lines it has to report (nothing, or the save failure of a renewal stored but
        not saved: the device logs them)."""
        return self._reenroll(name, cancel)

    def _reenroll(self, name: str, cancel: CancelToken | None) -> list[str]:
        what = f"EST re-enrollment of certificate '{name}'"
        notes: list[str] = []
        self._run(what, lambda: _wrap(flows.reenroll, self._reenroll_job(name)), cancel, notes)
        return notes

    def fetch_cacerts(self, settings: EstSettings, cancel: CancelToken | None = None, *,
                      bootstrap: bool = False) -> list[x509.Certificate]:
        """``GET /cacerts`` for ``settings`` (URL, CA label, HTTP auth, source IP, est-server-cert
        trust), traced and verified, nothing stored; raises EstError / Cancelled.

        ``bootstrap``: RFC 7030 4.1.1 bootstrap distribution (``ca import est``): the TLS server
        is not authenticated, so the caller must have the CA certificates authorised out of band
        (fingerprint) before storing them."""
        what = f"EST CA certificate retrieval from {settings.url}"

        def prepare() -> tuple[flows.Job, TransportConfig]:
            job, tcfg = self._job(settings)
            if bootstrap:
                job = replace(job, trust=rules.Anchors(), issuers=rules.Anchors(), bootstrap=True)
                tcfg = replace(tcfg, verify=False, trust_pems=())
            return job, tcfg

        return self._run(what, lambda: _wrap(flows.fetch_cacerts, prepare()), cancel)

    # ================================================================== driving
    def _run(self, what: str, make: Callable[[], tuple[Generator[Event, Reply, T], TransportConfig]],
             cancel: CancelToken | None, notes: list[str] | None = None) -> T:
        """Drive the operation; ``notes`` gets the save failure's lines of a store that committed."""
        token = cancel if cancel is not None else CancelToken()
        notes = notes if notes is not None else []
        try:
            token.check()
            try:
                flow, tcfg = make()
            except FlowFailure as failure:  # nothing to drive: the flow that closes the trace
                self._drive(flows.abandoned(failure), None, token, notes)
                raise  # (abandoned() has raised it already)
            return self._drive(flow, tcfg, token, notes)
        except Cancelled:
            raise Cancelled(f"{what} cancelled.") from None
        except FlowFailure as exc:
            raise errors.EstError(f"{what} failed: {exc.reason}") from None

    def _drive(self, flow: Generator[Event, Reply, T], tcfg: TransportConfig | None, token: CancelToken,
               notes: list[str]) -> T:
        """Perform the flow's events until it returns (``cancel.drive``); a cancellation is thrown
        into the flow.  One connection per operation, opened by its first request.  ``notes``: the
        save failures of its stores (per operation: the engine may run two at once)."""
        transport: list[EstTransport | WireFailure] = []

        def perform(event: Event) -> Reply:
            try:
                if isinstance(event, Trace):
                    self._trace(event)
                elif isinstance(event, EstRequest):
                    token.check()
                    if not transport:
                        transport.append(_open(tcfg, token) if tcfg is not None else WireFailure("no connection"))
                    opened = transport[0]
                    return opened.send(event) if isinstance(opened, EstTransport) else opened
                elif isinstance(event, Wait):
                    if self.sleep is not None:
                        self.sleep(event.seconds)
                    elif token.wait(event.seconds):
                        token.check()
                elif isinstance(event, StoreCaCerts):
                    token.check()
                    return self._store_ca(event, notes)
                elif isinstance(event, StoreLocal):
                    token.check()
                    return self._store_local(event, notes)
            except EstTransportError as exc:
                return WireFailure(exc.text, exc.connected)
            return None

        try:
            return drive(flow, perform, token, thrown=(Cancelled, FlowFailure))
        finally:
            if transport and isinstance(transport[0], EstTransport):
                transport[0].close()

    def _trace(self, event: Trace) -> None:
        if self.tracer is None:
            return
        if event.point is None:
            self.tracer.raw(C.APP, event.text)
        else:
            self.tracer.emit(C.APP, event.point, **dict(event.values))

    # ================================================================== set-up
    def _job(self, s: EstSettings) -> tuple[flows.Job, TransportConfig]:
        """Look up trust and client identity for ``s``; prepare the transport settings."""
        trust_pems, label = self._trust(s)
        client = key_pem = cert_pem = password = None
        if s.client_cert:
            cert_pem, key_pem, password, client, _ = self._identity(s.client_cert)
        tcfg = self._transport_config(s, trust_pems, cert_pem, key_pem, password, http_auth=True)
        reply_anchors, issuers = self._anchors(s)
        return flows.Job(s, self._flow_config(s, label), reply_anchors, client, issuers=issuers,
                         clock=self._clock(), vouched_root=bool(s.srp_username)), tcfg

    def _reenroll_job(self, name: str) -> tuple[flows.Job, TransportConfig]:
        entry = self.cmdb.entry(LOCAL, name)
        if entry is None:
            raise FlowFailure(f"certificate '{name}' does not exist", "auth")
        if entry.get("enroll-protocol") != "est" or not entry.get("est-server"):
            raise FlowFailure(f"certificate '{name}' was not enrolled with EST", "auth")
        s = EstSettings.from_entry(name, entry)
        trust_pems, label = self._trust(s)
        cert_pem, key_pem, password, cert, key = self._identity(name)
        tcfg = self._transport_config(s, trust_pems, cert_pem, key_pem, password, http_auth=False)
        reply_anchors, issuers = self._anchors(s)
        return flows.Job(s, self._flow_config(s, label), reply_anchors, cert, key, cert, issuers=issuers,
                         clock=self._clock(), vouched_root=bool(s.srp_username)), tcfg

    def _flow_config(self, s: EstSettings, label: str | None) -> FlowConfig:
        return FlowConfig(url=s.url, ca_id=s.ca_id, source_ip=s.source_ip, retry_limit=self.retry_limit,
                          retry_budget=self.retry_budget, null_text="" if s.from_cmdb else "NULL",
                          trust_label=label, srp=bool(s.srp_username))

    def _transport_config(self, s: EstSettings, trust: list[str], cert_pem: str | None, key_pem: str | None,
                          password: str | None, *, http_auth: bool) -> TransportConfig:
        connect_to = self.network.resolve(s.host, s.port) if self.network is not None else None
        return TransportConfig(
            host=s.host, port=s.port, connect_to=connect_to, trust_pems=tuple(trust),
            client_cert_pem=cert_pem, client_key_pem=key_pem, client_key_password=password,
            source_ip=s.source_ip, http_username=s.http_username if http_auth else None,
            http_password=s.http_password if http_auth else None,
            srp_username=s.srp_username, srp_password=s.srp_password, timeout=self.timeout,
        )

    def _trust(self, s: EstSettings) -> tuple[list[str], str | None]:
        """PEMs to trust: est-server-cert / option 9 alone, else every ``vpn certificate ca`` entry."""
        if s.server_cert:
            entry = self.cmdb.entry(CA, s.server_cert)
            pem = entry.get("ca") if entry is not None else None
            if entry is None:
                local = self.cmdb.entry(LOCAL, s.server_cert)
                pem = local.get("certificate") if local is not None else None
            if not pem:
                raise FlowFailure(f"CA certificate '{s.server_cert}' not found", "auth")
            return [str(pem)], s.server_cert
        return [str(e.get("ca")) for e in self.cmdb.entries(CA) if e.get("ca")], None

    def _anchors(self, s: EstSettings) -> tuple[rules.Anchors, rules.Anchors]:
        """The trust rules' anchors for ``s`` (ARCHITECTURE.md, "Trust"): a cacerts reply must chain
        to the configured CA (est-server-cert) or the CA store; an issued certificate to the
        stored EST CA certificates of that server (CA entries carrying its URL), or, when no entry
        carries it (its CA certificates were in the store before the first enrollment, which then
        stored nothing), the CA store; the configured CA counts for both (guide, option 9)."""
        store = _certs([str(e.get("ca")) for e in self.cmdb.entries(CA) if e.get("ca")])
        configured = rules.Anchors()
        if s.server_cert:
            pems, _ = self._trust(s)
            configured = rules.Anchors.chosen(_certs(pems))
        url = s.url.rstrip("/")
        est_cas = _certs([str(e.get("ca")) for e in self.cmdb.entries(CA)
                          if e.get("ca") and str(e.get("est-url") or "").rstrip("/") == url])
        server = rules.Anchors.chosen(est_cas) if est_cas else rules.Anchors.store(store)
        return configured + rules.Anchors.store(store), server + configured

    def _clock(self) -> Callable[[], dt.datetime] | None:
        return self.clock.now if self.clock is not None else None

    def _identity(self, name: str) -> tuple[str, str, str, x509.Certificate, pki.PrivateKey]:
        """A local certificate as TLS client identity: its PEM, its key as an *encrypted* PEM and
        that PEM's password (a key stored in clear is encrypted in memory with a one-time password),
        the parsed certificate and key.  The clear key never leaves memory."""
        entry = self.cmdb.entry(LOCAL, name)
        if entry is None or not entry.get("certificate") or not entry.get("private-key"):
            raise FlowFailure(f"client certificate '{name}' has no certificate or private key", "auth")
        cert_pem, key_pem = str(entry.get("certificate")), str(entry.get("private-key"))
        password = str(entry.get("password") or "") or None
        try:
            key = pki.load_key(key_pem, password)
            cert = pki.load_cert(cert_pem)
        except pki.PkiError as exc:
            raise FlowFailure(f"client certificate '{name}': {exc}", "auth") from None
        if password is None:
            password = pki.random_password()
            key_pem = pki.encrypt_key(key, password)
        return cert_pem, key_pem, password, cert, key

    # ================================================================== storing
    def _store_ca(self, event: StoreCaCerts, notes: list[str]) -> Stored:
        """Import the CA certificates the CA store does not hold yet (their own transaction; a
        failure after its commit: see :func:`_committed`)."""
        existing: set[bytes] = set()
        for entry in self.cmdb.entries(CA):
            try:
                existing.add(pki.load_cert(str(entry.get("ca"))).fingerprint(hashes.SHA256()))
            except pki.PkiError:
                continue  # an unreadable CA entry cannot be a duplicate
        names: list[str] = []
        try:
            with self.cmdb.transaction() as tx:
                for cert in event.certs:
                    fp = cert.fingerprint(hashes.SHA256())
                    if fp in existing:
                        continue
                    existing.add(fp)
                    name = _next_ca_name(tx)
                    tx.put(CA, name, {"ca": pki.cert_pem(cert), "source": "user", "range": "global",
                                      "est-url": event.url, "ca-identifier": event.ca_id or ""})
                    names.append(name)
        except errors.FortiError as exc:
            if not exc.committed:  # the CMDB refused the values: rolled back, nothing stored
                raise FlowFailure("; ".join(exc.lines) or "the configuration refused the CA certificates",
                                  "cacerts") from None
            _committed(exc, notes)
        return Stored(tuple(names))

    def _store_local(self, event: StoreLocal, notes: list[str]) -> Stored:
        """The certificate and key (one transaction; a failure after its commit: see :func:`_committed`)."""
        values = dict(event.values)
        values.update({"source": "user", "state": "OK", "range": "global",
                       "last-updated": int(self.clock.now().timestamp()) if self.clock is not None else 0})
        try:
            with self.cmdb.transaction() as tx:
                tx.put(LOCAL, event.name, values)
        except errors.FortiError as exc:
            if not exc.committed:
                raise FlowFailure("; ".join(exc.lines) or "the configuration refused the certificate",
                                  "store") from None
            _committed(exc, notes)
        return Stored((event.name,))


def _committed(exc: errors.FortiError, notes: list[str]) -> None:
    """A store committed, then a commit listener failed (the configuration file could not be
    written): the change stays in memory, as after ``end``, and the next save writes it, so the
    operation goes on and succeeds; the failure's lines are noted once (the CA certificates' and
    the certificate's stores of one enrollment fail alike)."""
    notes.extend(line for line in exc.lines if line not in notes)


def _wrap(flow: Callable[[flows.Job], Generator[Event, Reply, T]],
          prepared: tuple[flows.Job, TransportConfig]) -> tuple[Generator[Event, Reply, T], TransportConfig]:
    return flow(prepared[0]), prepared[1]


def _open(cfg: TransportConfig, token: CancelToken) -> EstTransport | WireFailure:
    try:
        return EstTransport(cfg, token)
    except EstTransportError as exc:
        return WireFailure(exc.text, False)


def _next_ca_name(tx: Transaction) -> str:
    n = 1
    while tx.get(CA, f"{CA_NAME_PREFIX}{n}") is not None:
        n += 1
    return f"{CA_NAME_PREFIX}{n}"


def _certs(pems: list[str]) -> tuple[x509.Certificate, ...]:
    out: list[x509.Certificate] = []
    for pem in pems:
        try:
            out.append(pki.load_cert(pem))
        except pki.PkiError:
            continue  # an unreadable CA entry trusts nothing
    return tuple(out)


__all__ = ["CA", "LOCAL", "EstEngine"]
