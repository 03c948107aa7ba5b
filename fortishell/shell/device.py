"""One emulated box: configuration, clock, debug state, lab network, EST engine.

The :class:`Device` owns the CMDB and keeps the configuration file in step
with it (every committed change is saved atomically through ``cmdb.store``).
Streaming output (debug trace lines, background renewals) goes through
:meth:`Device.emit` to whatever sink the front end installed; the device itself
never prints.

Certificate lifecycle: the device owns the event log (``device.eventlog``,
what ``execute log display`` shows; ``device.log`` is the internal debug
logger) and the renewal service (``device.renewal``).  Renewals run

* at command boundaries: every session calls :meth:`Device.after_command`
  after each command (cheap unless something changed), so in script replay a
  renewal's trace follows the command that triggered it, deterministically;
* in the background: :meth:`start_background` starts a daemon thread that
  polls (the interactive front ends call it; replay never does).

``device.lock`` serialises commands, commits and renewals: a session holds it
while a command runs, a background poll only runs when it can take it at
once, so a renewal never runs in the middle of a commit.  A certificate held
open by an ``edit`` in any session is not renewed until the edit ends.

A failed renewal, automatic or manual (``execute vpn certificate local
generate est <existing>`` answered ``y``, through :meth:`Device.regenerate`),
keeps the old certificate and key (the engine is all-or-nothing) and marks the
entry's run-time ``state`` as ``RENEWAL FAILED`` (our choice; FortiOS does not
document it) until a renewal or regenerate succeeds (the engine stores
``state OK`` with the new certificate).  ``state`` is volatile, so the configuration file is not rewritten
for it and stays byte-identical.
"""

from __future__ import annotations

import logging
import threading
import traceback
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .. import warnlog
from ..clock import Clock
from ..errors import ConfigFileError, EstError, FortiError
from ..eventlog import EventLog
from ..renewal import LOCAL, Outcome, RenewalService
from ..trace import Tracer

SYSTEM_GLOBAL = ("system", "global")
DEFAULT_HOSTNAME = "FortiProxy"
RENEWAL_FAILED_STATE = "RENEWAL FAILED"

if TYPE_CHECKING:
    from cryptography import x509

    from ..acme.service import AcmeService
    from ..cmdb.owner import OwnerLock
    from ..scep.service import ScepService
    from ..est.settings import EstSettings
    from .services import Enrollment

Sink = Callable[[str], None]
T = TypeVar("T")


