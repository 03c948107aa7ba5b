"""Automatic renewal of EST-enrolled local certificates (the guide's Example 2).

The service watches every ``vpn certificate local`` entry with
``enroll-protocol est`` on the device clock and renews it when the whole days
left before ``valid-to`` are at most ``auto-regenerate-days`` (0 = never).
Counting whole days (the remainder floored) is what the guide's Example 2
shows: a certificate issued minutes earlier for 365 days has 364 whole days
left, so ``set auto-regenerate-days 364`` renews it at once, while the renewed
certificate (365 whole days left) is not due again.  The event log gets one
warning per certificate when the days left are at most
``auto-regenerate-days-warning``.

It does no I/O itself: ``renew(name)`` (the EST engine) does the work and
raises a FortiError on failure.  Checks run when :meth:`poll` is called; a
committed change to a local certificate or a jump of the clock marks the
service dirty so that the next poll checks at once (replay polls at command
boundaries, which keeps transcripts deterministic; the REPL also polls from a
background thread).

A renewal cancelled with Ctrl-C (or SIGINT/SIGTERM in replay) stores nothing
and counts as a failed attempt (reason ``cancelled``; the entry is not marked
``RENEWAL FAILED``), so it is not restarted at once.

Failed renewals keep the old certificate (the engine is all-or-nothing) and
are retried with back-off on the device clock: 5 min, 15 min, 1 h, 4 h, then
every 24 h (FortiOS's retry schedule is undocumented; this is our choice).  A
certificate that is still due right after a successful renewal (e.g.
auto-regenerate-days larger than the CA's validity period) is not renewed again
for 24 h, so a misconfiguration cannot make the service loop.

Time passing on a running clock makes certificates due without any event, so
the service also remembers the next instant at which something can change (a
certificate becoming due, a warning threshold, the end of a back-off) and a
plain :meth:`poll` checks again once that instant is reached; polling stays
cheap (no certificate is parsed) in between.

``held(name)`` (set by the device) names certificates that must not be
renewed now because an edit buffer holds them open: renewing under an open
``edit`` would let the following ``next`` write the old certificate back.
They are checked again at the next poll.

With est debugging on, the service prints two lines of its own (FortiOS's
renewal daemon lines are not in the guide; the catalogue-style points below
are our choice): the expiry warning and the reason of a failed renewal, which
then ends the renewal's trace.
"""

from __future__ import annotations

import datetime as _dt
import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any


from .errors import FortiError
from .est.cancel import Cancelled
from .est.ports import Change, Clock, Cmdb, Entry, EventLog, Tracer
from .eventlog import (
    LOGID_CERT_EXPIRE_WARNING,
    LOGID_CERT_RENEW_FAILED,
    LOGID_CERT_RENEWED,
)
from .trace import TracePoint

if TYPE_CHECKING:  # cryptography's x509 loads at the first certificate looked at, not at start-up
    from cryptography import x509

LOCAL = ("vpn", "certificate", "local")
BACKOFF = (
    _dt.timedelta(minutes=5),
    _dt.timedelta(minutes=15),
    _dt.timedelta(hours=1),
    _dt.timedelta(hours=4),
    _dt.timedelta(hours=24),
)
HOLD_AFTER_RENEWAL = _dt.timedelta(hours=24)
# Trace points of the renewal service (application ``est``, or ``scep`` for an SCEP certificate);
# not in the guide.
TRACE_APP = "est"
EXPIRY_WARNING = TracePoint(
    2498, "est_cert_expiry_check", "Certificate {name} will expire in {days} days ({not_after} GMT)")
RENEWAL_FAILED = TracePoint(
    2512, "est_auto_regen", "Failed to renew certificate {name}: {reason}. Retry in {minutes} minutes.")

# the protocols this service renews, and how the event log names them (ACME renews itself:
# acme/service.py, on its own window)
RENEWABLE = {"est": "EST", "scep": "SCEP"}
_WATCHED = {"auto-regenerate-days", "auto-regenerate-days-warning", "certificate", "enroll-protocol"}


@dataclass
class _Retry:
    failures: int
    not_before: _dt.datetime


@dataclass(frozen=True)
class Outcome:
    name: str
    ok: bool
    lines: tuple[str, ...]


