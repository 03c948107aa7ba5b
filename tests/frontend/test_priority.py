"""frontend/priority.py: while an interactive session's command is under way no background request
starts; while a session is warm a few start per loop turn, first come first served; a cancelled
waiter leaves the queue; claims never hold the queue for more than BLOCK_TURNS turns in a row and
end CLAIM_TURNS turns after they began; past
MAX_WAITING a request starts at once; finished commits are handed back the same way.  Real asyncio
loops; time is counted in loop turns, never in seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from fortishell.frontend import priority as prio
from fortishell.frontend.priority import BLOCK_TURNS, CLAIM_TURNS, PER_TURN, Priority, admitted, priority_of
from fortishell.frontend.wakeups import LoopWakeups

pytestmark = pytest.mark.timeout(30)
SESSION = object()


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(main(), 20))


class Turns:
    """Counts loop turns: a callback that schedules itself once per turn."""

    def __init__(self) -> None:
        self.n = 0
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.n += 1
        self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()


async def turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def request(gate: Priority, name: str, started: list[tuple[str, int]], clock: Turns) -> None:
    """A background request as the REST door runs one: through the gate, then its work."""
    waiter = gate.enter()
    if waiter is not None:
        await admitted(gate, waiter)
    started.append((name, clock.n))


def test_a_priority_per_loop_and_no_waiting_while_no_session_is_warm() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        gate = priority_of(loop)
        assert priority_of(loop) is gate and not gate.warm and not gate.claimed
        assert all(gate.enter() is None for _ in range(50))  # nothing queued, nothing counted
        assert gate.waiting == 0 and gate.share(list(range(20))) == (list(range(20)), [])

    run(main)


def test_while_a_session_works_nothing_starts_then_the_queue_starts_in_order_a_few_per_turn() -> None:
    async def main() -> list[list[str]]:
        gate = Priority(asyncio.get_running_loop())
        clock = Turns()
        started: list[tuple[str, int]] = []
        gate.claim(SESSION)
        tasks = [asyncio.ensure_future(request(gate, f"r{i}", started, clock)) for i in range(3 * PER_TURN + 1)]
        await turns(BLOCK_TURNS - 1)
        assert started == [] and gate.waiting == len(tasks)  # the session's command runs meanwhile
        gate.let_go(SESSION)
        await asyncio.gather(*tasks)
        clock.stop()
        by_turn: dict[int, list[str]] = {}
        for name, turn in started:
            by_turn.setdefault(turn, []).append(name)
        return list(by_turn.values())

    groups = run(main)
    assert [name for group in groups for name in group] == [f"r{i}" for i in range(3 * PER_TURN + 1)]  # FIFO
    assert [len(g) for g in groups] == [PER_TURN, PER_TURN, PER_TURN, 1]  # a few per loop turn


def test_a_newcomer_queues_behind_the_waiters_even_when_the_turn_has_room() -> None:
    async def main() -> list[str]:
        gate = Priority(asyncio.get_running_loop())
        order: list[str] = []
        gate.claim(SESSION)
        first = gate.enter()
        gate.let_go(SESSION)
        later = gate.enter()  # no start yet in this turn, but one is waiting
        assert first is not None and later is not None
        first.add_done_callback(lambda _f: order.append("first"))
        later.add_done_callback(lambda _f: order.append("later"))
        await asyncio.gather(admitted(gate, first), admitted(gate, later))
        return order

    assert run(main) == ["first", "later"]


def test_a_cancelled_waiter_leaves_the_queue_and_the_next_one_takes_its_place() -> None:
    async def main() -> tuple[list[str], int]:
        gate = Priority(asyncio.get_running_loop())
        clock = Turns()
        started: list[tuple[str, int]] = []
        gate.claim(SESSION)
        tasks = [asyncio.ensure_future(request(gate, f"r{i}", started, clock)) for i in range(PER_TURN + 1)]
        await turns(2)
        tasks[0].cancel()  # its client hung up while it waited
        await turns(1)
        left = gate.waiting
        gate.let_go(SESSION)
        await asyncio.gather(*tasks[1:])
        clock.stop()
        assert tasks[0].cancelled()
        return [name for name, _ in started], left

    names, left = run(main)
    assert left == PER_TURN  # out of the queue at once, not when its turn would have come
    assert names == [f"r{i}" for i in range(1, PER_TURN + 1)]


def test_claims_never_hold_the_queue_more_than_block_turns_in_a_row_even_with_input_every_turn() -> None:
    """Sessions whose input keeps coming (automation typing non-stop, many sessions): the waiters
    still start, PER_TURN at least every BLOCK_TURNS + 1 turns."""

    async def main() -> list[int]:
        gate = Priority(asyncio.get_running_loop())
        clock = Turns()
        started: list[tuple[str, int]] = []
        n = 3 * PER_TURN
        gate.claim(SESSION)
        tasks = [asyncio.ensure_future(request(gate, f"r{i}", started, clock)) for i in range(n)]
        for _ in range(8 * CLAIM_TURNS):
            gate.claim(object())  # another session's input, every turn
            await turns(1)
            if len(started) == n:
                break
        clock.stop()
        assert len(started) == n, f"{len(started)} of {n} started in {8 * CLAIM_TURNS} turns"
        return [turn for _name, turn in started]

    at = run(main)
    first = min(at)
    assert first <= BLOCK_TURNS + 3
    assert max(b - a for a, b in zip([first, *at], at)) <= BLOCK_TURNS + 2


def test_each_command_gets_its_blocked_turns_whatever_the_one_before_used() -> None:
    async def main() -> list[int]:
        gate = Priority(asyncio.get_running_loop())
        clock = Turns()
        started: list[tuple[str, int]] = []
        gate.claim(SESSION)
        tasks = [asyncio.ensure_future(request(gate, f"r{i}", started, clock)) for i in range(PER_TURN)]
        await turns(BLOCK_TURNS)  # a command that took nearly all of its blocked turns
        first = len(started)
        gate.let_go(SESSION)
        gate.claim(SESSION)  # the next line, at once
        await turns(BLOCK_TURNS - 1)
        second = len(started)
        gate.let_go(SESSION)
        await asyncio.gather(*tasks)
        clock.stop()
        return [first, second]

    assert run(main) == [0, 0]


def test_a_claim_that_is_never_let_go_ends_claim_turns_after_it_began() -> None:
    """A session whose command went to a worker thread (or whose input went to the line editor)
    does not claim the loop for ever while requests wait."""

    async def main() -> int:
        gate = Priority(asyncio.get_running_loop())
        clock = Turns()
        gate.claim(SESSION)
        waiters = []
        for _ in range(4 * CLAIM_TURNS):
            if not gate.claimed:
                break
            gate.claim(SESSION)  # more input for the same command: the claim is not renewed
            waiters.append(gate.enter())  # and REST requests keep coming
            await turns(1)
        clock.stop()
        await asyncio.gather(*(admitted(gate, w) for w in waiters if w is not None))
        return clock.n

    assert CLAIM_TURNS <= run(main) <= CLAIM_TURNS + 3


def test_past_max_waiting_a_request_starts_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prio, "MAX_WAITING", 3)

    async def main() -> list[bool]:
        gate = Priority(asyncio.get_running_loop())
        gate.claim(SESSION)
        waits = [gate.enter() for _ in range(5)]
        out = [w is None for w in waits]
        gate.let_go(SESSION)
        await asyncio.gather(*(w for w in waits if w is not None))
        return out

    assert run(main) == [False, False, False, True, True]


def test_when_no_session_is_warm_any_more_every_waiter_starts_at_once() -> None:
    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        now = [1000.0]
        loop.time = lambda: now[0]  # type: ignore[method-assign]  # the loop's clock, moved by hand
        gate = Priority(loop)
        clock = Turns()
        started: list[tuple[str, int]] = []
        gate.claim(SESSION)
        tasks = [asyncio.ensure_future(request(gate, f"r{i}", started, clock)) for i in range(4 * PER_TURN)]
        await turns(2)
        gate.let_go(SESSION)
        await turns(1)
        before = gate.waiting  # still warm: a few start per turn
        now[0] += prio.WARM  # the session has been quiet for WARM seconds
        await turns(2)
        after = gate.waiting
        await asyncio.gather(*tasks)
        clock.stop()
        return before, after

    before, after = run(main)
    assert before >= 2 * PER_TURN and after == 0


def test_finished_commits_are_handed_back_none_while_claimed_a_few_per_turn_while_warm() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        gate = priority_of(loop)
        wakeups = LoopWakeups(loop)
        clock = Turns()
        gate.claim(SESSION)
        futures = [loop.create_future() for _ in range(2 * PER_TURN + 1)]
        for n, future in enumerate(futures):
            wakeups.resolve(future, n)  # one journal group settled
        await turns(BLOCK_TURNS - 1)
        assert not any(f.done() for f in futures)  # the session's command first
        gate.let_go(SESSION)
        at: list[int] = []
        for future in futures:
            future.add_done_callback(lambda _f: at.append(clock.n))
        assert await asyncio.gather(*futures) == list(range(2 * PER_TURN + 1))
        clock.stop()
        return at

    at = run(main)
    assert [at.count(t) for t in sorted(set(at))] == [PER_TURN, PER_TURN, 1]