class Device:
    """An emulated FortiProxy.  Create with :meth:`open` (which locks the file), or directly (tests: no lock)."""

    def __init__(
        self,
        cmdb: Any,
        clock: Clock,
        *,
        config_path: Path | None = None,
        state_dir: Path | None = None,
        lab_server_url: str | None = None,
        journal: bool = False,
        base_text: str | None = None,
    ) -> None:
        from .persist import Persistence

        self.clock = clock
        self.config_path = config_path
        self.state_dir = state_dir
        self.lab_server_url = lab_server_url
        self._sink_lock = threading.RLock()
        self._sink: Sink | None = None
        self.tracer = Tracer(clock, sink=self.emit)
        self._network: Any = None
        self._engine: "Enrollment | None" = None
        self.log = _debug_logger(state_dir)
        self.lock = threading.RLock()
        self._tl = threading.local()  # per command thread: inline mode, owed renewals
        self.eventlog = EventLog(clock)
        self.log_category = "event"  # `execute log filter category`
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()
        self._bg_thread: threading.Thread | None = None
        self._bg_stop: threading.Event | None = None
        self._operations: dict[Any, int] = {}  # running EST operations: cancellation token -> thread id
        self._operations_lock = threading.Lock()
        self.cmdb = cmdb
        self.owner: OwnerLock | None = None  # the file's lock (Device.open), released by close()
        self.persistence = Persistence(config_path, self.log, self.lock, lambda: self.cmdb,
                                       journal=journal, base_text=base_text)
        self.renewal: RenewalService
        self.acme_http_port: int | None = None  # --acme-http-port: where the http-01 responder listens
        self._acme: "AcmeService | None" = None
        self._scep: "ScepService | None" = None
        # vpn certificate local entry -> its enroll-protocol, kept from the commits (protocol_entries)
        self._protocols: dict[str, str] = {}
        self._by_protocol: dict[str, set[str]] = {}
        self._protocols_of: tuple[Any, int] | None = None  # the (CMDB, version) the index is of
        self._protocols_lock = threading.Lock()
        self._wire(cmdb)

    # ------------------------------------------------------------ creation
    @classmethod
    def open(
        cls,
        config_path: Path | None,
        state_dir: Path,
        clock: Clock,
        lab_server_url: str | None = None,
        *,
        journal: bool = False,
    ) -> "Device":
        """Boot from ``config_path`` when it exists, else from factory defaults (and write it).

        ``journal``: commits are made durable through the journal (O(change),
        see ``shell/persist.py``) instead of whole-file saves.  Either way a
        journal left by a crash is replayed first and the file rewritten.  The file is
        locked first (``cmdb/owner.py``: one owner per configuration file, until
        :meth:`close`); :class:`~fortishell.errors.ConfigInUse` when another holds it.
        """
        from ..cmdb import owner

        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        lock = owner.acquire(Path(config_path), _debug_logger(state_dir)) if config_path is not None else None
        try:
            dev = cls._boot(config_path, state_dir, clock, lab_server_url, journal=journal)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        dev.owner = lock
        return dev

    @classmethod
    def _boot(cls, config_path: Path | None, state_dir: Path, clock: Clock, lab_server_url: str | None, *,
              journal: bool) -> "Device":
        """:meth:`open` once the file is locked: where a device reads its file and journal."""
        from ..cmdb import factory, store
        from .persist import journal_left, open_cmdb

        text: str | None = None
        replayed = 0
        if config_path is not None:
            store.remove_stale_temps(config_path)  # left by a save that was killed
        if config_path is not None and Path(config_path).exists():
            cmdb, text, replayed = open_cmdb(Path(config_path), _debug_logger(state_dir))
            fresh = False
        else:
            cmdb = factory.factory_cmdb()
            fresh = True
        dev = cls(cmdb, clock, config_path=Path(config_path) if config_path else None,
                  state_dir=state_dir, lab_server_url=lab_server_url, journal=journal, base_text=text)
        if fresh or replayed or (config_path is not None and journal_left(Path(config_path))):
            dev.persistence.rewrite()  # journal files left (even with nothing to replay) are retired
        return dev

    def _wire(self, cmdb: Any) -> None:
        cmdb.on_commit(lambda changes, _c=cmdb: self._on_commit(_c, changes))
        self.renewal = RenewalService(cmdb, self.clock, self._renew, self.eventlog, tracer=self.tracer)
        self.renewal.held = self._held
        cmdb.on_commit(self._acme_on_commit)  # `end` of an acme2 entry orders
        cmdb.on_commit(lambda changes, _c=cmdb: self._index_protocols(_c, changes))

    def _on_commit(self, cmdb: Any, changes: Any = ()) -> None:
        if cmdb is self.cmdb and not all(_runtime_only(c) for c in changes or [None]):
            try:
                self.persistence.committed(cmdb, changes)
            except OSError as exc:  # translated at the boundary
                raise ConfigFileError(f"Failed to save configuration: {exc.strerror or exc}") from exc

    def _acme_on_commit(self, changes: Any) -> list[str]:
        """The ACME client's listener; the client is loaded by the first commit of an acme2 entry
        (before it there is nothing to order, and once loaded it indexes the table itself), so a
        device without one neither imports it nor asks it about every commit and command."""
        if self._acme is None and not any(tuple(c.path) == LOCAL and c.new is not None
                                          and c.new.get("enroll-protocol") == "acme2" for c in changes):
            return []
        return self.acme.on_commit(changes)

    def deferred_sync(self) -> AbstractContextManager[None]:
        """A context: commits made inside it on this thread are waited for at :meth:`sync`.

        Front ends wrap a command (and the lock it takes) in it, then call
        :meth:`sync` once the lock is released: the disk is waited for outside
        the lock, and before the command's reply.
        """
        return self.persistence.deferred()

    def sync(self) -> list[str]:
        """Wait until this thread's commits are durable; FortiOS-style error lines if the disk failed."""
        return self.persistence.sync()

    # ------------------------------------------------------------ state
    @property
    def hostname(self) -> str:
        entry = self.cmdb.entry(SYSTEM_GLOBAL)
        name = entry.get("hostname") if entry is not None else None
        return str(name) if name else DEFAULT_HOSTNAME

    def save(self) -> None:
        """Write the configuration file (atomic); no-op without a path."""
        try:
            self.persistence.save()
        except FortiError:
            raise
        except OSError as exc:  # translated at the boundary
            raise ConfigFileError(f"Failed to save configuration: {exc.strerror or exc}") from exc

    def factory_reset(self) -> None:
        """Restore the factory-default configuration, debug state and engine."""
        from ..cmdb import factory

        with self.lock:
            self.cmdb = factory.factory_cmdb()
            self._wire(self.cmdb)
        self.tracer.reset()
        self._engine = None
        self._scep = None
        self.save()

    # ------------------------------------------------------------ output
    def set_sink(self, sink: Sink | None) -> Sink | None:
        """Install the front end's line sink; returns the previous one."""
        with self._sink_lock:
            old, self._sink = self._sink, sink
            return old

    def emit(self, line: str) -> None:
        """Stream one line to the front end (thread-safe; dropped when none is attached)."""
        with self._sink_lock:
            sink = self._sink
            if sink is not None:
                sink(line)

    # ------------------------------------------------------------ services
    @property
    def network(self) -> Any:
        if self._network is None:
            from ..lab.network import LabNetwork

            self._network = LabNetwork(
                lab_server_url=self.lab_server_url, state_dir=self.state_dir, clock=self.clock
            )
            self._network.extra_services["acme"] = self.acme.lab_endpoint
        return self._network

    @property
    def acme(self) -> "AcmeService":
        """The ACME client (``acme/service.py``): orders on ``end``, renewals, status, ``acme.lab``."""
        if self._acme is None:
            from ..acme.service import AcmeService

            self._acme = AcmeService(self)
        return self._acme

    @property
    def scep(self) -> "ScepService":
        """The SCEP client (``scep/service.py``): enrollments, pending requests, renewals."""
        if self._scep is None:
            from ..scep.service import ScepService

            self._scep = ScepService(self)
        return self._scep

    @property
    def engine(self) -> "Enrollment":
        if self._engine is None:
            from ..est.engine import EstEngine

            self._engine = EstEngine(self.cmdb, self.clock, self.tracer, self.network)
        return self._engine

    # ------------------------------------------------------------ lifecycle
    def attach(self, session: Any) -> None:
        """Register a CLI session (its open edits hold certificates back from renewal)."""
        self._sessions.add(session)

    def _held(self, name: str) -> bool:
        for sess in list(self._sessions):
            for frame in getattr(sess, "stack", ()):
                if frame.buf is not None and tuple(frame.path) == LOCAL and frame.key == name:
                    return True
        return False

    # ------------------------------------------------------------ EST operations (cancellable)
    def _cancellable(self, work: Callable[[Any], T]) -> T:
        """Run ``work(token)`` with a fresh cancellation token that :meth:`cancel` reaches."""
        from ..est.cancel import CancelToken

        token = CancelToken()
        with self._operations_lock:
            self._operations[token] = threading.get_ident()
        try:
            return work(token)
        finally:
            with self._operations_lock:
                self._operations.pop(token, None)

    def run_cancellable(self, work: Callable[[Any], T]) -> T:
        """:meth:`_cancellable` for other services (the ACME client's orders)."""
        return self._cancellable(work)

    def cancel(self, thread: int | None = None) -> bool:
        """Cancel the EST operations running on ``thread`` (a command's worker; None: all of them).

        For Ctrl-C and SIGINT/SIGTERM, from any thread.  The operation ends itself within a
        second (its trace ends with ``est_ctx_clear_tmp_data``, nothing is stored) and its command
        fails with a ``... cancelled.`` line.  Returns True when an operation was running.
        """
        with self._operations_lock:
            tokens = [t for t, owner in self._operations.items() if thread is None or owner == thread]
        for token in tokens:
            token.cancel()
        return bool(tokens)

    def enroll(self, settings: "EstSettings") -> list[str]:
        """``generate est`` of a new certificate (see :mod:`fortishell.est.engine`)."""
        return self._cancellable(lambda token: list(self.engine.generate(settings, token)))

    def fetch_cacerts(self, settings: "EstSettings", *, bootstrap: bool = False) -> list["x509.Certificate"]:
        """A server's CA certificates (``/cacerts``), verified, not stored (``bootstrap``: the
        TLS server is not authenticated; see ``EstEngine.fetch_cacerts``)."""
        return self._cancellable(lambda token: list(self.engine.fetch_cacerts(settings, token, bootstrap=bootstrap)))

    def _renew(self, name: str) -> list[str]:
        """The renewal service's worker: the EST engine's renewal, or the SCEP client's for an entry
        with ``enroll-protocol scep``; failures mark the run-time state.  A renewal stored when the
        configuration file then could not be written is done (the entry holds the new certificate)
        and its lines, the save failure, go to debug.log: a background renewal has no command."""
        entry = self.cmdb.entry(LOCAL, name)
        if entry is not None and entry.get("enroll-protocol") == "scep":
            lines = self._marking_failure(name, lambda: self.scep.renew(name))
        else:
            lines = self._marking_failure(name, lambda: self._cancellable(lambda t: self.engine.renew(name, t)))
        if lines:
            self.log.error("renewal of %s: %s", name, " ".join(lines))
        return lines

    def regenerate(self, name: str) -> list[str]:
        """A manual re-enrollment of an existing certificate; a failure marks the run-time state
        like a failed renewal, then propagates (the command fails).  A cancellation leaves the
        entry as it was."""
        return self._marking_failure(
            name, lambda: self._cancellable(lambda t: list(self.engine.regenerate(name, t))))

    def _marking_failure(self, name: str, work: Callable[[], list[str]]) -> list[str]:
        from ..est.cancel import Cancelled

        try:
            return work()
        except Cancelled:
            raise
        except FortiError:
            self._set_state(name, RENEWAL_FAILED_STATE)
            raise
        except Exception as exc:  # noqa: BLE001 - translated: the service backs off and retries
            self.log.error("renewal of %s failed\n%s", name, traceback.format_exc())
            self._set_state(name, RENEWAL_FAILED_STATE)
            raise EstError(f"EST re-enrollment of certificate '{name}' failed: internal error") from exc

    def _set_state(self, name: str, state: str) -> None:
        """Store the run-time ``state`` (volatile: the configuration file is not rewritten)."""
        try:
            with self.cmdb.transaction() as tx:
                if tx.get(LOCAL, name) is not None:
                    tx.put(LOCAL, name, {"state": state})
        except FortiError:
            self.log.error("cannot set state of %s\n%s", name, traceback.format_exc())

    def poll_renewals(self, *, force: bool = False, wait: bool = True) -> list[Outcome]:
        """Run the renewals that are due now; never raises.

        ``wait=False`` (the background thread) gives up at once when a command
        or another renewal holds the device.
        """
        if not self.lock.acquire(blocking=wait):
            return []
        try:
            outcomes = self.renewal.poll(force=force)
            if self._acme is not None or self._has_acme_entries():
                self.acme.poll()  # the ACME client loads only where an acme2 entry exists
            if self._scep is not None or self._has_protocol_entries("scep"):
                self.scep.poll()  # pending SCEP requests
            return outcomes
        except Exception:  # noqa: BLE001 - no traceback may reach a user
            self.log.error("renewal poll failed\n%s", traceback.format_exc())
            return []
        finally:
            self.lock.release()

    def _has_acme_entries(self) -> bool:
        return self._has_protocol_entries("acme2")

    def _has_protocol_entries(self, protocol: str) -> bool:
        return bool(self.protocol_entries(protocol))

    def protocol_entries(self, protocol: str) -> list[str]:
        """The ``vpn certificate local`` entries with ``enroll-protocol PROTOCOL``.  Asked after every
        command, so it must not grow with the configuration (bench/commit_cost.py): the answer comes
        from an index the commits keep, and the table is read again only when the CMDB is another
        one or changed without a commit this device saw (its version moved)."""
        cmdb = self.cmdb
        with self._protocols_lock:
            if self._protocols_of is None or self._protocols_of[0] is not cmdb or self._protocols_of[1] != cmdb.version:
                version = cmdb.version
                self._protocols, self._by_protocol = {}, {}
                for name in cmdb.keys(LOCAL):
                    if (entry := cmdb.entry(LOCAL, name)) is not None:
                        self._note_protocol(name, str(entry.get("enroll-protocol") or "none"))
                self._protocols_of = (cmdb, version)
            return sorted(self._by_protocol.get(protocol, ()))

    def _note_protocol(self, name: str, protocol: str | None) -> None:
        """Entry ``name`` now has ``protocol`` (None: deleted), in both directions of the index."""
        old = self._protocols.pop(name, None)
        if old is not None:
            self._by_protocol[old].discard(name)
        if protocol is not None:
            self._protocols[name] = protocol
            self._by_protocol.setdefault(protocol, set()).add(name)

    def _index_protocols(self, cmdb: Any, changes: Any) -> None:
        """A commit's changes into the index; it is dropped (the next use reads the table) unless this
        is the one commit after the indexed version."""
        with self._protocols_lock:
            if self._protocols_of is None or self._protocols_of[0] is not cmdb \
                    or self._protocols_of[1] != cmdb.version - 1:
                self._protocols_of = None
                return
            for change in changes:
                if tuple(change.path) != LOCAL or change.key is None:
                    continue
                if change.old is not None and change.new is not None and "enroll-protocol" not in change.touched:
                    continue  # the entry keeps its protocol
                self._note_protocol(change.key, None if change.new is None
                                    else str(change.new.get("enroll-protocol") or "none"))
            self._protocols_of = (cmdb, cmdb.version)

    def after_command(self) -> None:
        """The command-boundary hook every session calls after a command (or an answer).

        Inside :meth:`inline` a renewal that is due is not run here (it may
        talk to an EST server): it is owed, and :meth:`take_owed_renewals`
        tells the front end to run this hook again where it may block.
        """
        if getattr(self._tl, "inline", False) and self.renewal.pending():
            self._tl.owed = True
            return
        self.poll_renewals()

    def inline(self) -> AbstractContextManager[None]:
        """A command run on the front end's event loop: nothing in it may block (see :meth:`after_command`)."""
        return _Inline(self._tl)

    def take_owed_renewals(self) -> bool:
        owed = bool(getattr(self._tl, "owed", False))
        self._tl.owed = False
        return owed

    def take_sync_ticket(self) -> int:
        """This thread's last commit not yet waited for (see :meth:`wait_durable`); 0: none."""
        return self.persistence.take_ticket()

    def when_durable(self, ticket: int, callback: Callable[[list[str]], None]) -> None:
        """``callback(error lines)`` (from any thread) once commit ``ticket`` is on disk."""
        self.persistence.when_durable(ticket, callback)

    def wait_durable(self, ticket: int) -> list[str]:
        """Wait (any thread) until commit ``ticket`` is on disk; error lines if the disk failed."""
        return self.persistence.wait_ticket(ticket)

    def start_background(self, interval: float = 1.0) -> None:
        """Poll for renewals every ``interval`` seconds on a daemon thread (interactive front ends)."""
        if self._bg_thread is not None and self._bg_thread.is_alive():
            return
        stop = threading.Event()
        thread = threading.Thread(target=self._background, args=(interval, stop),
                                  name="fortishell-renewal", daemon=True)
        self._bg_stop, self._bg_thread = stop, thread
        thread.start()

    def stop_background(self, timeout: float = 5.0) -> None:
        stop, thread = self._bg_stop, self._bg_thread
        self._bg_stop = self._bg_thread = None
        if stop is not None:
            stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _background(self, interval: float, stop: threading.Event) -> None:
        while not stop.wait(interval):
            self.poll_renewals(wait=False)

    def close(self) -> None:
        self.stop_background()
        if self._acme is not None:
            self._acme.close()  # its orders end before the final compaction
        try:
            self.persistence.close()
        finally:
            if self.owner is not None:
                self.owner.release()
        if self._network is not None:
            try:
                self._network.close()
            finally:
                self._network = None
        self.set_sink(None)


