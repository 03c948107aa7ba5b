"""An interactive session's line is served within a few REST requests' work while 32 keep-alive
clients keep the REST door's event loop saturated (frontend/priority.py through app.guarded and
the SSH door's FastLines).  Real aiohttp on 127.0.0.1, the real guarded() wrapper, each request
answered through the real LoopWakeups (as a commit's journal wait is); the session is a real
FastLines fed from a loop callback, as the SSH channel feeds it.  Work is counted in REST steps
(a request started, a request resumed after its commit), never in seconds."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from fortishell.frontend.fastline import FastLines
from fortishell.frontend.priority import PER_TURN
from fortishell.frontend.wakeups import wakeups_of
from fortishell.rest.app import guarded

pytestmark = pytest.mark.timeout(60)
CLIENTS = 32
COMMANDS = 21
GAP = 32  # REST requests answered between two commands of the session


def never_more(_text: str) -> bool:
    return False


async def saturated_session() -> list[int]:
    """REST steps run between each line's arrival and the session's step that takes it."""
    loop = asyncio.get_running_loop()
    steps: list[str] = []
    answered = 0
    next_command: asyncio.Future[None] = loop.create_future()
    wanted = GAP

    async def handler(request: web.Request) -> web.Response:
        nonlocal answered
        steps.append("start")
        durable: asyncio.Future[None] = loop.create_future()
        wakeups_of(loop).resolve(durable, None)  # the journal's answer for this request's commit
        await durable
        steps.append("resumed")
        answered += 1
        if answered >= wanted and not next_command.done():
            next_command.set_result(None)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", guarded(handler))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/v2/cmdb/x/y"
    stop = False

    async def client() -> None:  # back to back on one keep-alive connection, as wrk does
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as s:
            while not stop:
                async with s.put(url, data=b"{}") as r:
                    assert r.status == 200
                    await r.read()

    clients = [asyncio.ensure_future(client()) for _ in range(CLIENTS)]
    fast = FastLines(lambda _data: None)
    marks: list[int] = []
    between: list[int] = []

    async def session() -> None:  # the interact loop: a line, its command, then wait for the next
        while len(between) < COMMANDS:
            line = await fast.line(lambda _text: None, never_more)
            assert line == "get system status"
            between.append(len(steps) - marks[-1])

    def arrives() -> None:  # the SSH channel's data_received: one line typed
        marks.append(len(steps))
        fast.feed("get system status\r")

    typing = asyncio.ensure_future(session())
    try:
        for n in range(COMMANDS):
            await next_command
            next_command = loop.create_future()
            wanted = answered + GAP
            for _ in range(n % 7):  # lines arrive at any point of the REST requests' rounds
                await asyncio.sleep(0)
            loop.call_soon(arrives)
        await typing
        return between
    finally:
        stop = True
        await asyncio.gather(*clients, return_exceptions=True)
        await runner.cleanup()


def test_a_typed_line_is_taken_within_a_few_rest_steps_while_rest_saturates_the_loop() -> None:
    between = asyncio.run(asyncio.wait_for(saturated_session(), 45))
    # without the priority a line arriving behind a round of answered commits waited for all of
    # them (32, every client's); with it no request starts while the line waits and the commits
    # of a journal group come back a few per turn: only what its turn already held runs first
    assert max(between) <= 3 * PER_TURN, between
