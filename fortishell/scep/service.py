"""ScepService: a device's SCEP client -- enrollments, the polling of pending requests, renewals.

* :meth:`enroll` / :meth:`fetch_ca` / :meth:`renew` run the driver's operations under the
  device's cancellation (Ctrl-C reaches them like an EST enrollment).
* :meth:`poll` (run where EST renewals run, at command boundaries and from the background
  thread): every ``vpn certificate local`` entry with ``enroll-protocol scep``, a pending request
  (``csr``) and no certificate is polled with CertPoll every :data:`POLL_INTERVAL` seconds on the
  device clock (sscep's default polling interval, 300 s; FortiOS does not document its own), the
  first time at once after a start.  A certificate the CA issued meanwhile is stored (``get``
  then shows ``state OK``); a refusal is written to the event log and the request is no longer
  polled (until a restart or a change of the entry).  With ``diagnose debug application scep
  -1`` each poll's trace streams like an enrollment's.
"""

from __future__ import annotations

import datetime as _dt
import functools
import traceback
from typing import TYPE_CHECKING, Any, Protocol

from cryptography import x509

from fortishell import errors
from fortishell.eventlog import LOGID_CERT_RENEW_FAILED, LOGID_CERT_RENEWED
from fortishell.est.ports import ServiceHost

from .driver import ScepDriver
from .events import CaChain, Outcome, Refused
from .settings import ScepSettings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

LOCAL = ("vpn", "certificate", "local")
POLL_INTERVAL = 300


class Host(ServiceHost, Protocol):
    """What the service uses of its device: the clients' common host and the SCEP entries."""

    def protocol_entries(self, protocol: str) -> list[str]: ...


class ScepService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self._next: dict[str, _dt.datetime] = {}  # pending request -> when to poll it next
        self._given_up: set[tuple[str, str]] = set()  # (name, csr) the CA refused

    def driver(self) -> ScepDriver:
        h = self.host
        return ScepDriver(h.cmdb, h.clock, h.tracer, h.network, poll_interval=POLL_INTERVAL)

    def fetch_ca(self, settings: ScepSettings) -> CaChain:
        result: CaChain = self.host.run_cancellable(lambda token: self.driver().fetch_ca(settings, token))
        return result

    def enroll(self, settings: ScepSettings, key: "rsa.RSAPrivateKey", csr: x509.CertificateSigningRequest,
               values: dict[str, Any]) -> Outcome:
        outcome: Outcome = self.host.run_cancellable(
            lambda token: self.driver().enroll(settings, key, csr, values, token))
        if outcome.pending:
            self._next[settings.name] = self.host.clock.now() + _dt.timedelta(seconds=POLL_INTERVAL)
        return outcome

    def renew(self, name: str) -> list[str]:
        """Renew ``name``; the lines to show (a renewal stored but not saved: the save failure's)."""
        outcome: Outcome = self.host.run_cancellable(lambda token: self.driver().renew(name, token))
        return list(outcome.notes)

    # ------------------------------------------------------------ polling pending requests
    def pending(self) -> list[str]:
        """The entries with a pending SCEP request (``enroll-protocol scep``, a CSR, no certificate);
        only the SCEP entries are looked at (the device keeps them indexed from the commits)."""
        cmdb = self.host.cmdb
        names = []
        for name in self.host.protocol_entries("scep"):
            entry = cmdb.entry(LOCAL, name)
            if (entry is not None and entry.get("csr") and not entry.get("certificate")
                    and (name, str(entry.get("csr"))) not in self._given_up):
                names.append(name)
        return names

    def _poll_one(self, name: str, token: Any) -> Outcome:
        return self.driver().poll(name, token)

    def poll(self) -> None:
        """Poll the pending requests that are due (never raises)."""
        now = self.host.clock.now()
        for name in self.pending():
            when = self._next.get(name)
            if when is not None and now < when:
                continue
            self._next[name] = now + _dt.timedelta(seconds=POLL_INTERVAL)
            entry = self.host.cmdb.entry(LOCAL, name)
            csr = str(entry.get("csr")) if entry is not None else ""
            try:
                outcome = self.host.run_cancellable(functools.partial(self._poll_one, name))
            except errors.FortiError as exc:
                if isinstance(exc, Refused):  # the CA refused it: stop polling it
                    self._given_up.add((name, csr))
                reason = " ".join(exc.lines)
                self.host.eventlog.write(LOGID_CERT_RENEW_FAILED, "error", "Certificate enrollment failed",
                                         f"SCEP request of certificate {name}: {reason}")
                continue
            except Exception:  # noqa: BLE001 - no traceback may reach a user
                self.host.log.error("SCEP poll of %s failed\n%s", name, traceback.format_exc())
                continue
            if outcome.notes:  # issued and stored, but the configuration file could not be saved
                self.host.log.error("SCEP poll of %s: %s", name, " ".join(outcome.notes))
            if not outcome.pending:
                self._next.pop(name, None)
                self.host.eventlog.write(LOGID_CERT_RENEWED, "information", "Certificate enrolled",
                                         f"Certificate {name} was issued over SCEP")
