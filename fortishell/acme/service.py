"""AcmeService: a device's ACME client -- orders on ``end``, renewals, status, the lab server.

* :meth:`on_commit` (a CMDB commit listener): ``end`` of a ``vpn certificate
  local`` entry with ``enroll-protocol acme2`` that has no certificate naming its
  ``acme-domain`` yet, or whose ACME settings changed, orders one.  FortiOS runs the order in the
  background; the emulator completes it before the prompt returns (lab
  transcripts stay deterministic) and prints nothing on success and one line
  on failure (the configuration change stays; ``diagnose sys acme
  status-full`` tells the rest).
* :meth:`poll` (run where EST renewals run): a certificate whose validity
  ends within ``acme-renew-window`` days on the device clock is ordered again;
  failures back off like EST renewals (5 min, 15 min, 1 h, then every 4 h; longer
  when the CA's refusal carried a longer ``Retry-After``, as ``rateLimited`` does) and
  go to the event log with the same ids.
* The http-01 answers come from the device's :class:`ChallengeResponder`, which
  listens only while ``config system acme`` names an ``interface`` (FortiOS
  answers on that interface's port 80).  Its port is ``--acme-http-port`` or an
  ephemeral one the embedded lab ACME server maps as the device's port 80.
* ``acme.lab`` (the lab network's ACME host) is an in-process
  :class:`~fortishell.lab.acmeserver.AcmeServer`, started on first use, issuing
  from the lab CA on the device clock.
"""

from __future__ import annotations

import datetime as _dt
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509

from fortishell import errors
from fortishell.est.cancel import Cancelled
from fortishell.eventlog import LOGID_CERT_RENEW_FAILED, LOGID_CERT_RENEWED
from fortishell.est.ports import ServiceHost

from .events import FlowFailure, Outcome
from .responder import ChallengeResponder
from .settings import AcmeSettings

LOCAL = ("vpn", "certificate", "local")
ACME_SYSTEM = ("system", "acme")
LAB_SERVICE = "acme"
WATCHED = ("enroll-protocol", "acme-ca-url", "acme-domain", "acme-email", "acme-rsa-key-size",
           "acme-eab-key-id", "acme-eab-key-hmac")
BACKOFF = (_dt.timedelta(minutes=5), _dt.timedelta(minutes=15), _dt.timedelta(hours=1), _dt.timedelta(hours=4))


class Host(ServiceHost, Protocol):
    """What the service uses of its device: the clients' common host, the state directory and
    ``--acme-http-port``."""

    state_dir: Path | None
    acme_http_port: int | None


