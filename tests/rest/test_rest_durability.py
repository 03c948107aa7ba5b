"""A REST write is answered only once it is on disk; concurrent writes are serialised and share the
journal's fsync (group commit) while each answer still waits for its own record."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutureTimeout
from pathlib import Path

import httpx
import pytest

from rest_helpers import Served
from fortishell.cmdb import journal

pytestmark = pytest.mark.timeout(60)
REAL_FSYNC = os.fsync
HELD = 0.3  # seconds an answer is looked for while the journal's fsync is held (none may come)
GLOBAL = "/api/v2/cmdb/system/global"
# one attribute of `system global` per concurrent writer, and the line it becomes
WRITES: tuple[tuple[dict[str, object], str], ...] = (({"alias": "w0"}, 'set alias "w0"'), ({"hostname": "w1"}, 'set hostname "w1"'),
          ({"admintimeout": 41}, "set admintimeout 41"))


class Gate:
    """``os.fsync`` of the device's journal blocks, from the first call on, until :meth:`open`;
    counts the fsyncs of the journal."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, config: Path) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()
        self.calls = 0
        target = journal.journal_path(config)

        def fsync(fd: int) -> None:
            if os.path.exists(target) and os.path.samefile(f"/proc/self/fd/{fd}", target):
                self.calls += 1
                self.entered.set()
                self.opened.wait(30)
            REAL_FSYNC(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    def open(self) -> None:
        self.opened.set()


def _gate(box: Served, monkeypatch: pytest.MonkeyPatch) -> Gate:
    config = box.device.persistence.config_path
    assert config is not None and box.device.persistence.journaled
    return Gate(monkeypatch, config)


def _put(client: httpx.Client, body: Mapping[str, object]) -> Callable[[], httpx.Response]:
    return lambda: client.put(GLOBAL, json=body)


def test_a_put_is_answered_only_after_its_journal_record_is_fsynced(box: Served,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    token = box.token()
    gate = _gate(box, monkeypatch)
    with box.client(token) as c, ThreadPoolExecutor(1) as pool:
        answer = pool.submit(_put(c, {"alias": "durable-first"}))
        assert gate.entered.wait(20), "the PUT's record never reached fsync"
        with pytest.raises(FutureTimeout):
            answer.result(HELD)  # the change is made, but the disk has not confirmed it: no answer yet
        gate.open()
        r = answer.result(20)
    assert r.status_code == 200, r.text
    assert r.json()["revision_changed"] is True
    assert b'set alias "durable-first"' in journal.journal_path(box.device.persistence.config_path).read_bytes()


def test_concurrent_puts_share_an_fsync_and_each_waits_for_its_own(served: Callable[..., Served],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    box = served()
    token = box.token()
    gate = _gate(box, monkeypatch)
    clients = [box.client(token) for _ in WRITES]
    try:
        with ThreadPoolExecutor(len(WRITES)) as pool:
            first = pool.submit(_put(clients[0], WRITES[0][0]))
            assert gate.entered.wait(20)  # the flusher holds the first record in fsync
            rest = [pool.submit(_put(c, body)) for c, (body, _) in zip(clients[1:], WRITES[1:])]
            _wait_committed(box, [line for _, line in WRITES])
            for answer in [first, *rest]:
                with pytest.raises(FutureTimeout):
                    answer.result(HELD / len(WRITES))  # made, not on disk: no answer
            gate.open()
            answers = [a.result(20) for a in [first, *rest]]
    finally:
        for c in clients:
            c.close()
    assert [a.status_code for a in answers] == [200] * len(WRITES), [a.text for a in answers]
    # the records queued behind the held fsync went to the disk together: 2 fsyncs for 3 commits
    assert gate.calls == 2
    # each write applied once and whole, none lost to another, all on disk: a restart has them
    box.server.stop()
    text = served(state=box.state).config_text()
    for _, line in WRITES:
        assert line in text


def _wait_committed(box: Served, lines: list[str]) -> None:
    """Until every line is in the device's configuration (bounded): the commits are made and,
    once the device lock is free, their journal records queued."""
    done = threading.Event()
    for _ in range(2000):
        if all(line in box.config_text() for line in lines):
            with box.device.lock:  # a commit appends its record before it lets go of the lock
                return
        done.wait(0.01)
    raise AssertionError(f"not committed: {lines}")
