"""Running a REST read (a CMDB GET) on a device: under the device lock, and nothing else.

A write runs as a CLI command does (``runner.py``: the output hub, the commit group and its
journal wait, then the command-boundary hook).  A read changes nothing, so it needs none of
that: it only must not see a command's change half made, and every writer (a session's
command, a renewal, a REST write) holds ``device.lock`` while it changes the configuration.
So a read takes that lock -- at once on the event loop when the device is free (a dictionary
lookup and a serialization, no I/O), else on a worker thread, waiting for the command that
holds it.

No after-command hook follows a read: nothing changed that a renewal could wait for, and
renewals that fall due as the device clock runs are polled by the device's background timer
(``Device.start_background``, which serve starts for every device it opens), not by the
requests that happen to arrive.  (The hook cost ~20 us per request, a tenth of a GET.)
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class _Lock(Protocol):
    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...

    def release(self) -> None: ...


async def read_on(device: Any, work: Callable[[], T]) -> T:
    """``work()`` holding ``device.lock``; its exceptions propagate unchanged."""
    lock: _Lock = device.lock
    if lock.acquire(blocking=False):
        try:
            return work()
        finally:
            lock.release()
    return await asyncio.get_running_loop().run_in_executor(None, _locked, lock, work)


def _locked(lock: _Lock, work: Callable[[], T]) -> T:
    lock.acquire()
    try:
        return work()
    finally:
        lock.release()


class ReadCache:
    """The encoded answers of CMDB reads, by device and URL (path and query string).

    Committed entries are never changed in place and every change moves the CMDB's ``version``
    (``cmdb/model.py``), so an answer read from one CMDB object at one version is the answer
    for as long as the device has that object at that version; a commit, a renewal's state, a
    factory reset (a new CMDB object) or a configuration reloaded each make it stale, and the
    next read of the URL reads the configuration again.  Only what depends on nothing but the
    configuration and the URL is kept: a single-vdom success answer, made after the caller was
    checked (who may read it is decided on every request, never cached).  An answer
    holding a secret is never put here (``app._read``): the device draws a fresh ``ENC``
    ciphertext for every answer, and so do we.

    Used from the event loop only (no lock).  Bounded: at most ``entries`` answers and
    ``total`` bytes, the oldest dropped first; an answer over ``largest`` bytes is not kept.
    """

    def __init__(self, *, entries: int = 256, total: int = 4 << 20, largest: int = 256 << 10) -> None:
        self._entries, self._total, self._largest = entries, total, largest
        # (device, URL) -> its answer; an OrderedDict: the oldest is dropped in O(1) (next(iter()) of
        # a dict whose first items were deleted walks over their empty slots)
        self._items: OrderedDict[tuple[Any, str], tuple[Any, int, bytes]] = OrderedDict()
        self._bytes = 0

    def get(self, device: Any, url: str) -> bytes | None:
        key = (device, url)
        hit = self._items.get(key)
        if hit is None:
            return None
        cmdb, version, body = hit
        if device.cmdb is cmdb and cmdb.version == version:
            return body
        self._drop(key)
        return None

    def put(self, device: Any, url: str, cmdb: Any, version: int, body: bytes) -> None:
        """``body``: the answer read from ``cmdb`` at ``version`` (both taken under the device lock)."""
        if len(body) > self._largest:
            return
        key = (device, url)
        self._drop(key)
        while self._items and (len(self._items) >= self._entries or self._bytes + len(body) > self._total):
            _, (_, _, gone) = self._items.popitem(last=False)
            self._bytes -= len(gone)
        self._items[key] = (cmdb, version, body)
        self._bytes += len(body)

    def _drop(self, key: tuple[Any, str]) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._bytes -= len(old[2])
