"""Results handed to an event loop from other threads, one wake-up of the loop per burst.

The journal's flusher thread settles the commits of one group (one write, one
fsync) one after the other; a front end waiting on the event loop for each of
them would otherwise wake the loop once per commit (``call_soon_threadsafe``
writes to the loop's self-pipe: a system call, and a wake-up of the loop's
thread, each time).  :class:`LoopWakeups` queues the results and schedules one
drain while the queue is non-empty: every result queued before the drain runs
is delivered by it (while an interactive session is active, a few per loop
turn and the rest by the next drains: :mod:`.priority`).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from .perloop import LoopBound, PerLoop
from .priority import priority_of


class LoopWakeups(LoopBound):
    """Futures of one event loop, resolved from any thread (:meth:`resolve`), in batches."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._lock = threading.Lock()
        self._due: list[tuple["asyncio.Future[Any]", Any]] = []
        self._priority = priority_of(loop)

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
        due, later = self._priority.share(due)
        if later:
            # an interactive session is active (priority.py): the rest of the group a loop turn
            # later, so that the session's next step is not queued behind them all
            with self._lock:
                scheduled = bool(self._due)  # a producer scheduled a drain when it found the queue empty
                self._due[:0] = later
            if not scheduled:
                self._loop.call_soon(self._drain)
        for future, value in due:
            if not future.done():  # a cancelled waiter (its client went away)
                future.set_result(value)


# The one :class:`LoopWakeups` of ``loop`` (every waiter of the loop shares its wake-ups).
wakeups_of: "PerLoop[LoopWakeups]" = PerLoop(LoopWakeups)
