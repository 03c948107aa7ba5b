"""frontend/wakeups.py: results handed to the loop from another thread, one wake-up per burst; a
waiter that went away (its future cancelled: the REST client closed the connection) is skipped
and the others of its burst are still answered."""

from __future__ import annotations

import asyncio
import threading

from fortishell.frontend.wakeups import LoopWakeups, wakeups_of


def test_a_cancelled_waiter_does_not_cost_the_others_of_its_burst_their_answer() -> None:
    async def main() -> list[object]:
        loop = asyncio.get_running_loop()
        wakeups = wakeups_of(loop)
        assert wakeups_of(loop) is wakeups  # one per loop
        gone, first, last = loop.create_future(), loop.create_future(), loop.create_future()
        gone.cancel()

        def flusher() -> None:  # the journal's thread settles one group
            for future, value in ((first, "a"), (gone, "b"), (last, "c")):
                wakeups.resolve(future, value)

        thread = threading.Thread(target=flusher)
        thread.start()
        thread.join(10)
        results = await asyncio.wait_for(asyncio.gather(first, last), 10)
        return [*results, gone.cancelled()]

    assert asyncio.run(main()) == ["a", "c", True]


def test_one_drain_per_burst() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        calls = 0
        real = loop.call_soon_threadsafe

        def counting(*args: object) -> asyncio.Handle:
            nonlocal calls
            calls += 1
            return real(*args)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        wakeups = LoopWakeups(loop)
        futures = [loop.create_future() for _ in range(5)]
        thread = threading.Thread(target=lambda: [wakeups.resolve(f, n) for n, f in enumerate(futures)])
        thread.start()
        thread.join(10)
        assert await asyncio.wait_for(asyncio.gather(*futures), 10) == [0, 1, 2, 3, 4]
        later = loop.create_future()  # the queue drained: the next result schedules a drain again
        wakeups.resolve(later, "again")
        assert await asyncio.wait_for(later, 10) == "again"
        return calls

    assert asyncio.run(main()) == 2


def test_a_loops_wakeups_and_priority_do_not_keep_it_alive() -> None:
    """The per-loop registries hold their loop weakly: a loop that ends (a test's, a client's) is
    collected with its LoopWakeups and Priority, not kept for the life of the process."""
    import gc
    import weakref

    async def touch() -> None:
        wakeups_of(asyncio.get_running_loop())  # makes the loop's Priority too

    loop = asyncio.new_event_loop()
    loop.run_until_complete(touch())
    loop.close()
    gone = weakref.ref(loop)
    del loop
    gc.collect()
    assert gone() is None  # held strongly by its LoopWakeups or Priority, it stayed
