"""Results handed to an event loop from other threads, one wake-up of the loop per burst.

The journal's flusher thread settles the commits of one group (one write, one
fsync) one after the other; a front end waiting on the event loop for each of
them would otherwise wake the loop once per commit (``call_soon_threadsafe``
writes to the loop's self-pipe: a system call, and a wake-up of the loop's
thread, each time).  :class:`LoopWakeups` queues the results and schedules one
drain while the queue is non-empty: every result queued before the drain runs
is delivered by it.

The other direction too: a command run on the loop (``OutputHub.try_run_now``)
queues its journal record without waking the journal's thread, and
:func:`wake_journal_soon` wakes it once when the loop's turn ends, for every
commit of the turn: one wake-up of that thread, one write and one fsync where
a wake-up per commit gave each its own (the flusher was idle again by the next
request), and each wake-up of another thread costs the loop a system call and
the interpreter's lock going back and forth.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol


class LoopWakeups:
    """Futures of one event loop, resolved from any thread (:meth:`resolve`), in batches."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._due: list[tuple["asyncio.Future[Any]", Any]] = []
        self._turn_end: dict[int, Callable[[], None]] = {}  # loop thread only

    def at_turn_end(self, key: int, call: Callable[[], None]) -> None:
        """``call()`` once when this turn of the loop ends (at the next turn's start), however many
        times it is asked for under ``key`` in the turn; from the loop's own thread only."""
        if not self._turn_end:
            self._loop.call_soon(self._end_turn)
        self._turn_end.setdefault(key, call)

    def _end_turn(self) -> None:
        calls, self._turn_end = list(self._turn_end.values()), {}
        for call in calls:
            call()

    def resolve(self, future: "asyncio.Future[Any]", value: Any) -> None:
        """``future.set_result(value)`` on the loop, soon; callable from any thread."""
        with self._lock:
            self._due.append((future, value))
            if len(self._due) > 1:  # a drain is scheduled and has not taken the queue yet
                return
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            due, self._due = self._due, []
        for future, value in due:
            if not future.done():  # a cancelled waiter (its client went away)
                future.set_result(value)


_BY_LOOP: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopWakeups]" = weakref.WeakKeyDictionary()
_BY_LOOP_LOCK = threading.Lock()


def wakeups_of(loop: asyncio.AbstractEventLoop) -> "LoopWakeups":
    """The one :class:`LoopWakeups` of ``loop`` (every waiter of the loop shares its wake-ups)."""
    found = _BY_LOOP.get(loop)
    if found is None:
        with _BY_LOOP_LOCK:
            found = _BY_LOOP.get(loop)
            if found is None:
                found = _BY_LOOP[loop] = LoopWakeups(loop)
    return found


class _Journaled(Protocol):
    def wake_journal(self) -> None: ...


def wake_journal_soon(device: _Journaled) -> None:
    """Wake ``device``'s journal writer when the running loop's turn ends (every command run on the
    loop in this turn is then written with one write and one fsync); at once off a loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        device.wake_journal()
        return
    wakeups_of(loop).at_turn_end(id(device), device.wake_journal)
