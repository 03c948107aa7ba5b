"""Running an exercise: its parts on one device, the steps outside it, and the names users see.

:func:`replay` is what ``lab check NAME`` runs: every part of the exercise on
one device (a fresh copy, the exercise's clock), and between parts the
catalogue's ``outside`` commands, run as a student runs them in another
terminal (``fortishell --state-dir RUN --clock CLOCK lab-ca ...``, here in the
same process).  The transcript is one session, as ``lab start`` records it.

:func:`command_words` is how a command is shown to a user so that it runs as
printed: ``fortishell ...`` when that console script (of this installation) is
on ``PATH``, ``python3 -m fortishell ...`` from a checkout's top directory,
else this interpreter's path ``-m fortishell``.  A step to type in another
terminal (whose directory and ``PATH`` are unknown) gets the full path
(:func:`command_words_anywhere`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import io
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .catalogue import Exercise, Outside, Part

if TYPE_CHECKING:
    from ..shell.device import Device


@dataclass(frozen=True)
class OutsideRun:
    """What an outside step printed and its exit status."""

    argv: tuple[str, ...]
    rc: int
    output: str


def outside_argv(step: Outside, ex: Exercise, state_dir: Path) -> list[str]:
    """The ``fortishell`` arguments of an outside step for a run in ``state_dir``."""
    return ["--state-dir", str(state_dir), "--clock", ex.clock, *step.words(state_dir)]


def run_outside(step: Outside, ex: Exercise, state_dir: Path) -> OutsideRun:
    """Run an outside step as the ``fortishell`` command line would (same parser, same code)."""
    from ..cli_main import run_main

    argv = outside_argv(step, ex, state_dir)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            rc = run_main(argv)
    except SystemExit as exc:  # argparse and some option checks leave this way
        if isinstance(exc.code, str):
            buf.write(exc.code + "\n")
        rc = exc.code if isinstance(exc.code, int) else 2
    return OutsideRun(tuple(argv), rc, buf.getvalue())


def replay(ex: Exercise, device: "Device", state_dir: Path) -> tuple[str, list[OutsideRun]]:
    """Every step of ``ex`` on ``device``: the transcript of the whole session, the outside runs.

    A part's transcript ends with the final prompt; the next part goes on from it.
    Stops at an outside step that fails (the transcript then ends there)."""
    from ..replay import run_scripts

    text = ""
    outside: list[OutsideRun] = []
    for step in ex.parts:
        if isinstance(step, Outside):
            done = run_outside(step, ex, state_dir)
            outside.append(done)
            if done.rc != 0:
                break
            continue
        assert isinstance(step, Part)
        buf = io.StringIO()
        run_scripts([str(ex.directory / f"{step.stem}.cli")], device, keep_going=step.keep_going, out=buf,
                    say_stop=False)
        text = _continue(text, buf.getvalue())
    return text, outside


def _continue(before: str, after: str) -> str:
    """``before`` (ending with its final prompt) followed by ``after`` typed at that prompt."""
    if not before:
        return after
    cut = before.rfind("\n") + 1
    return before[:cut] + after


# ------------------------------------------------------------------ names and commands
def transcript_name(ex: Exercise, when: _dt.datetime | None = None, user: str | None = None) -> str:
    """``<user>-<exercise>-<YYYYmmdd-HHMMSS>.txt``: who, what and when."""
    return session_transcript_name(ex.name, when, user)


def session_transcript_name(what: str, when: _dt.datetime | None = None, user: str | None = None) -> str:
    """``<user>-<what>-<YYYYmmdd-HHMMSS>.txt`` (``what``: an exercise's name, or another session's)."""
    when = when or _dt.datetime.now()
    who = re.sub(r"[^A-Za-z0-9_.-]+", "_", user or _user()) or "student"
    return f"{who}-{what}-{when:%Y%m%d-%H%M%S}.txt"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return "student"


def command_words() -> list[str]:
    """How to call this installation of fortishell from a shell, so the command runs as printed."""
    script = shutil.which("fortishell")
    here = Path(sys.executable).parent
    if script is not None and Path(script).parent.resolve() == here.resolve():
        return ["fortishell"]
    package = Path(__file__).resolve().parents[1]
    checkout = package.parent
    if Path.cwd().resolve() == checkout and (checkout / "pyproject.toml").is_file():
        return ["python3", "-m", "fortishell"]
    return [sys.executable, "-m", "fortishell"]


def command_words_anywhere() -> list[str]:
    """How to call this installation from any directory and any shell (another terminal):
    the console script by its full path, else this interpreter's path ``-m fortishell``."""
    script = Path(sys.executable).parent / "fortishell"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "fortishell"]


def shell_line(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)
