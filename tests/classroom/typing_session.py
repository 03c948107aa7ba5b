"""A student at ``lab start``'s recording REPL: keys sent through a prompt_toolkit pipe input to the
real interact loop, on a fresh copy of an exercise's configuration at its clock (the embedded lab
responder serves the EST requests).  Used to produce real transcripts for the grading tests."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence
from pathlib import Path

from prompt_toolkit.data_structures import Size
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from fortishell.classroom import catalogue
from fortishell.classroom.record import RecordingRepl
from fortishell.clock import Clock
from fortishell.shell.device import Device

SAMPLES = Path(__file__).resolve().parents[2] / "sample-configs"

# what a student typed: a string of keys ("\r" = Enter), or a callable run between keys (a step
# outside the device), given the run's state directory
Key = str | Callable[[Path], None]


def record(exercise: str, keys: Sequence[Key], workdir: Path) -> str:
    """Type ``keys`` at the recording REPL of a fresh run of ``exercise``; the transcript text."""
    ex = catalogue.load(SAMPLES).get(exercise)
    work = catalogue.scratch_copy(ex, workdir)
    device = Device.open(work / "fortishell.conf", work, Clock(ex.when))
    transcript = io.StringIO()
    screen = io.StringIO()
    try:
        with create_pipe_input() as inp:
            out = Vt100_Output(screen, lambda: Size(rows=60, columns=250), term="xterm")
            repl = RecordingRepl(device, history=InMemoryHistory(), input=inp, output=out, record=transcript)

            async def session() -> int:
                task = asyncio.ensure_future(repl.interact())
                for key in keys:
                    if callable(key):
                        await _idle(repl, transcript)
                        key(work)
                        continue
                    inp.send_text(key)
                    if key.endswith("\r"):
                        await _idle(repl, transcript)
                    else:
                        await asyncio.sleep(0.2)
                return await asyncio.wait_for(task, 60)

            assert asyncio.run(session()) == 0
    finally:
        device.close()
    return transcript.getvalue()


async def _idle(repl: RecordingRepl, transcript: io.StringIO) -> None:
    """Until the command typed last has finished (its output is in the transcript)."""
    await asyncio.sleep(0.05)
    for _ in range(1200):
        if not repl.busy:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)


def script_lines(stem: str) -> list[str]:
    """The commands of ``sample-configs/<stem>.cli`` (comments dropped)."""
    text = (SAMPLES / f"{stem}.cli").read_text()
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
