"""Interactive sessions first: the event loop's background requests give way to a typed command.

SSH sessions and the REST door share one event loop.  Under REST load a loop
turn ran the ready steps of every request in flight (16 keep-alive clients: 16
commits, then 16 answers encoded and written over TLS) before a session's next
step, and a typed command waits for the turn under way when its input arrives,
then needs two more (its input is read; its command runs and its output
leaves): each one cost the person at the prompt a whole round of API work.

:class:`Priority` (one per loop, :func:`priority_of`) has two levels:

* **claimed**: a session's input arrived and its command is not done
  (:meth:`Priority.claim` when input arrives, :meth:`Priority.let_go` when the
  session waits for input again).  No background request starts and no
  finished commit is handed back meanwhile: the command's turns hold only what
  was already under way.  An inline command needs two turns;
* **warm**: a session had input less than :data:`WARM` seconds ago.  At most
  :data:`PER_TURN` background requests start per loop turn and at most
  :data:`PER_TURN` finished commits are handed back per turn: turns stay short,
  so the next command's input waits little for the turn under way.

Background requests go through :meth:`Priority.enter` (REST: ``app.guarded``);
those that may not start wait on a future, first come first served, and each
turn starts the first of the queue.  Finished commits go through
:meth:`Priority.share` (:class:`~.wakeups.LoopWakeups`).  A request that
started runs on (nothing is interrupted); the loop stays busy, only in smaller
turns, between which a session's steps run.

Bounds (no request is starved or lost):

* claims keep every waiter waiting for :data:`BLOCK_TURNS` turns in a row at
  most (one session's inline command needs 1 or 2): then the first waiters
  start anyway, however many sessions keep claiming (50 automation sessions
  typing non-stop slow the API down, they do not stop it);
* a claim ends :data:`CLAIM_TURNS` turns after it began even if its session
  never waits again (a command on a worker thread, input gone to the line
  editor, a long paste); turns are counted while something is held back;
* while warm, a waiter starts within ``ceil(position / PER_TURN)`` unclaimed
  turns; newcomers queue behind it; when no session is warm, all start at once;
* a waiter whose request is cancelled (its client hung up) leaves the queue;
* past :data:`MAX_WAITING` waiters a new request starts at once (a flood of
  clients is served, never refused).

While no session is warm a request costs one clock read.  :attr:`Priority.busy`
(a background request in the last :data:`WARM` seconds) tells a session that
its output should leave at once rather than at the next, long, loop turn.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TypeVar

from .perloop import LoopBound, PerLoop

PER_TURN = 4  # while warm: background requests started, and finished commits handed back, per loop turn
BLOCK_TURNS = 4  # loop turns in a row that claims may keep every waiter waiting
CLAIM_TURNS = 32  # loop turns a claim lasts at most (a session that does not wait for input again)
WARM = 2.0  # seconds an interactive session counts as active after its last input
MAX_WAITING = 256  # waiting requests at most; past that, a request starts at once

T = TypeVar("T")


class Priority(LoopBound):
    """The interactive sessions' claims on one event loop and its background gate (that loop only)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self._warm_until = float("-inf")
        self._background_until = float("-inf")
        self._claims: dict[object, int] = {}  # session -> the turn its claim began in
        self._turn = 0
        self._held = 0  # turns in a row in which claims kept every waiter waiting
        self._started = 0  # background requests started in this loop turn
        self._ticking = False  # a _tick is scheduled (the next turn's count)
        self._waiting: deque[asyncio.Future[None]] = deque()

    # ------------------------------------------------------------ interactive sessions

    @property
    def warm(self) -> bool:
        """An interactive session had input less than :data:`WARM` seconds ago."""
        return self._loop.time() < self._warm_until

    @property
    def claimed(self) -> bool:
        """An interactive session's command is under way."""
        return bool(self._claims)

    @property
    def busy(self) -> bool:
        """A background request came less than :data:`WARM` seconds ago (the loop's turns may be
        long: a session's output should leave at once rather than at the next turn)."""
        return self._loop.time() < self._background_until

    def claim(self, owner: object) -> None:
        """Input arrived for ``owner`` (a session): background work waits until it lets go."""
        self._warm_until = self._loop.time() + WARM
        # a claim held on is not renewed by more input; it ages in turns counted while background
        # work waits (without any, nothing is held back and no turn needs counting)
        self._claims.setdefault(owner, self._turn)

    def let_go(self, owner: object) -> None:
        """``owner`` waits for input again (or is gone)."""
        self._claims.pop(owner, None)
        if not self._claims:
            self._held = 0  # the run of blocked turns ends with the last claim

    # ------------------------------------------------------------ background requests
    def enter(self) -> "asyncio.Future[None] | None":
        """A background request wants to start: None when it may now, else the future to await
        (through :func:`admitted`)."""
        now = self._loop.time()
        self._background_until = now + WARM
        if now >= self._warm_until or len(self._waiting) >= MAX_WAITING:
            return None
        self._tick_later()
        if not self._claims and not self._waiting and self._started < PER_TURN:
            self._started += 1
            return None
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiting.append(waiter)
        return waiter

    def gone(self, waiter: "asyncio.Future[None]") -> None:
        """A waiter's request was cancelled (its client hung up): it leaves the queue."""
        try:
            self._waiting.remove(waiter)
        except ValueError:
            pass

    @property
    def waiting(self) -> int:
        """Requests waiting to start."""
        return len(self._waiting)

    def share(self, due: list[T]) -> tuple[list[T], list[T]]:
        """Results of background requests due at once: those to hand back in this loop turn and
        those for a later one (none now while claimed; all when no session is warm)."""
        if self._claims and self._held < BLOCK_TURNS:
            self._tick_later()
            return [], due
        if len(due) <= PER_TURN or not self.warm:
            return due, []
        return due[:PER_TURN], due[PER_TURN:]

    # ------------------------------------------------------------ loop turns
    def _tick_later(self) -> None:
        if not self._ticking:
            self._ticking = True
            self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        """A new loop turn: a new count, claims held too long end, the first waiters start."""
        self._ticking = False
        self._turn += 1
        self._started = 0
        claims = self._claims
        for owner in [o for o, since in claims.items() if self._turn - since > CLAIM_TURNS]:
            del claims[owner]  # a long command (on a worker thread): the API goes on meanwhile
        if not self.warm:
            self._held = 0
            self._start(len(self._waiting))
            return
        if claims and self._held < BLOCK_TURNS:
            self._held += 1
        else:
            self._held = 0
            self._start(PER_TURN)
        if self._waiting:
            self._tick_later()

    def _start(self, places: int) -> None:
        waiting = self._waiting
        while places > 0 and waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                self._started += 1
                waiter.set_result(None)
                places -= 1


async def admitted(priority: Priority, waiter: "asyncio.Future[None]") -> None:
    """Wait for the turn :meth:`Priority.enter` queued ``waiter`` for; cancelled, it leaves the queue."""
    try:
        await waiter
    except asyncio.CancelledError:
        priority.gone(waiter)
        raise


# The one :class:`Priority` of ``loop`` (its SSH sessions and its REST door share it).
priority_of: "PerLoop[Priority]" = PerLoop(Priority)