class _Inline:
    """The context of :meth:`Device.inline` (a class: entered by every command run on the loop)."""

    __slots__ = ("_tl",)

    def __init__(self, tl: threading.local) -> None:
        self._tl = tl

    def __enter__(self) -> None:
        self._tl.inline = True

    def __exit__(self, *exc: object) -> None:
        self._tl.inline = False


def _runtime_only(change: Any) -> bool:
    """True when a committed change touches volatile (run-time) attributes only."""
    if change is None or change.old is None or change.new is None or change.reordered:
        return False  # a move changes no attribute, but the table's order: saved
    old, new = change.old, change.new
    for key in change.touched:
        spec = old.spec.attr(key)
        if spec is None or not spec.volatile:
            return False
    return all(old.sub(s.name) == new.sub(s.name) for s in old.spec.subtables)


def _debug_logger(state_dir: Path | None) -> logging.Logger:
    """A per-state-dir logger writing internal errors to ``<state_dir>/debug.log``."""
    name = f"fortishell.device.{state_dir}" if state_dir else "fortishell.device"
    log = logging.getLogger(name)
    log.propagate = False
    if state_dir is not None and not log.handlers:
        try:
            Path(state_dir).mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(Path(state_dir) / "debug.log", encoding="utf-8", delay=True)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
            warnlog.attach(handler)  # captured Python warnings land in debug.log too
        except OSError:
            pass
    return log
