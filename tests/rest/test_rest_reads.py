"""CMDB reads (``reads.py``): under the device lock, waiting for a command that holds it, and without
the command-boundary hook a write runs."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from rest_helpers import Served

from fortishell.rest import cmdb_api
from fortishell.rest.reads import read_on

ENTRY = "/api/v2/cmdb/vpn.certificate/local/Fortinet_Factory"


def _held_elsewhere(lock: Any) -> bool:
    """Whether another thread holds ``lock`` now (a try from a fresh thread fails)."""
    got: list[bool] = []

    def probe() -> None:
        ok = lock.acquire(blocking=False)
        if ok:
            lock.release()
        got.append(ok)

    t = threading.Thread(target=probe)
    t.start()
    t.join(10)
    return got == [False]


def test_a_get_holds_the_device_lock_and_runs_no_after_command_hook(box: Served,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    token = box.token()
    device = box.device
    hooks: list[str] = []
    under_lock: list[bool] = []
    real_hook, real_handle = device.after_command, cmdb_api.handle

    def hook() -> None:
        hooks.append("after")
        real_hook()

    def handle(cmdb: Any, call: cmdb_api.Call) -> dict[str, Any]:
        under_lock.append(_held_elsewhere(device.lock))
        return real_handle(cmdb, call)

    monkeypatch.setattr(device, "after_command", hook)
    monkeypatch.setattr(cmdb_api, "handle", handle)
    with box.client(token) as c:
        for n in range(3):  # three URLs: three reads (not answers kept from an earlier one)
            assert c.get(f"{ENTRY}?n={n}").status_code == 200
        assert hooks == [] and under_lock == [True, True, True]
        # a write still runs as a command: the hook after it
        r = c.put(ENTRY, json={"comments": "changed"})
        assert r.status_code == 200, r.text
        assert c.get(ENTRY).json()["results"][0]["comments"] == "changed"
    assert hooks == ["after"] and under_lock == [True] * 5


class _Device:
    def __init__(self) -> None:
        self.lock = threading.RLock()


def test_a_read_waits_on_a_worker_thread_for_the_command_holding_the_device() -> None:
    device = _Device()
    held, release = threading.Event(), threading.Event()

    def command() -> None:
        with device.lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=command)
    holder.start()
    assert held.wait(10)
    ran_on: list[threading.Thread] = []

    def work() -> str:
        ran_on.append(threading.current_thread())
        return "read"

    async def go() -> str:
        task = asyncio.ensure_future(read_on(device, work))
        await asyncio.sleep(0)  # the read starts and finds the device busy
        assert not ran_on
        release.set()
        return await asyncio.wait_for(task, 10)

    assert asyncio.run(go()) == "read"
    holder.join(10)
    assert ran_on and ran_on[0] is not threading.main_thread()
    # the device free: at once, on the loop's own thread
    ran_on.clear()
    assert asyncio.run(read_on(device, work)) == "read" and ran_on == [threading.main_thread()]
