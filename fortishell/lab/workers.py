"""``lab-server --workers N``: the EST responder served by N worker processes (pre-fork).

The parent builds the whole responder (CA, lab state, :class:`.estapp.EstApp` with its
Digest nonce key, fault knobs), binds and listens once, then forks the workers before it
starts any thread; every worker accepts on the inherited listening socket (the kernel
hands each connection to one of them) and serves it with its own threads, so enrollments
use every core.  The parent keeps no copy of the listening socket: it runs the other lab
services (TFTP, CRL, ACME, SCEP), watches the workers and stops them.

What the workers share:

* everything made before the fork, among it the Digest nonce key: a nonce one worker gave
  is good with every worker;

* the lab state (serial counter, issued index, revocations) through the state directory,
  whose writers hold an advisory file lock (:mod:`.state`); ``--ephemeral`` with several
  workers keeps it in a scratch directory on ``/dev/shm`` (memory; elsewhere the temporary
  directory) removed at exit -- :func:`scratch_state_dir`;
* the fault knobs: :class:`SharedFaults`, one copy in shared memory, so a change made
  through ``POST /.lab/faults`` (answered by whichever worker got that connection) is in
  force in every worker from its next request on, and ``retry_after`` counts the
  enrollments of all workers together;
* the access log: every line is written with one ``write()`` (the log flushes after each
  line, lines are far shorter than ``PIPE_BUF``) on the inherited standard output / the
  ``--access-log`` file opened for appending, so lines of different workers never mix.

Per worker (documented choice): the connection cap (``max_connections``, 64 each) and the
slow-client deadlines.

Shutdown: SIGINT / SIGTERM to the parent stop every worker (SIGTERM, then SIGKILL after a
grace period) and reap it; a worker also stops by itself when the parent dies, however it
dies (each worker reads a pipe whose only writer is the parent: end-of-file = the parent
is gone), so no worker outlives it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import signal
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..errors import LabError
from .faults import ALL_OPS, Faults, FaultState
from .server import EstResponder

try:  # POSIX advisory locks
    import fcntl
except ImportError:  # pragma: no cover - no fork there either: one process, Faults alone
    fcntl = None  # type: ignore[assignment]

MAX_WORKERS = 1024
STOP_GRACE = 5.0  # seconds a worker has to finish after SIGTERM before SIGKILL
_HEAD = struct.Struct("<QI")  # generation, length of the JSON that follows
_SIZE = 1 << 16
_LOG = logging.getLogger("fortishell.lab")


def can_fork() -> bool:
    return hasattr(os, "fork") and fcntl is not None


def default_workers() -> int:
    """The number of cores this process may run on (1 where processes cannot be forked)."""
    if not can_fork():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def scratch_state_dir() -> Path:
    """A private lab-state directory for ``--ephemeral`` with several workers (memory-backed
    ``/dev/shm`` where there is one); the caller removes it at exit."""
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="fortishell-lab-", dir=base))


def in_memory(path: Path) -> bool:
    return Path("/dev/shm") in path.parents


class SharedFaults(Faults):
    """Fault knobs shared by processes forked after it is made: one JSON copy in an anonymous
    shared memory map, changed under a thread lock plus a POSIX record lock (``lockf``, owned
    per process and released if its process dies).  A reader reloads only when the generation
    number in the map moved."""

    def __init__(self, **knobs: Any) -> None:
        super().__init__()
        self._map = mmap.mmap(-1, _SIZE)  # anonymous, MAP_SHARED: the forked workers see one copy
        self._lockfile = tempfile.TemporaryFile()  # noqa: SIM115 - held for the knobs' lifetime
        self._seen = -1
        self._cached = FaultState()
        with self._held():
            self._save(FaultState())
        if knobs:
            self.set(**knobs)

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        with self._lock:
            assert fcntl is not None
            fcntl.lockf(self._lockfile.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._lockfile.fileno(), fcntl.LOCK_UN)

    def _load(self) -> FaultState:
        """The shared knobs (lock held)."""
        generation, length = _HEAD.unpack_from(self._map, 0)
        if generation != self._seen:
            row = json.loads(self._map[_HEAD.size:_HEAD.size + length])
            for name in ("endpoints", "retry_after"):
                if row[name] is not None:
                    row[name] = tuple(row[name])
            self._cached, self._seen = FaultState(**row), generation
        return self._cached

    def _save(self, state: FaultState) -> None:
        """Publish ``state`` to every process (lock held)."""
        data = json.dumps(asdict(state)).encode()
        if _HEAD.size + len(data) > _SIZE:
            raise LabError("fault knobs too large to share between the workers")
        generation = _HEAD.unpack_from(self._map, 0)[0] + 1
        self._map[_HEAD.size:_HEAD.size + len(data)] = data
        _HEAD.pack_into(self._map, 0, generation, len(data))
        self._cached, self._seen = state, generation

    def set(self, **knobs: Any) -> None:
        with self._held():
            merged = Faults(**asdict(self._load()))  # validated and coerced as a Faults does it
            merged.set(**knobs)
            self._save(merged.snapshot())

    def clear(self) -> None:
        with self._held():
            self._save(FaultState())

    def snapshot(self) -> FaultState:
        with self._lock:
            if _HEAD.unpack_from(self._map, 0)[0] == self._seen:  # unchanged: no file lock needed
                return replace(self._cached)
        with self._held():
            return replace(self._load())

    def applies(self, op: str) -> bool:
        endpoints = self.snapshot().endpoints
        return op in ALL_OPS and (not endpoints or op in endpoints)

    def take_retry(self) -> int | None:
        with self._held():
            state = self._load()
            if state.retry_after is None:
                return None
            count, secs = state.retry_after
            self._save(replace(state, retry_after=(count - 1, secs) if count > 1 else None))
            return secs


class WorkerPool:
    """``count`` worker processes serving ``responder`` (see the module docstring)."""

    def __init__(self, responder: EstResponder, count: int) -> None:
        if not 1 <= count <= MAX_WORKERS:
            raise LabError(f"{count} workers: 1 to {MAX_WORKERS}")
        self.responder = responder
        self.count = count
        self.pids: list[int] = []
        self._parent_alive: int | None = None  # the write end the workers watch

    def start(self) -> "WorkerPool":
        """Bind, fork the workers (call before this process starts any thread)."""
        self.responder.bind(shared=True)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()  # nothing buffered may be written twice (once per process)
        watch, self._parent_alive = os.pipe()
        try:
            for _ in range(self.count):
                pid = os.fork()
                if pid == 0:  # the worker: never returns into the parent's code
                    code = 1
                    try:
                        os.close(self._parent_alive)
                        code = _work(self.responder, watch)
                    finally:
                        os._exit(code)
                self.pids.append(pid)
        except OSError as exc:
            self.stop()
            raise LabError(f"Cannot start the worker processes: {exc.strerror or exc}") from None
        finally:
            os.close(watch)
            self.responder.release_listener()  # the workers hold it; when all are gone, connections are refused
        return self

    def reap(self) -> list[tuple[int, int]]:
        """Workers that ended since the last call: (pid, exit status)."""
        ended = []
        for pid in list(self.pids):
            with contextlib.suppress(ChildProcessError):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done == 0:
                    continue
                ended.append((pid, os.waitstatus_to_exitcode(status)))
            self.pids.remove(pid)
        return ended

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM every worker, SIGKILL those still there after ``grace`` seconds; reap all."""
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.pids and time.monotonic() < deadline:
            self.reap()
            if self.pids:
                time.sleep(0.02)
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.pids.clear()
        if self._parent_alive is not None:
            os.close(self._parent_alive)
            self._parent_alive = None


def _work(responder: EstResponder, watch: int) -> int:
    """A worker's life: serve until SIGINT / SIGTERM or the parent's death."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def watch_parent() -> None:
        with contextlib.suppress(OSError):
            while os.read(watch, 64):
                pass
        stop.set()  # end of file: the parent is gone

    threading.Thread(target=watch_parent, name="lab-worker-parent", daemon=True).start()
    try:
        responder.start()
        while not stop.wait(0.5):
            pass
    except Exception:  # a worker that cannot serve says why on standard error; the parent reports its end
        _LOG.exception("lab-server worker %d failed", os.getpid())
        return 1
    finally:
        responder.stop()
    return 0