class RenewalService:
    """Decides when certificates are due and calls ``renew`` for them."""

    def __init__(self, cmdb: Cmdb, clock: Clock, renew: Callable[[str], list[str]], log: EventLog,
                 tracer: Tracer | None = None) -> None:
        self._cmdb = cmdb
        self._clock = clock
        self._renew = renew
        self._log = log
        self._tracer = tracer
        self.held: Callable[[str], bool] = lambda _name: False
        self._lock = threading.Lock()
        self._dirty = True
        self._next_check: _dt.datetime | None = None
        self._retry: dict[str, _Retry] = {}
        self._warned: set[tuple[str, _dt.datetime]] = set()
        cmdb.on_commit(self._on_commit)
        clock.on_change(lambda _old, _new: self.mark())

    # ------------------------------------------------------------ triggers
    def mark(self) -> None:
        """Something changed: the next :meth:`poll` checks every certificate."""
        self._dirty = True

    def _on_commit(self, changes: Iterable[Change]) -> None:
        for change in changes:
            if tuple(change.path) != LOCAL or change.key is None:
                continue
            old = change.old
            new = change.new
            if new is None:
                self._retry.pop(change.key, None)
                continue
            if old is None or not change.touched.isdisjoint(_WATCHED) \
                    and any(_get(old, a) != _get(new, a) for a in _WATCHED):  # (no stored value moved: none did)
                # an explicit configuration change deserves a fresh attempt
                if old is None or _get(old, "certificate") == _get(new, "certificate"):
                    self._retry.pop(change.key, None)
                if _enrolled(new) or (old is not None and _enrolled(old)):
                    self._dirty = True  # else no check can find anything new: no scan of every entry

    # ------------------------------------------------------------ checking
    def poll(self, *, force: bool = False) -> list[Outcome]:
        """Check now if something changed, a scheduled instant passed, or ``force``.

        Never runs two checks at once (a concurrent call returns ``[]``).
        """
        if not (self._dirty or force or self._time_reached()):
            return []
        if not self._lock.acquire(blocking=False):
            return []
        try:
            self._dirty = False
            return self._check()
        finally:
            self._lock.release()

    def pending(self) -> bool:
        """:meth:`poll` would check now (cheap: no certificate is looked at)."""
        return self._dirty or self._time_reached()

    def _time_reached(self) -> bool:
        when = self._next_check
        return when is not None and self._clock.now() >= when

    def due(self) -> list[str]:
        """Names of the certificates that are due for renewal now (ignoring back-off)."""
        now = self._clock.now()
        return [name for name, entry, cert in self._watched() if _is_due(entry, cert, now)]

    def _watched(self) -> Iterator[tuple[str, Entry, x509.Certificate]]:
        for name in list(self._cmdb.keys(LOCAL)):
            entry = self._cmdb.entry(LOCAL, name)
            if entry is None or _get(entry, "enroll-protocol") not in RENEWABLE:
                continue
            pem = _get(entry, "certificate")
            if not pem:
                continue
            try:
                cert = _load_pem(pem)
            except ValueError:
                continue
            yield name, entry, cert

    def _check(self) -> list[Outcome]:
        now = self._clock.now()
        outcomes: list[Outcome] = []
        for name, entry, cert in list(self._watched()):
            self._maybe_warn(name, entry, cert, now)
            if not _is_due(entry, cert, now):
                continue
            retry = self._retry.get(name)
            if retry is not None and now < retry.not_before:
                continue
            if self.held(name):
                self._dirty = True  # try again at the next poll
                continue
            outcomes.append(self._attempt(name, cert, now))
        self._next_check = self._schedule(self._clock.now())
        return outcomes

    def _schedule(self, now: _dt.datetime) -> _dt.datetime | None:
        """The earliest future instant at which a check could find something new."""
        times: list[_dt.datetime] = [r.not_before for r in self._retry.values() if r.not_before > now]
        for name, entry, cert in self._watched():
            not_after = cert.not_valid_after_utc
            for attr in ("auto-regenerate-days", "auto-regenerate-days-warning"):
                days = int(_get(entry, attr) or 0)
                if days > 0:
                    # whole days left <= days  <=>  now > not_after - (days + 1) days
                    when = not_after - _dt.timedelta(days=days + 1) + _dt.timedelta(microseconds=1)
                    if when > now:
                        times.append(when)
        return min(times) if times else None

    def _attempt(self, name: str, cert: x509.Certificate, now: _dt.datetime) -> Outcome:
        try:
            lines = self._renew(name)
        except FortiError as err:
            failures = (self._retry[name].failures if name in self._retry else 0) + 1
            wait = BACKOFF[min(failures, len(BACKOFF)) - 1]
            self._retry[name] = _Retry(failures, now + wait)
            reason = _short_reason(err)
            self._trace(name, RENEWAL_FAILED, name=name, reason=reason, minutes=int(wait.total_seconds() // 60))
            self._log.write(
                LOGID_CERT_RENEW_FAILED, "error", "Certificate renewal failed",
                f"Failed to renew certificate {name} with {self._protocol(name)}: {reason}; "
                f"retry in {int(wait.total_seconds() // 60)} minutes",
            )
            return Outcome(name, False, tuple(err.output()))
        self._retry.pop(name, None)
        self._log.write(LOGID_CERT_RENEWED, "information", "Certificate renewed",
                        f"Certificate {name} was renewed with {self._protocol(name)}")
        renewed = self._cmdb.entry(LOCAL, name)
        if renewed is not None:
            try:
                new_cert = _load_pem(_get(renewed, "certificate"))
            except (ValueError, AttributeError):
                new_cert = None
            if new_cert is not None and _is_due(renewed, new_cert, self._clock.now()):
                self._retry[name] = _Retry(0, self._clock.now() + HOLD_AFTER_RENEWAL)
        return Outcome(name, True, tuple(lines))

    def _protocol(self, name: str) -> str:
        entry = self._cmdb.entry(LOCAL, name)
        return RENEWABLE.get(str(_get(entry, "enroll-protocol")) if entry is not None else "est", "EST")

    def _maybe_warn(self, name: str, entry: Entry, cert: x509.Certificate, now: _dt.datetime) -> None:
        days = int(_get(entry, "auto-regenerate-days-warning") or 0)
        not_after = cert.not_valid_after_utc
        if days <= 0 or _days_left(cert, now) > days:
            return
        if (name, not_after) in self._warned:
            return
        self._warned.add((name, not_after))
        left = max(0, (not_after - now).days)
        self._trace(name, EXPIRY_WARNING, name=name, days=left, not_after=f"{not_after:%Y-%m-%d %H:%M:%S}")
        self._log.write(
            LOGID_CERT_EXPIRE_WARNING, "warning", "Certificate expiring",
            f"Certificate {name} will expire in {left} days ({not_after:%Y-%m-%d %H:%M:%S} GMT)",
        )

    def _trace(self, entry_name: str, point: TracePoint, **values: Any) -> None:
        """A renewal-service line on the debug application of the entry's protocol: an SCEP
        certificate's lines are the SCEP daemon's (``scep/catalogue.py``), under ``diagnose debug
        application scep``."""
        if self._tracer is not None:
            entry = self._cmdb.entry(LOCAL, entry_name)
            if entry is not None and _get(entry, "enroll-protocol") == "scep":
                from .scep import catalogue as scep_lines

                scep_point = {EXPIRY_WARNING: scep_lines.EXPIRY_WARNING, RENEWAL_FAILED: scep_lines.RENEWAL_FAILED}
                self._tracer.emit(scep_lines.APP, scep_point[point], **values)
            else:
                self._tracer.emit(TRACE_APP, point, **values)


def _short_reason(err: FortiError) -> str:
    """The failure reason without the engine's ``EST re-enrollment of ... failed:`` lead-in
    (a cancelled renewal: ``cancelled``)."""
    if isinstance(err, Cancelled):
        return "cancelled"
    text = " ".join(line for line in err.lines if line).strip()
    head, sep, tail = text.partition(" failed: ")
    return (tail if sep and tail else text) or "unknown error"


@functools.lru_cache(maxsize=256)
def _load_pem(pem: str) -> "x509.Certificate":
    """The certificate of ``pem``, parsed once: the watch walks the renewable certificates after
    every command and every second at the prompt (certificates are immutable, so one parsed
    object serves every walk; a PEM that does not parse raises each time, uncached)."""
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode())


def _get(entry: Entry, attr: str) -> Any:
    return entry.get(attr)


def _enrolled(entry: Entry) -> bool:
    """An entry :meth:`RenewalService._watched` looks at (EST, with a certificate)."""
    return _get(entry, "enroll-protocol") in RENEWABLE and bool(_get(entry, "certificate"))


def _is_due(entry: Entry, cert: x509.Certificate, now: _dt.datetime) -> bool:
    days = int(_get(entry, "auto-regenerate-days") or 0)
    return days > 0 and _days_left(cert, now) <= days


def _days_left(cert: x509.Certificate, now: _dt.datetime) -> int:
    """Whole days until the certificate expires (floored; negative once expired)."""
    return (cert.not_valid_after_utc - now).days
