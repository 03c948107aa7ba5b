"""``lab start``'s recorder on the real interact loop (prompt_toolkit pipe input): a paged output
is recorded whole even when the student quits the pager with q."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

from prompt_toolkit.data_structures import Size
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from fortishell.classroom.record import RecordingRepl
from fortishell.clock import Clock
from fortishell.shell.device import Device

SAMPLES = Path(__file__).resolve().parents[2] / "sample-configs"


def test_paged_output_is_recorded_whole(tmp_path: Path) -> None:
    shutil.copyfile(SAMPLES / "factory.conf", tmp_path / "fortishell.conf")
    device = Device.open(tmp_path / "fortishell.conf", tmp_path, Clock())
    screen = io.StringIO()
    record = io.StringIO()
    try:
        with create_pipe_input() as inp:
            out = Vt100_Output(screen, lambda: Size(rows=8, columns=100), term="xterm")
            repl = RecordingRepl(device, history=InMemoryHistory(), input=inp, output=out, paging=True,
                                 record=record)

            async def session() -> int:
                task = asyncio.ensure_future(repl.interact())
                inp.send_text("get system status\r")
                for _ in range(200):
                    await asyncio.sleep(0.02)
                    if "--More--" in screen.getvalue():
                        break
                inp.send_text("q")
                inp.send_text("exit\r")
                return await asyncio.wait_for(task, 20)

            assert asyncio.run(session()) == 0
    finally:
        device.close()
    text = record.getvalue()
    assert "--More--" in screen.getvalue() and "Last reboot reason" not in screen.getvalue()
    assert text.startswith("FortiProxy # get system status\nVersion: FortiProxy")
    assert "Last reboot reason" in text  # dropped from the screen with q, kept in the transcript
    assert text.endswith("\nFortiProxy # exit\n\n") and "--More--" not in text
    assert repl.ended_by_exit
