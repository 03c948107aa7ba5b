"""The journal's files: names, the record format, reading, recovery at start, retiring.

The layout and the crash/fault rules are described in ``cmdb/journal.py``; this
module holds what reads and settles the files, :class:`journal.Journal` what
appends to them while a device runs.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import struct
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
    """The first closed journal (``.old``); later ones are ``.old.2``, ``.old.3``, ..."""
    return config.parent / f".{config.name}.journal.old"


def unapplied_path(config: FsPath) -> FsPath:
    return config.parent / f".{config.name}.journal.unapplied"


def old_paths(config: FsPath) -> list[FsPath]:
    """The closed journals on disk, oldest first."""
    prefix = old_path(config).name + "."
    try:
        names = os.listdir(config.parent)
    except FileNotFoundError:
        return []
    gens = sorted(int(n[len(prefix):]) for n in names if n.startswith(prefix) and n[len(prefix):].isdigit())
    first = [old_path(config)] if old_path(config).name in names else []
    return first + [config.parent / f"{prefix}{g}" for g in gens]


def next_old_path(config: FsPath) -> FsPath:
    olds = old_paths(config)
    if not olds:
        return old_path(config)
    last = olds[-1].name.rsplit(".", 1)[-1]
    return config.parent / f"{old_path(config).name}.{int(last) + 1 if last.isdigit() else 2}"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fsync_dir(directory: FsPath) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ reading
def _parse(data: bytes) -> tuple[list[str], int]:
    """The payloads of the valid records at the start of ``data`` and where they end."""
    out: list[str] = []
    pos = 0
    while len(data) - pos >= _HEAD.size:
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
    return out, pos


def _read(path: FsPath, log: logging.Logger) -> tuple[str | None, list[str]]:
    """``(base, records and marks)`` of a journal file; base None: no valid header."""
    data = path.read_bytes()
    out, pos = _parse(data)
    if pos < len(data):
        log.warning("journal %s: dropped a torn or corrupt tail of %d bytes at offset %d",
                    path, len(data) - pos, pos)
    if not out or not out[0].startswith(MAGIC + " base="):
        if data:
            log.warning("journal %s: no valid header; ignored", path)
        return None, []
    return out[0][len(MAGIC) + len(" base="):], out[1:]


def read_records(path: FsPath, log: logging.Logger) -> tuple[str | None, list[str], str | None]:
    """``(base, payloads, compacted)`` of a journal file.

    A torn or garbage tail is dropped with a log line.  ``base`` is None when
    the file holds no valid header (nothing is applied then); ``compacted`` is
    the hash the last compaction mark recorded (when the file ends with one).
    """
    base, items = _read(path, log)
    compacted = items[-1][len(COMPACTED):] if items and items[-1].startswith(COMPACTED) else None
    return base, [r for r in items if not r.startswith(COMPACTED)], compacted


def holds_records(path: FsPath) -> bool:
    """The file exists and holds at least one valid record after its header."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    return len(_parse(data)[0]) > 1


def pending_files(config: FsPath) -> bool:
    """A journal or a closed journal is on disk (the file alone is not the whole configuration)."""
    return journal_path(config).exists() or bool(old_paths(config))


def recover(config: FsPath, cmdb: Cmdb, config_text: str, log: logging.Logger, *, set_aside: bool = True) -> int:
    """Replay the journal(s) a crash left onto ``cmdb`` (loaded from ``config_text``).

    Returns the number of records applied.  A record that does not apply is
    not applied at all (the CMDB is restored) and ends the replay, logged; with
    ``set_aside``, it and the records after it are kept as configuration text
    in ``.<name>.journal.unapplied`` for the operator.
    """
    cur = journal_path(config)
    here = COMPACTED + text_hash(config_text)
    items: list[str] = []
    for old in old_paths(config):
        items += _read(old, log)[1]
    done = max((i for i, item in enumerate(items) if item == here), default=-1)  # already in the file
    plan = [r for r in items[done + 1:] if not r.startswith(COMPACTED)]
    if cur.exists():
        base, records, _ = read_records(cur, log)
        if base in (text_hash(config_text), "-"):
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
            if set_aside:
                _keep_unapplied(config, plan[applied:], log)
            break
        applied += 1
    if applied:
        from .store import _check_references

        _check_references(cmdb)
        log.warning("journal of %s: %d committed change(s) replayed after an unclean stop", config, applied)
    cmdb.version = 0
    return applied


def _keep_unapplied(config: FsPath, payloads: list[str], log: logging.Logger) -> None:
    """Append records a replay could not apply to the operator's ``.journal.unapplied`` file."""
    path = unapplied_path(config)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        data = "".join(payloads).encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)
    log.error("journal of %s: %d record(s) not applied are kept in %s", config, len(payloads), path)


# ------------------------------------------------------------------ writing
def _record(payload: str) -> bytes:
    data = payload.encode("utf-8")
    return _HEAD.pack(len(data), zlib.crc32(data)) + data


def _append_record(path: FsPath, payload: str) -> None:
    """Append one record to a closed journal, durably; a torn tail before it is cut off first
    and a failed append is cut back (a record after garbage would never be read)."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        size = os.fstat(fd).st_size
        valid = _parse(os.pread(fd, size, 0))[1]
        if valid < size:
            os.ftruncate(fd, valid)
        record = _record(payload)
        try:
            if os.write(fd, record) != len(record):
                raise OSError(errno.EIO, f"short write to {path}")
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, valid)
            except OSError:
                pass  # cut off by the next append (or dropped as a torn tail by the reader)
            raise
    finally:
        os.close(fd)


def _remove_olds(olds: list[FsPath], log: logging.Logger) -> None:
    """Remove closed journals oldest first: the newest holds the mark that makes the rest moot."""
    for path in olds:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.error("cannot remove %s (%s): kept, its records are marked as in the file", path, exc)
            return


def retire(config: FsPath, text: str, write: Callable[[str], None], log: logging.Logger) -> None:
    """Make ``text`` the configuration and drop every journal file, crash-safe at each step
    (start-up after a replay, close): the journal is closed like a rotation, marked, written."""
    cur = journal_path(config)
    if cur.exists():
        os.replace(cur, next_old_path(config))
    olds = old_paths(config)
    if olds:
        _append_record(olds[-1], COMPACTED + text_hash(text))
    write(text)
    _remove_olds(olds, log)

