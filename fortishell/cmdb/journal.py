"""Durable commits in O(change): an append-only journal beside the configuration file.

A commit appends one record holding only what changed, written in the
configuration file's own syntax (``cmdb/changes.py``: secrets stay encrypted).

Files, for a configuration ``<dir>/<name>``:

* ``<dir>/.<name>.journal``: the records since the last compaction;
* ``<dir>/.<name>.journal.old``: only while a compaction runs.

Record layout: 4-byte big-endian payload length, 4-byte CRC-32 of the payload,
the UTF-8 payload.  The first record of a file is its header:
``fortishell-journal 1 base=<sha256 of the configuration text it applies to>``
(``base=-`` for a journal started by a compaction: it applies to the file that
compaction writes).  A short, over-long or mismatching record ends the file:
the torn or garbage tail is dropped with a log line, never applied in part.

Group commit: :meth:`Journal.append` queues a record (in commit order, under
the device lock) and returns a ticket; one flusher thread writes every queued
record with one ``write`` and one ``fsync``; :meth:`Journal.wait` returns once
the ticket is on disk.  Commits of many sessions arriving during one fsync share
the next one.

Compaction (the device drives it, :meth:`Journal.rotate` under its lock):
rename the journal to ``.old`` and start a new one, write the snapshot taken at
that instant to the configuration file atomically (``store.save_text``), then
remove ``.old``.  Recovery at start (:func:`recover`): when ``.old`` exists and
its base is the file's text, the compaction did not replace the file: replay
``.old`` then the journal; otherwise the file already holds ``.old``: replay
the journal only.  A journal whose base is another text (the file was replaced
by hand while the journal was left) is set aside as ``.<name>.journal.unused``
with a log line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path as FsPath

from ..errors import ConfigFileError
from .changes import apply
from .model import Cmdb

MAGIC = "fortishell-journal 1"
COMPACTED = "fortishell-journal compacted="
_HEAD = struct.Struct(">II")
MAX_RECORD = 64 * 1024 * 1024  # a longer length field is garbage, not a record


def journal_path(config: FsPath) -> FsPath:
    return config.parent / f".{config.name}.journal"


def old_path(config: FsPath) -> FsPath:
    return config.parent / f".{config.name}.journal.old"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ reading
def read_records(path: FsPath, log: logging.Logger) -> tuple[str | None, list[str], str | None]:
    """``(base, payloads, compacted)`` of a journal file.

    A torn or garbage tail is dropped with a log line.  ``base`` is None when
    the file holds no valid header (nothing is applied then); ``compacted`` is
    the hash a compaction recorded before writing the configuration file.
    """
    data = path.read_bytes()
    out: list[str] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < _HEAD.size:
            break
        size, crc = _HEAD.unpack_from(data, pos)
        start = pos + _HEAD.size
        if size > MAX_RECORD or start + size > len(data):
            break
        payload = data[start:start + size]
        if zlib.crc32(payload) != crc:
            break
        try:
            out.append(payload.decode("utf-8"))
        except UnicodeDecodeError:
            break
        pos = start + size
    if pos < len(data):
        log.warning("journal %s: dropped a torn or corrupt tail of %d bytes at offset %d",
                    path, len(data) - pos, pos)
    if not out or not out[0].startswith(MAGIC + " base="):
        if data:
            log.warning("journal %s: no valid header; ignored", path)
        return None, [], None
    compacted = out[-1][len(COMPACTED):] if len(out) > 1 and out[-1].startswith(COMPACTED) else None
    records = [r for r in out[1:] if not r.startswith(COMPACTED)]  # a failed compaction's mark
    return out[0][len(MAGIC) + len(" base="):], records, compacted


def recover(config: FsPath, cmdb: Cmdb, config_text: str, log: logging.Logger, *, set_aside: bool = True) -> int:
    """Replay the journal(s) a crash left onto ``cmdb`` (loaded from ``config_text``).

    Returns the number of records applied.  A record that does not apply is
    not applied at all (the CMDB is restored) and ends the replay, logged.
    """
    cur, old = journal_path(config), old_path(config)
    here = text_hash(config_text)
    plan: list[str] = []
    if old.exists():
        _base, records, compacted = read_records(old, log)
        if compacted != here:  # the compaction did not replace the file: its records are not in it
            plan += records
    if cur.exists():
        base, records, _ = read_records(cur, log)
        if base in (here, "-"):
            plan += records
        elif base is not None and set_aside:
            aside = config.parent / f".{config.name}.journal.unused"
            log.warning("journal %s does not belong to %s (the file was replaced); kept as %s",
                        cur, config, aside)
            os.replace(cur, aside)
    applied = 0
    for payload in plan:
        snap = cmdb.snapshot()
        try:
            apply(cmdb, payload)
        except ConfigFileError as exc:
            cmdb.restore(snap)
            log.error("journal of %s: record %d not applied (%s); replay stopped", config, applied + 1,
                      " / ".join(exc.lines))
            break
        applied += 1
    if applied:
        from .store import _check_references

        _check_references(cmdb)
        log.warning("journal of %s: %d committed change(s) replayed after an unclean stop", config, applied)
    cmdb.version = 0
    return applied


def remove(config: FsPath) -> None:
    for p in (old_path(config), journal_path(config)):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


# ------------------------------------------------------------------ writing
def _record(payload: str) -> bytes:
    data = payload.encode("utf-8")
    return _HEAD.pack(len(data), zlib.crc32(data)) + data


def _fsync_dir(directory: FsPath) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        self._callbacks: list[tuple[int, Callable[[OSError | None], None]]] = []
        self._fd: int | None = None
        self._new_file = False
        self._base = base
        self.size = 0  # bytes in the current journal file
        self._thread: threading.Thread | None = None
        self._closing = False
        self._busy = False

    # --- queueing (callers hold the device lock: tickets follow commit order)
    def append(self, payload: str) -> int:
        with self._cond:
            self._pending.append(_record(payload))
            self._seq += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._flusher, name="fortishell-journal", daemon=True)
                self._thread.start()
            self._cond.notify_all()
            return self._seq

    @property
    def last_ticket(self) -> int:
        with self._cond:
            return self._seq

    def wait(self, ticket: int) -> None:
        """Block until record ``ticket`` is on disk; ConfigFileError when the write failed."""
        with self._cond:
            while self._durable < ticket:
                if self._error is not None and not self._busy and ticket <= self._failed_upto:
                    err = self._error
                    raise ConfigFileError(f"Failed to save configuration: {err.strerror or err}")
                self._cond.wait(1.0)

    def when_durable(self, ticket: int, callback: Callable[[OSError | None], None]) -> None:
        """Call ``callback(None)`` once record ``ticket`` is on disk, or ``callback(error)`` when
        its write failed; from the flusher thread, or at once (the caller's thread)."""
        with self._cond:
            if self._durable >= ticket:
                result: OSError | None = None
            elif self._error is not None and not self._busy and ticket <= self._failed_upto:
                result = self._error
            else:
                self._callbacks.append((ticket, callback))
                return
        callback(result)

    def _settle(self, upto: int, error: OSError | None) -> None:
        """Run the callbacks of tickets up to ``upto`` (flusher thread, no lock held)."""
        with self._cond:
            due = [cb for t, cb in self._callbacks if t <= upto]
            self._callbacks = [(t, cb) for t, cb in self._callbacks if t > upto]
        for cb in due:
            try:
                cb(error)
            except Exception:  # noqa: BLE001 - one waiter's failure must not stop the flusher
                self.log.exception("journal callback failed")

    def _flusher(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                batch, upto = b"".join(self._pending), self._seq
                self._pending = []
                self._busy = True
            try:
                self._write(batch)
            except OSError as exc:
                self.log.error("journal of %s: write failed: %s", self.config, exc)
                with self._cond:
                    self._pending.insert(0, batch)
                    self._error, self._busy, self._failed_upto = exc, False, upto
                    self._cond.notify_all()
                self._settle(upto, exc)
                with self._cond:
                    if self._closing:
                        return
                    self._cond.wait(0.5)  # retried with the next record (or after a pause)
                continue
            with self._cond:
                self._durable, self._error, self._busy = upto, None, False
                self._cond.notify_all()
            self._settle(upto, None)

    def _open(self) -> int:
        if self._fd is None:
            path = journal_path(self.config)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
            header = _record(f"{MAGIC} base={self._base}")
            try:
                os.fchmod(fd, 0o600)
                if os.write(fd, header) != len(header):
                    raise OSError(f"short write of the journal header of {path}")
            except OSError:
                os.close(fd)
                raise
            self._fd, self._new_file, self.size = fd, True, len(header)
        return self._fd

    def _write(self, batch: bytes) -> None:
        fd = self._open()
        view = memoryview(batch)
        try:
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        except OSError:
            try:  # no half batch before the retry: it would end the replay there
                os.ftruncate(fd, self.size)
            except OSError:
                self.log.error("journal of %s: cannot cut a failed write back", self.config)
            raise
        self.size += len(batch)
        if self._new_file:  # the new name itself must survive too
            _fsync_dir(self.config.parent)
            self._new_file = False

    # --- compaction
    def rotate(self) -> bool:
        """Close the current journal file as ``.old`` (the caller holds the device lock and
        snapshots the CMDB at the same instant); later records go to a new file.

        Records queued before the call are written to the old file first (they
        are in the snapshot).  False when there was no journal file (nothing to
        compact from the journal's side).
        """
        with self._cond:
            while self._busy:
                self._cond.wait()
            if self._pending:
                self._write(b"".join(self._pending))
                self._pending = []
                self._durable = self._seq
                self._cond.notify_all()
            self._base = "-"
            fd, self._fd = self._fd, None
            if fd is None:
                return False
            os.close(fd)
            cur, old = journal_path(self.config), old_path(self.config)
            if old.exists():  # an earlier compaction failed: its records stay first
                data = cur.read_bytes()
                size = _HEAD.unpack_from(data, 0)[0] if len(data) >= _HEAD.size else 0
                ofd = os.open(old, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(ofd, data[_HEAD.size + size:])
                    os.fsync(ofd)
                finally:
                    os.close(ofd)
                os.unlink(cur)
            else:
                os.replace(cur, old)
            return True

    def compacted(self, text: str, write: Callable[[str], None]) -> None:
        """Write the compaction's ``text`` with ``write`` (atomic), recording first in ``.old``
        that it did, then remove ``.old``.

        A crash before ``write`` finished leaves ``.old`` to be replayed; after
        it, the recorded hash matches the file and ``.old`` is skipped.
        """
        old = old_path(self.config)
        if old.exists():
            fd = os.open(old, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, _record(COMPACTED + text_hash(text)))
                os.fsync(fd)
            finally:
                os.close(fd)
        write(text)
        try:
            os.unlink(old)
        except FileNotFoundError:
            pass

    @property
    def holds_records(self) -> bool:
        """Something was journaled since the last compaction (or a compaction is unfinished)."""
        with self._cond:
            return bool(self._pending) or self._fd is not None or old_path(self.config).exists()

    def rebase(self, base: str) -> None:
        """The file was rewritten whole and no journal file is open: new records apply to ``base``."""
        with self._cond:
            if self._fd is None and not self._pending:
                self._base = base

    def close(self) -> None:
        """Flush what is queued and stop the flusher (the files stay)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(30)
        with self._cond:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
