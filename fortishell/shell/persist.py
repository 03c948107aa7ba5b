"""How a device keeps its configuration file in step with the CMDB.

Two modes, one interface (:class:`Persistence`):

* whole-file saves (``journal=False``, the default of :meth:`Device.open`): every
  commit rewrites the file atomically (``store.save``), before ``next``/``end``
  returns; simple, O(configuration) per commit;
* journal (``journal=True``: ``fortishell serve``, ``run`` and the interactive
  shell): a commit appends its change to the journal (``cmdb/journal.py``) and
  is durable once the record is fsynced, O(change); the whole file is
  rewritten by a compaction in the background (when the journal outgrows the
  file) and when the device closes.

Durability is waited for after the command releases the device lock
(:meth:`Persistence.deferred` / :meth:`Persistence.sync`): the CMDB is locked
only while the change is made, never for the disk; another session's ``show``
or ``get`` does not wait for anybody's fsync.  A caller that does not defer
(a background renewal, a test driving the CMDB directly) waits inside the
commit, as with whole-file saves.

Whichever mode: a journal a crash left is replayed by :func:`open_cmdb`, and the
file rewritten at once.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigFileError, FortiError

COMPACT_MIN_BYTES = 256 * 1024  # below this the journal is never compacted in the background
COMPACT_RATIO = 1.0  # ... nor while it is smaller than this share of the file (amortised O(change))


def load_saved(config_path: Path) -> Any:
    """The configuration a device on ``config_path`` has saved: the file plus its journal
    (what a restart would boot; nothing on disk is changed)."""
    return open_cmdb(Path(config_path), logging.getLogger("fortishell.persist"), set_aside=False)[0]


def journal_left(config_path: Path) -> bool:
    """Journal files are on disk beside ``config_path`` (a start-up rewrite retires them)."""
    from ..cmdb import journal

    return journal.pending_files(Path(config_path))


def durable_timeout() -> float:
    """Seconds a command waits for its commit to reach the disk (then: not confirmed)."""
    from ..cmdb import journal

    return journal.WAIT_TIMEOUT


def not_confirmed() -> list[str]:
    """The lines of a command whose commit the disk did not confirm within :func:`durable_timeout`."""
    from ..cmdb import journal

    return journal.not_confirmed(journal.WAIT_TIMEOUT).output()


def open_cmdb(config_path: Path, log: logging.Logger, *, set_aside: bool = True) -> tuple[Any, str, int]:
    """``(cmdb, file text, journal records replayed)`` of an existing configuration file."""
    from ..cmdb import journal, store

    try:
        text = store.read_config_text(config_path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read configuration file {config_path}: {exc}") from exc
    try:
        cmdb = store.loads(text)
    except ConfigFileError as exc:
        exc.lines[0] = f"{config_path}: {exc.lines[0]}"
        raise
    try:
        replayed = journal.recover(config_path, cmdb, text, log, set_aside=set_aside)
    except OSError as exc:
        raise ConfigFileError(f"cannot read the journal of {config_path}: {exc}") from exc
    return cmdb, text, replayed


class Persistence:
    """The save path of one device (see the module docstring)."""

    def __init__(self, config_path: Path | None, log: logging.Logger, lock: Any,
                 current: Callable[[], Any], *, journal: bool, base_text: str | None) -> None:
        from ..cmdb import journal as jmod

        self.config_path = config_path
        self.log = log
        self._device_lock = lock  # every commit happens under it
        self._current = current  # the device's CMDB now (factory reset replaces it)
        self._local = threading.local()
        self._journal = None
        if journal and config_path is not None:
            base = jmod.text_hash(base_text) if base_text is not None else "-"
            self._journal = jmod.Journal(config_path, base, log)
        self._file_size = len(base_text or "")
        self._unsaved = False  # whole-file mode: the last save failed (close tries again)
        self._compactor: threading.Thread | None = None
        self._compact_lock = threading.Lock()  # one compaction (or whole save) at a time

    @property
    def journaled(self) -> bool:
        return self._journal is not None

    # ------------------------------------------------------------ commits
    def committed(self, cmdb: Any, changes: Any) -> None:
        """A commit listener's work: make ``changes`` durable (now, or at :meth:`sync`)."""
        if self.config_path is None:
            return
        if self._journal is None:
            self.save()
            return
        ticket = self._journal.append(_encode(cmdb, list(changes)))
        if getattr(self._local, "depth", 0):
            self._local.ticket = ticket
        else:
            self._wait(ticket)
        if self._journal.size > max(COMPACT_MIN_BYTES, COMPACT_RATIO * self._file_size):
            self.compact_in_background()

    def deferred(self) -> "_Deferred":
        """Commits on this thread inside the block wait for the disk at :meth:`sync`, not before.
        (A small class rather than a generator context manager: every REST write enters it.)"""
        return _Deferred(self._local)

    def sync(self) -> list[str]:
        """Wait until this thread's commits are durable (outside any deferral); error lines, if any."""
        ticket: int = getattr(self._local, "ticket", 0)
        depth: int = getattr(self._local, "depth", 0)
        if not ticket or depth or self._journal is None:
            return []
        self._local.ticket = 0
        try:
            self._wait(ticket)
        except FortiError as exc:
            return exc.output()
        return []

    def take_ticket(self) -> int:
        """This thread's commit not yet waited for (0: none), for a caller that waits elsewhere."""
        ticket: int = getattr(self._local, "ticket", 0)
        self._local.ticket = 0
        return ticket

    def wait_ticket(self, ticket: int) -> list[str]:
        """Wait until commit ``ticket`` is durable (any thread); FortiOS-style error lines, if any."""
        if not ticket or self._journal is None:
            return []
        try:
            self._wait(ticket)
        except FortiError as exc:
            return exc.output()
        return []

    def when_durable(self, ticket: int, callback: Callable[[list[str]], None]) -> None:
        """``callback(error lines)`` once commit ``ticket`` is durable (``[]``: it is); any thread."""
        if not ticket or self._journal is None:
            callback([])
            return

        def done(error: OSError | None) -> None:
            callback([] if error is None else _save_failed_lines(error))

        self._journal.when_durable(ticket, done)

    def _wait(self, ticket: int) -> None:
        assert self._journal is not None
        self._journal.wait(ticket)

    # ------------------------------------------------------------ whole file
    def save(self) -> None:
        """Write the whole file now (atomic); in journal mode, a compaction."""
        if self.config_path is None:
            return
        from ..cmdb import store

        if self._journal is None:
            with self._compact_lock:
                self._unsaved = True
                store.save(self._current(), self.config_path)
                self._unsaved = False
            return
        self._compact()

    def rewrite(self) -> None:
        """Write the whole file from the CMDB and drop any journal (start-up: factory or after a replay)."""
        if self.config_path is None:
            return
        from ..cmdb import journal as jmod
        from ..cmdb import store

        path = self.config_path
        with self._compact_lock:
            text = store.dumps(self._current())
            try:
                jmod.retire(path, text, lambda t: store.save_text(t, path), self.log)
            except OSError as exc:  # translated at the boundary (the files stay: the next start replays)
                raise ConfigFileError(f"cannot write configuration file {path}: {exc}") from exc
            self._file_size = len(text)
            if self._journal is not None:
                self._journal.rebase(jmod.text_hash(text))

    def _compact(self, *, final: bool = False) -> None:
        """Snapshot + journal rotation under the device lock; render and write outside it.

        Lock order: the device lock, then the compaction lock (a command that
        saves holds the first and takes the second); the compaction lock is
        kept until the file is written, the device lock only for the snapshot.
        ``final`` (the journal is closed): no rotation, every journal file is
        retired once the file is written.
        """
        from ..cmdb import journal as jmod
        from ..cmdb import store
        from ..cmdb.model import Cmdb

        assert self._journal is not None and self.config_path is not None
        with self._device_lock:
            self._compact_lock.acquire()
            try:
                cmdb = self._current()
                copy = Cmdb(cmdb.schema)
                copy.restore(cmdb.snapshot())
                if not final:
                    self._journal.rotate()
            except BaseException:
                self._compact_lock.release()
                raise
        try:
            text = store.dumps(copy)
            path = self.config_path
            if final:
                jmod.retire(path, text, lambda t: store.save_text(t, path), self.log)
            else:
                self._journal.compacted(text, lambda t: store.save_text(t, path))
            self._file_size = len(text)
        finally:
            self._compact_lock.release()

    def compact_in_background(self) -> None:
        if self._compactor is not None and self._compactor.is_alive():
            return
        self._compactor = threading.Thread(target=self._background_compaction, name="fortishell-compaction",
                                           daemon=True)
        self._compactor.start()

    def _background_compaction(self) -> None:
        try:
            self._compact()
        except (FortiError, OSError):
            self.log.error("background compaction of %s failed\n%s", self.config_path, traceback.format_exc())

    def close(self) -> None:
        """Final compaction: the file holds everything, the journal files are removed (whole-file
        mode: the file is saved again if the last save failed).

        The journal is closed first (what is queued is flushed, every waiter
        settled), then the whole file written and the journal files retired
        (``journal.retire``: crash- and fault-safe at each step).  A failure
        keeps the journal files: the next start replays them.
        """
        if self._journal is None and self._unsaved:  # whole-file mode after a failed save: once more
            try:
                self.save()
            except (FortiError, OSError):
                self.log.error("final save of %s failed\n%s", self.config_path, traceback.format_exc())
        if self._journal is None or self.config_path is None:
            return
        thread = self._compactor
        if thread is not None:
            thread.join(60)
        self._journal.close()
        try:
            if self._journal.holds_records:  # else the file is up to date: left byte for byte
                self._compact(final=True)
        except (FortiError, OSError):
            self.log.error("final compaction of %s failed (the journal is kept)\n%s", self.config_path,
                           traceback.format_exc())


def _encode(cmdb: Any, changes: list[Any]) -> str:
    # imported on the first commit (not at module level: a plain start imports no journal code);
    # a function-level import statement on every commit cost more than the rest of this listener
    global _encode
    from ..cmdb.changes import encode

    _encode = encode
    return encode(cmdb, changes)


def _save_failed_lines(error: OSError) -> list[str]:
    from ..cmdb.journal import save_failed

    return save_failed(error).output()


class _Deferred:
    """The context of :meth:`Persistence.deferred` (the thread's deferral depth, one up while in it)."""

    __slots__ = ("_local",)

    def __init__(self, local: threading.local) -> None:
        self._local = local

    def __enter__(self) -> None:
        self._local.depth = getattr(self._local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        self._local.depth -= 1
