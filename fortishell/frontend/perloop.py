"""One object per event loop, held so that the loop can still end.

:class:`~.wakeups.LoopWakeups` and :class:`~.priority.Priority` exist once per
loop (every SSH session and REST request of a loop share them).  Both are kept
in a :class:`PerLoop` registry, a ``WeakKeyDictionary`` keyed by the loop, and
both hold their loop through :class:`LoopBound`, weakly: a value holding its
key strongly would keep a loop that ended (a test's, a client's) alive for the
life of the process.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LoopBound:
    """Base of a per-loop object: its loop, held weakly."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop_ref = weakref.ref(loop)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop this is for (None once it is gone)."""
        return self._loop_ref()

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_ref()
        if loop is None:
            raise RuntimeError("the event loop is gone")
        return loop


class PerLoop(Generic[T]):
    """``registry(loop)``: the one object of ``loop``, made by ``make(loop)`` on first use (any thread)."""

    def __init__(self, make: Callable[[asyncio.AbstractEventLoop], T]) -> None:
        self._make = make
        self._items: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, loop: asyncio.AbstractEventLoop) -> T:
        found = self._items.get(loop)
        if found is None:
            with self._lock:
                found = self._items.get(loop)
                if found is None:
                    found = self._items[loop] = self._make(loop)
        return found
