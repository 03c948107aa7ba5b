"""One owner per configuration file: the lock a device holds on its file and journal.

A configuration file and its journal (``journal.py``) belong to the one device
that opened them: the journal is only correct while a single writer appends to
it and a single process compacts it.  A second process that replayed another's
journal "after an unclean stop", or compacted over it, would silently lose the
owner's acknowledged commits.  So :meth:`Device.open <fortishell.shell.device.Device.open>`
takes the lock first, before it reads the file or the journal, and the device
keeps it until it is closed.

The lock: ``<dir>/.<name>.lock`` beside the configuration file (of its real
path, so two spellings or symlinks of one file share one lock), held with
``fcntl.flock(LOCK_EX | LOCK_NB)`` on an open descriptor for as long as the
device is open.  The kernel releases it when the descriptor is closed, also when
the process dies (``kill -9``, a crash): a lock is never stale.  The file holds
the owner's PID, for the refusal message only; a PID found in a lock file whose
lock is free was left by a process that died before closing its device, and is
taken over with a line in debug.log.  The lock file itself is never removed
(removing a flock'ed file lets a third process lock a new file of the same name
while the old one is still held); a clean close empties it.

A refusal is one line (:class:`~fortishell.errors.ConfigInUse`), never a wait:
the owner may stay for hours (an interactive shell), and ``flock`` without
``LOCK_NB`` would hang the second process silently.  Within one process the same
rule holds (flock locks belong to an open file description, so a second
:func:`acquire` of a file the process holds is refused too, never a
self-deadlock); a device closed and opened again takes the lock again.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import weakref
from pathlib import Path

from ..errors import ConfigFileError, ConfigInUse


def lock_path(config_path: Path) -> Path:
    """The lock file of a configuration file: ``<real dir>/.<name>.lock``."""
    real = Path(os.path.realpath(config_path))
    return real.parent / f".{real.name}.lock"


class OwnerLock:
    """A held lock on one configuration file; :meth:`release` gives it up (idempotent)."""

    def __init__(self, config_path: Path, path: Path, fd: int) -> None:
        self.config_path = config_path
        self.path = path
        self._fd: int | None = fd
        # a device dropped without close() (tests) still gives the lock back when collected
        self._finalizer = weakref.finalize(self, os.close, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # a clean close leaves no PID behind (no "taken over" line next time)
        except OSError:
            pass  # only the PID for a message: the next owner takes it over with a log line
        self._finalizer()  # closes the descriptor: the kernel releases the lock


def acquire(config_path: Path, log: logging.Logger) -> OwnerLock:
    """Take the lock of ``config_path`` for this process, or raise (one FortiOS-style line).

    :class:`ConfigInUse`: another process (or another device of this one) holds it;
    :class:`ConfigFileError`: the lock cannot be taken at all (read-only or missing
    directory, a file system without locks).
    """
    config_path = Path(config_path)
    path = lock_path(config_path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise _cannot_lock(config_path, path, exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        owner = _read_pid(fd)
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise ConfigInUse(str(config_path), owner, os.getpid()) from exc
        raise _cannot_lock(config_path, path, exc) from exc
    previous = _read_pid(fd)
    if previous is not None:
        state = "still running" if _alive(previous) else "no longer running"
        log.warning("configuration file %s: lock %s left by PID %d (%s, not holding it); taken over by PID %d",
                    config_path, path, previous, state, os.getpid())
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except OSError as exc:  # held all the same: the PID only names the owner in a refusal
        log.warning("configuration file %s: cannot write the owner's PID to %s: %s", config_path, path, exc)
    return OwnerLock(config_path, path, fd)


def _cannot_lock(config_path: Path, path: Path, exc: OSError) -> ConfigFileError:
    return ConfigFileError(f"Cannot lock configuration file {config_path}: {exc.strerror or exc} ({path})")


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
