"""ScepDriver: the thin driver of the SCEP flows -- send, receive, sleep, store, cancel.

The flows (``flows.py``) decide every step and trace line; the driver builds
their jobs from the CMDB (the CA store, a pending request's key and CSR, a
certificate's key for a renewal), performs their events through the one driver
loop (:func:`fortishell.est.cancel.drive`) and turns a failure into one
FortiOS-style line (:class:`~fortishell.errors.ScepError`)::

    SCEP enrollment of certificate 'vpn1' failed: <reason>
    SCEP enrollment of certificate 'vpn1' cancelled.

A cancellation (Ctrl-C) shuts the connection down (a blocked request returns at
once) and is thrown into the flow before anything is stored; a store is one CMDB
transaction, so an operation stores all of its result or nothing.  A store that committed but
whose configuration file could not be written is kept (as ``end`` keeps such a change): the
operation succeeds and the save failure's lines are its outcome's ``notes``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import ipaddress
from collections.abc import Callable, Generator
from typing import Any, TypeVar, cast

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from fortishell import errors
from fortishell.certs import trust
from fortishell.est import pki
from fortishell.est.cancel import Cancelled, CancelToken, drive
from fortishell.trace import Tracer

from . import catalogue as C
from . import flows
from .events import CaChain, Event, FlowFailure, Outcome, Refused, Reply, Request, StoreLocal, Stored, Trace, Wait
from .settings import ScepSettings
from .transport import ScepHttp

CA = ("vpn", "certificate", "ca")
LOCAL = ("vpn", "certificate", "local")
T = TypeVar("T")


class ScepDriver:
    def __init__(self, cmdb: Any, clock: Any, tracer: Tracer | None, network: Any, *, timeout: float = 10.0,
                 poll_interval: int = 300) -> None:
        self.cmdb, self.clock, self.tracer, self.network = cmdb, clock, tracer, network
        self.timeout, self.poll_interval = timeout, poll_interval
        self._notes: list[str] = []  # lines of a store that committed but could not be saved (Outcome.notes)

    # ------------------------------------------------------------ operations
    def fetch_ca(self, settings: ScepSettings, token: CancelToken) -> CaChain:
        """GetCACert (``ca import auto``): the reply sorted by role, judged by nobody yet."""
        result: CaChain = self._run(flows.get_ca_cert(settings, self._dest_ip(settings)), settings, token,
                                    f"SCEP CA certificate request to {settings.url}")
        return result

    def enroll(self, settings: ScepSettings, key: rsa.RSAPrivateKey, csr: x509.CertificateSigningRequest,
               values: dict[str, Any], token: CancelToken) -> Outcome:
        """A new certificate (``generate rsa ... <scep-url>``): issued, or stored as pending."""
        job = self._job(settings, key, csr, values)
        result: Outcome = self._run(flows.enroll(job), settings, token,
                                    f"SCEP enrollment of certificate '{settings.name}'", new=True)
        return result

    def poll(self, name: str, token: CancelToken) -> Outcome:
        """CertPoll for the pending request of entry ``name``."""
        entry = self._entry(name)
        settings = ScepSettings.from_entry(name, entry)
        if not entry.get("csr"):
            raise errors.ScepError(f"Certificate '{name}' has no pending SCEP request.")
        key = self._key(name, entry)
        try:
            csr = x509.load_pem_x509_csr(str(entry.get("csr")).encode())
        except ValueError:
            raise errors.ScepError(f"Certificate '{name}': its pending request cannot be read.") from None
        job = self._job(settings, key, csr, {})
        result: Outcome = self._run(flows.poll(job), settings, token, f"SCEP enrollment of certificate '{name}'")
        return result

    def renew(self, name: str, token: CancelToken) -> Outcome:
        """A renewal (automatic, or ``generate`` again): RenewalReq signed with the current certificate
        when the CA offers ``Renewal``, else a PKCSReq with ``scep-password``; a new key unless
        ``private-key-retain enable``.  A PENDING answer fails (the old certificate stays)."""
        entry = self._entry(name)
        settings = ScepSettings.from_entry(name, entry)
        if entry.get("enroll-protocol") != "scep" or not settings.url:
            raise errors.ScepError(f"SCEP re-enrollment of certificate '{name}' failed: "
                                   "it has no enroll-protocol scep and scep-url")
        old_key = self._key(name, entry)
        try:
            cert = pki.load_cert(str(entry.get("certificate") or ""))
        except pki.PkiError:
            raise errors.ScepError(f"Certificate '{name}' has no certificate to renew.") from None
        bits = old_key.key_size
        key = old_key if settings.retain_key else _rsa(pki.generate_key(pki.Algorithm(f"rsa-{bits}", bits)))
        csr = pki.csr_from_cert(cert, key, challenge_password=settings.challenge)
        password = pki.random_password()
        values = {"private-key": pki.encrypt_key(key, password), "password": password}
        job = self._job(settings, key, csr, values, current=(cert, old_key), allow_pending=False)
        result: Outcome = self._run(flows.enroll(job), settings, token, f"SCEP re-enrollment of certificate '{name}'")
        return result

    # ------------------------------------------------------------ jobs
    def _job(self, settings: ScepSettings, key: rsa.RSAPrivateKey, csr: x509.CertificateSigningRequest,
             values: dict[str, Any], *, current: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
             allow_pending: bool = True) -> flows.Job:
        stored = dict(values)
        stored.update(settings.entry_values())
        stored["last-updated"] = int(self._now().timestamp())
        return flows.Job(settings, self._now(), self._store_anchors(), key, csr, self._dest_ip(settings),
                         current=current, values=tuple(stored.items()), allow_pending=allow_pending,
                         poll_interval=self.poll_interval)

    def _now(self) -> _dt.datetime:
        return self.clock.now() if self.clock is not None else _dt.datetime.now(_dt.timezone.utc)

    def _store_anchors(self) -> trust.Anchors:
        certs = []
        for entry in self.cmdb.entries(CA):
            try:
                certs.append(pki.load_cert(str(entry.get("ca") or "")))
            except pki.PkiError:
                continue  # an unreadable CA entry trusts nothing
        return trust.Anchors.store(certs)

    def _dest_ip(self, settings: ScepSettings) -> str:
        """The address the trace's ``__send_recv`` names: a lab host's documentation address."""
        lab = self.network.lab_host(settings.host) if self.network is not None else None
        if lab is not None:
            return str(self.network.hosts[lab])
        try:
            return str(ipaddress.ip_address(settings.host))
        except ValueError:
            return settings.host

    def _entry(self, name: str) -> Any:
        entry = self.cmdb.entry(LOCAL, name)
        if entry is None:
            raise errors.ScepError(f"Certificate '{name}' does not exist.")
        return entry

    def _key(self, name: str, entry: Any) -> rsa.RSAPrivateKey:
        try:
            key = pki.load_key(str(entry.get("private-key") or ""), str(entry.get("password") or "") or None)
        except pki.PkiError as exc:
            raise errors.ScepError(f"Certificate '{name}': its private key cannot be read ({exc}).") from None
        return _rsa(key)

    # ------------------------------------------------------------ driving
    def _run(self, flow: Generator[Event, Reply, T], settings: ScepSettings, token: CancelToken, what: str, *,
             new: bool = False) -> T:
        trust_pems = tuple(str(e.get("ca")) for e in self.cmdb.entries(CA) if e.get("ca"))
        resolve = self.network.resolve if self.network is not None else None
        # the transport's sockets are shut down by the token itself (est/transport.Backend)
        http = ScepHttp(settings.url, token, trust_pems=trust_pems, resolve=resolve, timeout=self.timeout)
        self._notes = []
        try:
            result = drive(flow, lambda event: self._perform(event, http, token, new), token,
                           thrown=(Cancelled, FlowFailure), recheck=True)
            if self._notes and isinstance(result, Outcome):
                return cast(T, dataclasses.replace(result, notes=tuple(self._notes)))
            return result
        except Cancelled:
            self._trace(Trace.of(C.FAILED, name=settings.name or settings.url, reason="cancelled"))
            raise Cancelled(f"{what} cancelled.") from None
        except FlowFailure as exc:
            self._trace(Trace.of(C.FAILED, name=settings.name or settings.url, reason=exc.reason))
            raise (Refused if exc.refused else errors.ScepError)(f"{what} failed: {exc.reason}") from None
        finally:
            http.close()

    def _perform(self, event: Event, http: ScepHttp, token: CancelToken, new: bool) -> Reply:
        if isinstance(event, Trace):
            self._trace(event)
        elif isinstance(event, Request):
            token.check()
            return http.send(event)
        elif isinstance(event, Wait):
            token.wait(event.seconds)
        elif isinstance(event, StoreLocal):
            token.check()
            return self._store(event, new)
        return None

    def _store(self, event: StoreLocal, new: bool) -> Stored:
        """One transaction.  Refused inside it (nothing stored): the operation fails.  Failed after
        it committed (a commit listener: the configuration file could not be saved): the entry is
        stored, as ``end`` keeps a change it could not save, so the operation does not fail; the
        failure's lines are the outcome's ``notes``."""
        values = dict(event.values)
        values.setdefault("source", "user")
        values.setdefault("range", "global")
        try:
            with self.cmdb.transaction() as tx:
                exists = tx.get(LOCAL, event.name) is not None
                if new and exists:
                    raise FlowFailure(f"certificate '{event.name}' was created meanwhile")
                if not new and not exists:
                    raise FlowFailure(f"certificate '{event.name}' was deleted meanwhile")
                tx.put(LOCAL, event.name, values)
        except FlowFailure:
            raise
        except errors.FortiError as exc:
            if not exc.committed:  # the CMDB refused the values: rolled back
                raise FlowFailure("; ".join(exc.lines) or "the configuration refused the certificate") from None
            self._notes.extend(exc.lines)
        return Stored((event.name,))

    def _trace(self, event: Trace) -> None:
        if self.tracer is not None and event.point is not None:
            self.tracer.emit(C.APP, event.point, **dict(event.values))


def _rsa(key: Any) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        # KB 404520: an EC key over SCEP fails on the device with this line
        raise errors.ScepError("Couldn't read inner PKCS#7 (SCEP needs an RSA key).")
    return key


