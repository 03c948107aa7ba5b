"""rest/runner.py: REST writes run on the event loop, each answered once its journal record is on disk,
and the commits of one journal group wake the loop once (not once per commit)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from fortishell.clock import Clock
from fortishell.cmdb import journal
from fortishell.rest import cmdb_api
from fortishell.rest.runner import run_on
from fortishell.shell.device import Device
from fortishell.shell.persist import load_saved

pytestmark = pytest.mark.timeout(60)
REAL_FSYNC = os.fsync
LATER = 5  # PUTs made while the first one's fsync is held: they form the next group


def _call(method: str, mkey: str | None, body: dict[str, Any]) -> cmdb_api.Call:
    return cmdb_api.Call(method, "vpn.certificate", "local", mkey, {}, (), body)


async def _until(check: Any) -> None:
    for _ in range(2000):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def test_a_journal_group_of_rest_writes_wakes_the_loop_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    device = Device.open(tmp_path / "fortigate.conf", tmp_path, Clock(), journal=True)
    jnl = device.persistence._journal
    assert jnl is not None
    target = journal.journal_path(tmp_path / "fortigate.conf")
    held, entered = threading.Event(), threading.Event()

    def fsync(fd: int) -> None:  # the journal's first fsync under the gate waits for `held`
        if not held.is_set() and os.path.exists(target) and os.path.samefile(f"/proc/self/fd/{fd}", target):
            entered.set()
            held.wait(30)
        REAL_FSYNC(fd)

    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        await run_on(device, lambda: cmdb_api.handle(device.cmdb, _call("POST", None, {"name": "e1"})))
        monkeypatch.setattr(os, "fsync", fsync)

        def put(comment: str) -> "asyncio.Task[dict[str, Any]]":
            return asyncio.ensure_future(run_on(device, lambda: cmdb_api.handle(
                device.cmdb, _call("PUT", "e1", {"comments": comment}))))

        first = put("c0")
        await _until(entered.is_set)  # the flusher holds c0's record in fsync
        ticket = jnl.last_ticket
        later = [put(f"c{i}") for i in range(1, LATER + 1)]
        await _until(lambda: jnl.last_ticket == ticket + LATER)  # committed, records queued, answers waiting
        settled = threading.Event()  # called after the group's other waiters (registration order)
        device.when_durable(ticket + LATER, lambda lines: settled.set())
        wakeups = 0
        real = loop.call_soon_threadsafe

        def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal wakeups
            wakeups += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
        held.set()
        assert settled.wait(20)  # the loop is held here while the flusher settles both groups
        assert not first.done() and not any(t.done() for t in later)  # nothing answered before the loop ran
        results = await asyncio.gather(first, *later)
        # c0's group wakes the loop; the group behind it is settled before the loop ran: no second one
        # (one call_soon_threadsafe per commit: 1 + LATER)
        assert wakeups == 1, wakeups
        assert all(r["revision_changed"] for r in results)
        return [str(device.cmdb.entry(("vpn", "certificate", "local"), "e1").get("comments"))]  # type: ignore[union-attr]

    try:
        assert asyncio.run(main()) == [f"c{LATER}"]
    finally:
        device.close()
    saved = load_saved(tmp_path / "fortigate.conf").entry(("vpn", "certificate", "local"), "e1")
    assert saved.get("comments") == f"c{LATER}"  # every write on disk, in order
