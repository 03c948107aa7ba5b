"""Durable commits in O(change): an append-only journal beside the configuration file.

A commit appends one record holding only what changed, written in the
configuration file's own syntax (``cmdb/changes.py``: secrets stay encrypted).

Files, for a configuration ``<dir>/<name>``:

* ``<dir>/.<name>.journal``: the records since the last rotation;
* ``<dir>/.<name>.journal.old``, ``.old.2``, ``.old.3`` ...: journals a rotation
  closed, oldest first, while the compaction that rotated them has not
  finished (``.old.N`` only exist after a compaction failed);
* ``<dir>/.<name>.journal.unapplied``: records a replay could not apply, kept
  as configuration text for the operator (never read back).

Record layout: 4-byte big-endian payload length, 4-byte CRC-32 of the payload,
the UTF-8 payload.  The first record of a file is its header:
``fortishell-journal 1 base=<sha256 of the configuration text it applies to>``
(``base=-`` for a journal started by a rotation: it applies after the closed
journals).  A short, over-long or mismatching record ends the file: the torn or
garbage tail is dropped with a log line, never applied in part, and cut off
before anything is appended after it.

Group commit: :meth:`Journal.append` queues a record (in commit order, under
the device lock) and returns a ticket; one flusher thread writes every queued
record with one ``write`` and one ``fsync``; :meth:`Journal.wait` returns once
the ticket is on disk (or raises when its write failed, the journal closed or
the time ran out).  Every ticket is settled, success or error, on every path:
flusher, rotation, close.

Compaction (the device drives it, :meth:`Journal.rotate` under its lock):

1. rotate: the queued records are written to the journal, then the journal is
   renamed to the next closed name, one ``rename``: until it succeeds the
   journal stays the journal (a failed rename changes nothing and the records
   keep going to the same file);
2. :meth:`Journal.compacted`: a mark ``fortishell-journal compacted=<sha256>``
   of the snapshot's text is appended to the newest closed journal, the
   snapshot is written atomically (``store.save_text``), the closed journals
   are removed oldest first.

Recovery at start (:func:`recover`): the closed journals are read in order;
the records after the last mark that matches the configuration file's text are
not in the file and are replayed (all of them when no mark matches: no
compaction replaced the file), then the journal's.  A crash or an I/O error at
any step thus leaves files that replay to every acknowledged commit, once.  A
journal whose base is another text (the file was replaced by hand while the
journal was left) is set aside as ``.<name>.journal.unused`` with a log line.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path as FsPath

from ..errors import ConfigFileError
from .journal_files import (COMPACTED, MAGIC, MAX_RECORD, _append_record, _fsync_dir, _record, _remove_olds,
                            holds_records, journal_path, next_old_path, old_path, old_paths, pending_files,
                            read_records, recover, retire, text_hash, unapplied_path)

__all__ = ["COMPACTED", "MAGIC", "MAX_RECORD", "WAIT_TIMEOUT", "Journal", "holds_records", "journal_path",
           "next_old_path", "old_path", "old_paths", "pending_files", "read_records", "recover",
           "retire", "text_hash", "unapplied_path", "not_confirmed", "save_failed", "_record"]

WAIT_TIMEOUT = 60.0  # seconds a commit waits for the disk before it is reported as not saved

Callback = Callable[[OSError | None], None]


def save_failed(error: OSError) -> ConfigFileError:
    return ConfigFileError(f"Failed to save configuration: {error.strerror or error}")


def not_confirmed(seconds: float) -> ConfigFileError:
    """A commit whose record the disk did not confirm in time (it may still reach the disk)."""
    return ConfigFileError(f"Failed to save configuration: the disk did not confirm the write within {seconds:g} "
                           "seconds")


class Journal:
    """The open journal of one configuration file: queued records, one flusher thread."""

    def __init__(self, config: FsPath, base: str, log: logging.Logger) -> None:
        self.config = config
        self.log = log
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._seq = 0  # tickets handed out
        self._durable = 0  # tickets on disk
        self._error: OSError | None = None
        self._failed_upto = 0  # the last ticket of the batch whose write failed
        self._callbacks: list[tuple[int, Callback]] = []
        self._fd: int | None = None
        self._new_file = False
        self._cut_needed = False  # a failed write could not be cut back: cut before the next one
        self._base = base
        self.size = 0  # bytes in the current journal file
        self._thread: threading.Thread | None = None
        self._closing = False
        self._closed = False
        self._busy = False
        self._idle = False  # the flusher waits for records (append wakes it only then)

    # --- queueing (callers hold the device lock: tickets follow commit order)
    def append(self, payload: str) -> int:
        with self._cond:
            self._pending.append(_record(payload))
            self._seq += 1
            if self._thread is None and not self._closing:
                self._thread = threading.Thread(target=self._flusher, name="fortishell-journal", daemon=True)
                self._thread.start()
            if self._idle:  # a busy flusher takes every queued record when its write ends
                self._cond.notify_all()
            return self._seq

    @property
    def last_ticket(self) -> int:
        with self._cond:
            return self._seq

    def _outcome(self, ticket: int) -> tuple[bool, OSError | None]:
        """``(settled, error)`` of ``ticket`` now (the caller holds the condition)."""
        if self._durable >= ticket:
            return True, None
        if self._closed:
            return True, self._error or OSError(errno.EIO, "the journal is closed")
        if self._error is not None and not self._busy and ticket <= self._failed_upto:
            return True, self._error
        return False, None

    def wait(self, ticket: int, timeout: float | None = None) -> None:
        """Block until record ``ticket`` is on disk; ConfigFileError when its write failed, the
        journal closed without it, or ``timeout`` seconds (default :data:`WAIT_TIMEOUT`) passed."""
        limit = WAIT_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._cond:
            while True:
                settled, error = self._outcome(ticket)
                if settled:
                    if error is not None:
                        raise save_failed(error)
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise not_confirmed(limit)
                self._cond.wait(min(left, 1.0))

    def when_durable(self, ticket: int, callback: Callback) -> None:
        """Call ``callback(None)`` once record ``ticket`` is on disk, or ``callback(error)`` when
        its write failed or the journal closed without it; from the flusher thread, the thread
        that rotates or closes, or at once (the caller's thread).  Called exactly once."""
        with self._cond:
            settled, result = self._outcome(ticket)
            if not settled:
                self._callbacks.append((ticket, callback))
                return
        callback(result)

    def _take_due(self, upto: int, error: OSError | None) -> list[tuple[Callback, OSError | None]]:
        """The callbacks of tickets up to ``upto`` (the caller holds the condition; it calls them
        after releasing it)."""
        due = [(cb, error) for t, cb in self._callbacks if t <= upto]
        self._callbacks = [(t, cb) for t, cb in self._callbacks if t > upto]
        return due

    def _call(self, due: list[tuple[Callback, OSError | None]]) -> None:
        for cb, error in due:
            try:
                cb(error)
            except Exception:  # noqa: BLE001 - one waiter's failure must not stop the others
                self.log.exception("journal callback failed")

    def _flusher(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                if not self._pending:
                    return
                batch, count, upto = b"".join(self._pending), len(self._pending), self._seq
                self._busy = True
            try:
                self._write(batch)
            except Exception as exc:  # noqa: BLE001 - any failure settles the waiters (OSError expected)
                error = exc if isinstance(exc, OSError) else OSError(errno.EIO, f"journal write failed: {exc!r}")
                self.log.error("journal of %s: write failed: %s", self.config, error)
                with self._cond:  # the records stay queued: retried with the next record or after a pause
                    self._error, self._busy, self._failed_upto = error, False, upto
                    due = self._take_due(upto, error)
                    self._cond.notify_all()
                self._call(due)
                with self._cond:
                    if self._closing:
                        return
                    self._idle = True  # a new record wakes it: retried with it, or after the pause
                    self._cond.wait(0.5)
                    self._idle = False
                continue
            with self._cond:
                del self._pending[:count]
                self._durable, self._error, self._busy = upto, None, False
                due = self._take_due(upto, None)
                self._cond.notify_all()
            self._call(due)

    def _open(self) -> int:
        if self._fd is None:
            path = journal_path(self.config)
            if holds_records(path):  # never truncated: its records may not be in the file yet
                raise OSError(errno.EEXIST, f"{path} holds records not compacted yet; not overwritten")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
            header = _record(f"{MAGIC} base={self._base}")
            try:
                os.fchmod(fd, 0o600)
                if os.write(fd, header) != len(header):
                    raise OSError(errno.EIO, f"short write of the journal header of {path}")
            except OSError:
                os.close(fd)
                raise
            self._fd, self._new_file, self.size, self._cut_needed = fd, True, len(header), False
        return self._fd

    def _write(self, batch: bytes) -> None:
        fd = self._open()
        if self._cut_needed:  # a half batch left by a failed write would end the replay there
            os.ftruncate(fd, self.size)
            self._cut_needed = False
        view = memoryview(batch)
        try:
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, self.size)
            except OSError:
                self._cut_needed = True
                self.log.error("journal of %s: cannot cut a failed write back (cut before the next one)",
                               self.config)
            raise
        self.size += len(batch)
        if self._new_file:  # the new name itself must survive too
            _fsync_dir(self.config.parent)
            self._new_file = False

    # --- compaction
    def rotate(self) -> bool:
        """Close the current journal file under the next closed name (the caller holds the device
        lock and snapshots the CMDB at the same instant); later records go to a new file.

        Records queued before the call are written to the current file first
        (they are in the snapshot) and their waiters settled.  Any failure
        raises with nothing changed: the journal stays the journal.  False when
        there was no journal file (nothing to close).
        """
        due: list[tuple[Callback, OSError | None]] = []
        try:
            with self._cond:
                deadline = time.monotonic() + WAIT_TIMEOUT
                while self._busy:  # the flusher's write ends first (bounded: a hung disk fails the rotation)
                    if not self._cond.wait(max(0.0, deadline - time.monotonic())) and self._busy:
                        raise OSError(errno.ETIMEDOUT, "the journal's write did not finish")
                if self._pending:
                    upto = self._seq
                    try:
                        self._write(b"".join(self._pending))
                    except OSError as exc:
                        self._error, self._failed_upto = exc, upto
                        due = self._take_due(upto, exc)
                        self._cond.notify_all()
                        raise
                    self._pending = []
                    self._durable, self._error = upto, None
                    due = self._take_due(upto, None)
                    self._cond.notify_all()
                if self._fd is None:
                    return False
                if self._cut_needed:  # the closed journal must end with whole records
                    os.ftruncate(self._fd, self.size)
                    self._cut_needed = False
                os.replace(journal_path(self.config), next_old_path(self.config))  # the one step
                fd, self._fd = self._fd, None
                self._base, self.size = "-", 0
                try:
                    os.close(fd)
                except OSError as exc:
                    self.log.warning("journal of %s: close after rotation: %s", self.config, exc)
                return True
        finally:
            self._call(due)

    def compacted(self, text: str, write: Callable[[str], None]) -> None:
        """Write the compaction's ``text`` with ``write`` (atomic), recording first in the newest
        closed journal that it did, then remove the closed journals.

        A failure or a crash before ``write`` finished leaves the closed
        journals to be replayed; after it, the recorded hash matches the file
        and they are skipped.
        """
        olds = old_paths(self.config)
        if olds:
            _append_record(olds[-1], COMPACTED + text_hash(text))
        write(text)
        _remove_olds(olds, self.log)

    @property
    def holds_records(self) -> bool:
        """Something was journaled since the last compaction (or a compaction is unfinished)."""
        with self._cond:
            return bool(self._pending) or self._fd is not None or pending_files(self.config)

    def rebase(self, base: str) -> None:
        """The file was rewritten whole and no journal file is open: new records apply to ``base``."""
        with self._cond:
            if self._fd is None and not self._pending:
                self._base = base

    def close(self, timeout: float = 30.0) -> None:
        """Flush what is queued, stop the flusher and settle every waiter (the files stay).

        A record still queued afterwards (its write failed, or the disk did not
        answer within ``timeout``) is reported to its waiters as not saved.
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._cond:
            self._closed = True
            if self._durable < self._seq and self._error is None:
                self._error = OSError(errno.EIO, "the journal closed before the write was confirmed")
            due = self._take_due(self._seq, self._error)  # the durable ones were settled when written
            self._cond.notify_all()
            fd, self._fd = self._fd, None
        if fd is not None and (thread is None or not thread.is_alive()):
            os.close(fd)
        self._call(due)
