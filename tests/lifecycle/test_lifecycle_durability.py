"""A command never waits without bound for the disk: with the journal's fsync hanging, ``end`` returns
with a FortiOS-style error line, through the SSH-style fast path (the event loop awaits the durability
callback) and through the local terminal's worker thread (``device.sync``)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import threading
import time
from pathlib import Path

import pytest
from lifecycle_helpers import LAB_TIME
from prompt_toolkit.data_structures import Size
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from fortishell.clock import Clock
from fortishell.cmdb import journal
from fortishell.frontend.fastline import FastLines
from fortishell.frontend.interact import Repl
from fortishell.shell.device import Device

pytestmark = pytest.mark.timeout(60)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")
NOT_CONFIRMED = "Failed to save configuration: the disk did not confirm the write within 0.5 seconds"


@pytest.mark.parametrize("door", ["fast", "worker"])
def test_a_commit_the_disk_never_confirms_returns_with_an_error_line(tmp_path: Path, config_path: Path,
                                                                     monkeypatch, door: str) -> None:
    monkeypatch.setattr(journal, "WAIT_TIMEOUT", 0.5)
    dev = Device.open(config_path, tmp_path / "state", Clock(fixed=LAB_TIME), journal=True)
    gate = threading.Event()
    real_fsync = os.fsync
    target = journal.journal_path(config_path)

    def fsync(fd: int) -> None:  # the journal's disk stops answering
        if target.exists() and os.path.samefile(f"/proc/self/fd/{fd}", target):
            gate.wait(30)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    buf = io.StringIO()
    out = Vt100_Output(buf, lambda: Size(rows=50, columns=200), term="xterm")
    text = lambda: _ANSI.sub("", buf.getvalue())  # noqa: E731
    timings: dict[str, float] = {}
    try:
        with create_pipe_input() as inp:
            fast = FastLines(inp.send_text) if door == "fast" else None
            repl = Repl(dev, history=InMemoryHistory(), input=inp, output=out, plain=fast is not None, fast=fast)
            send = fast.feed if fast is not None else inp.send_text

            async def until(what: str, deadline: float) -> None:
                while what not in text() and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)

            async def user() -> None:  # on the session's event loop, as the SSH server feeds it
                deadline = time.monotonic() + 20
                await until("FortiProxy #", deadline)
                send("config system global\rset alias hung\r")
                await until("(global) #", deadline)
                await asyncio.sleep(0.2)
                timings["end"] = time.monotonic()
                send("end\r")
                await until(NOT_CONFIRMED, deadline)
                timings["reply"] = time.monotonic()
                gate.set()  # the disk comes back (lets a stuck command finish when the check fails)
                send("exit\r")

            async def both() -> int:
                typist = asyncio.ensure_future(user())
                rc = await repl.interact()
                await typist
                return rc

            assert asyncio.run(both()) == 0
        assert NOT_CONFIRMED in text(), text()
        assert timings["reply"] - timings["end"] < 5
        after = text()[text().index(NOT_CONFIRMED):]
        assert "FortiProxy #" in after  # the prompt came back after the error line
    finally:
        gate.set()
        dev.close()
    assert "alias" in config_path.read_text() and '"hung"' in config_path.read_text()