@dataclass
class Status:
    """One managed domain's run-time status (``diagnose sys acme status-full``; mod_md's fields)."""

    name: str
    domain: str
    ca_url: str
    finished: bool = False
    errors: int = 0
    last_run: _dt.datetime | None = None
    next_run: _dt.datetime | None = None
    status: str = ""
    description: str = ""
    detail: str = ""
    activity: str = ""
    valid_from: float | None = None
    valid_until: float | None = None
    serial: str = ""
    renewed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class AcmeService:
    def __init__(self, host: Host) -> None:
        self.host = host
        self._lock = threading.RLock()
        self._responder: ChallengeResponder | None = None
        self._lab: Any = None
        self.status: dict[str, Status] = {}
        self._retry: dict[str, tuple[int, _dt.datetime]] = {}
        self.sleep: Any = None  # tests: a replacement for the cancellable poll waits
        self.poll_interval = 1.0
        # the acme2 entries of LOCAL, kept from the commits: every command asks which are due,
        # and a pass over every certificate entry made a command cost O(configuration)
        self._index_lock = threading.Lock()
        self._indexed: tuple[Any, int] | None = None  # (the CMDB, its version) the index is of
        self._acme2: dict[str, None] = {}  # names, in the order they were found or made

    # ------------------------------------------------------------ the responder and the lab
    @property
    def responder(self) -> ChallengeResponder:
        with self._lock:
            if self._responder is None:
                # a classroom lab-server's ACME server (--lab-server URL with acme=P&http01=Q) fetches
                # from this device's address at port Q: listen there, on every address
                classroom = getattr(self.host.network, "acme_http01_port", None)
                if isinstance(classroom, int):
                    self._responder = ChallengeResponder(self.host.acme_http_port or classroom, "0.0.0.0")
                else:
                    self._responder = ChallengeResponder(self.host.acme_http_port or 0)
            return self._responder

    def lab_endpoint(self) -> tuple[str, int]:
        """The embedded lab ACME server (``acme.lab:443``), started on first use."""
        from fortishell.lab.acmeserver import AcmeServer
        from fortishell.lab.crl import lab_ca_for

        with self._lock:
            if self._lab is None:
                state = self.host.state_dir / "est-lab" if self.host.state_dir is not None else None
                self._lab = AcmeServer(lab_ca_for(state), self._device_port80, now=self.host.clock.now).start()
            return self._lab.address  # type: ignore[no-any-return]

    @property
    def lab(self) -> Any:
        self.lab_endpoint()
        return self._lab

    def _device_port80(self, domain: str) -> tuple[str, int] | None:
        """The lab network maps every domain's port 80 to the device; a device that does not
        listen (no ``config system acme`` interface) refuses the connection."""
        from fortishell.lab.network import REFUSED

        with self._lock:
            responder = self._responder
        return responder.address if responder is not None and self._answering() else REFUSED

    def _answering(self) -> bool:
        entry = self.host.cmdb.entry(ACME_SYSTEM)
        return bool(entry is not None and str(entry.get("interface") or "").strip())

    def _resolve(self, host: str, port: int) -> tuple[str, int] | None:
        network = self.host.network
        if network is None or network.lab_host(host) is None:
            return None
        services = getattr(network, "extra_services", None)
        if isinstance(services, dict):
            services.setdefault(LAB_SERVICE, self.lab_endpoint)
        return network.resolve(host, port)  # type: ignore[no-any-return]

    # ------------------------------------------------------------ ordering
    def order(self, name: str) -> Outcome:
        """Order (or renew) ``name`` now; raises :class:`errors.AcmeError` (one line)."""
        entry = self.host.cmdb.entry(LOCAL, name)
        if entry is None:
            raise errors.AcmeError(f"ACME certificate '{name}' does not exist")
        try:
            settings = AcmeSettings.from_entry(name, entry)
        except FlowFailure as exc:
            raise errors.AcmeError(f"ACME certificate '{name}' failed: {exc.reason}") from None
        now = self.host.clock.now()
        st = self.status.setdefault(settings.domain, Status(name, settings.domain, settings.directory))
        st.name, st.ca_url, st.last_run, st.finished = name, settings.directory, now, False
        st.activity = f"Monitoring challenge status for {settings.domain}."
        from .driver import AcmeDriver  # httpx and the client load on the first order, not at start-up

        driver = AcmeDriver(self.host.cmdb, self.host.clock, self.host.tracer, self.responder,
                            resolve=self._resolve, sleep=self.sleep, poll_interval=self.poll_interval,
                            answering=self._answering())
        try:
            outcome = self.host.run_cancellable(lambda token: driver.order(settings, token))
        except Cancelled:
            st.status, st.description, st.activity = "cancelled", "The ACME order was cancelled", ""
            raise
        except errors.AcmeError as exc:
            st.errors += 1
            st.status, st.description = exc.problem or "error", "The ACME order failed"
            st.detail, st.activity = exc.lines[0] if exc.lines else "", ""
            raise
        renewed = st.valid_until is not None
        st.finished, st.errors, st.status = True, 0, "valid"
        st.description = ("The certificate for the managed domain has been renewed successfully and can be used"
                          if renewed else "The certificate for the managed domain has been obtained and can be used")
        st.detail, st.activity, st.serial = "", "", outcome.serial
        st.valid_from, st.valid_until = outcome.not_before, outcome.not_after
        st.renewed += int(renewed)
        st.next_run = _renew_at(outcome.not_after, settings.renew_window_days)
        self._retry.pop(name, None)
        return outcome

    def status_for(self, domain: str) -> Status | None:
        """The run-time status of ``domain``; after a restart (status is not saved) one rebuilt
        from the stored certificate of the acme2 entry managing it, else None."""
        domain = domain.strip().lower()
        if domain in self.status:
            return self.status[domain]
        for name in self.host.cmdb.keys(LOCAL):
            entry = self.host.cmdb.entry(LOCAL, name)
            if entry is None or entry.get("enroll-protocol") != "acme2" or \
                    str(entry.get("acme-domain") or "").lower() != domain or not entry.get("certificate"):
                continue
            try:
                cert = x509.load_pem_x509_certificate(str(entry.get("certificate")).encode("ascii"))
            except ValueError:
                continue
            window = int(entry.get("acme-renew-window") or 30)
            return Status(name, domain, str(entry.get("acme-ca-url") or ""), finished=True, status="valid",
                          description="The certificate for the managed domain can be used",
                          valid_from=cert.not_valid_before_utc.timestamp(),
                          valid_until=cert.not_valid_after_utc.timestamp(), serial=f"{cert.serial_number:x}",
                          next_run=_renew_at(cert.not_valid_after_utc.timestamp(), window))
        return None

    def _status_of(self, name: str) -> Status | None:
        return next((st for st in self.status.values() if st.name == name), None)

    def acme_entries(self) -> list[str]:
        """The names of the acme2 entries: a pass over the table when the CMDB is not the one
        indexed or changed without this service being told (its version moved), else the index."""
        cmdb = self.host.cmdb
        with self._index_lock:
            if self._indexed is None or self._indexed[0] is not cmdb or self._indexed[1] != cmdb.version:
                version = cmdb.version
                self._acme2 = {name: None for name in cmdb.keys(LOCAL)
                               if (entry := cmdb.entry(LOCAL, name)) is not None
                               and entry.get("enroll-protocol") == "acme2"}
                self._indexed = (cmdb, version)
            return list(self._acme2)

    def _index(self, changes: Any) -> None:
        """A commit's changes into the index; it is dropped (the next use scans) unless this is the
        one commit after the indexed version (two commits may fire in either order)."""
        cmdb = self.host.cmdb
        with self._index_lock:
            if self._indexed is None or self._indexed[0] is not cmdb or self._indexed[1] != cmdb.version - 1:
                self._indexed = None
                return
            for change in changes:
                if tuple(change.path) != LOCAL or change.key is None:
                    continue
                if change.new is not None and change.new.get("enroll-protocol") == "acme2":
                    self._acme2.setdefault(change.key, None)
                else:
                    self._acme2.pop(change.key, None)
            self._indexed = (cmdb, cmdb.version)

    def on_commit(self, changes: Any) -> list[str]:
        self._index(changes)  # before an order's own commit, which comes back here
        out: list[str] = []
        for change in changes:
            if tuple(change.path) != LOCAL or change.key is None or change.new is None:
                continue
            new, old = change.new, change.old
            if new.get("enroll-protocol") != "acme2":
                continue
            changed = old is None or any(old.get(a) != new.get(a) for a in WATCHED)
            if old is not None and old.get("certificate") != new.get("certificate") and not changed:
                continue  # the order's own store
            if changed or not _names(new.get("certificate"), str(new.get("acme-domain") or "")):
                out += self._guarded(change.key)
        return out

    def _guarded(self, name: str) -> list[str]:
        """The order a commit starts; the lines the commit shows (a failure, or the save failure of
        a certificate stored but not saved)."""
        try:
            outcome = self.order(name)
        except errors.FortiError as exc:
            return list(exc.lines)
        except Exception:  # noqa: BLE001 - no traceback may reach a user
            self.host.log.error("ACME order of %s failed\n%s", name, traceback.format_exc())
            return [f"ACME certificate '{name}' failed: internal error"]
        return list(outcome.notes)

    # ------------------------------------------------------------ renewal
    def due(self) -> list[str]:
        now = self.host.clock.now()
        out = []
        for name in self.acme_entries():
            entry = self.host.cmdb.entry(LOCAL, name)
            if entry is None or entry.get("enroll-protocol") != "acme2" or not entry.get("certificate"):
                continue
            try:
                cert = x509.load_pem_x509_certificate(str(entry.get("certificate")).encode("ascii"))
            except ValueError:
                continue
            window = int(entry.get("acme-renew-window") or 30)
            if now >= _renew_at(cert.not_valid_after_utc.timestamp(), window):
                out.append(name)
        return out

    def poll(self) -> list[str]:
        """Renew what is due (back-off after failures); returns the names renewed."""
        now, done = self.host.clock.now(), []
        for name in self.due():
            retry = self._retry.get(name)
            if retry is not None and now < retry[1]:
                continue
            try:
                outcome = self.order(name)
            except errors.FortiError as exc:
                failures = (retry[0] if retry else 0) + 1
                wait = BACKOFF[min(failures, len(BACKOFF)) - 1]
                asked = exc.retry_after if isinstance(exc, errors.AcmeError) else None
                if asked is not None:  # the CA's Retry-After (rateLimited) when it is the longer wait
                    wait = max(wait, _dt.timedelta(seconds=asked))
                self._retry[name] = (failures, now + wait)
                if (st := self._status_of(name)) is not None:
                    st.next_run = now + wait
                reason = exc.lines[0] if exc.lines else "failed"
                self.host.eventlog.write(LOGID_CERT_RENEW_FAILED, "error", "Certificate renewal failed",
                                         f"Failed to renew certificate {name} with ACME: {reason}; retry in "
                                         f"{int(wait.total_seconds() // 60)} minutes")
                continue
            if outcome.notes:  # renewed and stored, but the configuration file could not be saved
                self.host.log.error("ACME renewal of %s: %s", name, " ".join(outcome.notes))
            self.host.eventlog.write(LOGID_CERT_RENEWED, "information", "Certificate renewed",
                                     f"Certificate {name} was renewed with ACME")
            done.append(name)
        return done

    def close(self) -> None:
        with self._lock:
            responder, self._responder = self._responder, None
            lab, self._lab = self._lab, None
        if responder is not None:
            responder.stop()
        if lab is not None:
            lab.stop()


def _names(pem: Any, domain: str) -> bool:
    """The stored certificate exists and names ``domain`` (else ``end`` orders again)."""
    if not pem or not domain:
        return False
    try:
        cert = x509.load_pem_x509_certificate(str(pem).encode("ascii"))
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    return domain.lower() in [n.lower() for n in sans.get_values_for_type(x509.DNSName)]


def _renew_at(not_after: float, window_days: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(not_after, _dt.timezone.utc) - _dt.timedelta(days=window_days)
