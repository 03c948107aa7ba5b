"""``fortishell run``: replay CLI scripts through a Session and print the transcript.

Each logical line runs as if typed.  The transcript has the interactive form::

    <prompt><command as typed>
    <output lines, streamed trace lines in order>
    <blank line>
    <next prompt>...

and ends with the final prompt (no newline after it), as the screen shows it
when the input ends.  Blank lines and ``#`` comment lines are skipped; a quoted
value may span lines (PEM blocks) and a trailing backslash continues a line.
A ``(y/n)`` question takes its answer from the next script line, echoed after
the question (``Do you want to continue? (y/n) y``); at the end of the input
the answer is ``n``.  The first failing command stops the replay with exit code
1 unless ``keep_going`` (then the exit code is 1 if any command failed).
``exit`` at the root prompt ends the replay with code 0.

SIGINT / SIGTERM during a replay cancel the running EST operation (it ends
within a second, stores nothing, and its command fails with a ``...
cancelled.`` line); the replay then stops after that command with exit code
128 + the signal number (130 / 143), the transcript ending with the prompt.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import FortiError
from .shell.result import Result, parse_answer
from .shell.session import Session

if TYPE_CHECKING:
    from .shell.device import Device

ExpectHook = Callable[[str], int]


def logical_lines(text: str, needs_more: Callable[[str], bool]) -> Iterator[str]:
    """Split a script into logical command lines (comments and blank lines dropped)."""
    pending: str | None = None
    for raw in text.splitlines():
        if pending is not None:
            pending += "\n" + raw
            if not needs_more(pending):
                yield pending
                pending = None
            continue
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if needs_more(raw):
            pending = raw
        else:
            yield raw
    if pending is not None:
        yield pending  # unterminated: the parser reports it


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FortiError(f"Cannot read script {path}: {getattr(exc, 'strerror', None) or exc}", rc=None) from exc


class Transcript:
    """Writes the transcript; streamed device lines go straight through in order."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.out.write(text)
        self.parts.append(text)
        try:
            self.out.flush()
        except (OSError, ValueError):
            pass

    def line(self, text: str) -> None:
        self.write(text + "\n")

    def text(self) -> str:
        return "".join(self.parts)


def run_scripts(
    paths: list[str],
    device: "Device",
    *,
    keep_going: bool = False,
    out: IO[str] | None = None,
    expect: ExpectHook | str | os.PathLike[str] | None = None,
) -> int:
    """Replay ``paths`` ("-" = stdin) in one session; returns the exit code.

    ``expect``: an expected-transcript file (``--expect``) or a hook called with the
    whole transcript text.  When given, the comparison decides the exit code, also
    when a command failed (an exercise may expect a failure).
    """
    out = out if out is not None else sys.stdout
    hook: ExpectHook | None
    if expect is None or callable(expect):
        hook = expect
    else:
        from .expect import expect_hook

        hook = expect_hook(os.fspath(expect))
    tr = Transcript(out)
    sess = Session(device)
    old_sink = device.set_sink(tr.line)
    try:
        lines: list[str] = []
        for path in paths:
            try:
                lines.extend(logical_lines(_read(path), sess.needs_more))
            except FortiError as err:
                for ln in err.output():
                    sys.stderr.write(ln + "\n")
                return 2
        with _Interrupts(device) as interrupts:
            rc, failed = _replay(sess, iter(lines), tr, keep_going, interrupts.stop_code)
        if rc is None:
            tr.write(sess.prompt)
            rc = 1 if failed else 0
    finally:
        device.set_sink(old_sink)
    if hook is not None and interrupts.signum is None:
        return hook(tr.text())
    return rc


class _Interrupts:
    """SIGINT / SIGTERM while replaying (main thread only): cancel the running EST operation and
    stop after the current command (see the module docstring)."""

    def __init__(self, device: "Device") -> None:
        self.device = device
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "_Interrupts":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, _frame: object) -> None:
        self.signum = signum
        self.device.cancel()

    def stop_code(self) -> int | None:
        return None if self.signum is None else 128 + self.signum


def _replay(sess: Session, lines: Iterator[str], tr: Transcript, keep_going: bool,
            stop: Callable[[], int | None] = lambda: None) -> tuple[int | None, bool]:
    failed = False
    for text in lines:
        tr.line(sess.prompt + text)
        result = sess.execute(text)
        result = _answer_questions(result, lines, tr)
        for ln in result.lines:
            tr.line(ln)
        tr.line("")
        if result.exit:
            return 0, failed
        code = stop()
        if code is not None:
            tr.write(sess.prompt)
            return code, True
        if result.rc != 0:
            failed = True
            if not keep_going:
                return 1, True
    return None, failed


def _answer_questions(result: Result, lines: Iterator[str], tr: Transcript) -> Result:
    while result.question is not None:
        q = result.question
        for ln in result.lines:
            tr.line(ln)
        for ln in q.text[:-1]:
            tr.line(ln)
        answer = next(lines, "n")
        tr.line(f"{q.text[-1]} {answer.strip()}")
        result = q.answer(parse_answer(answer))
    return result


def transcript(text: str, device: "Device", *, keep_going: bool = True) -> tuple[int, str]:
    """Replay a script given as text; returns (exit code, transcript).  For tests and tools."""
    import io

    buf = io.StringIO()
    tr = Transcript(buf)
    sess = Session(device)
    old = device.set_sink(tr.line)
    try:
        rc, failed = _replay(sess, iter(list(logical_lines(text, sess.needs_more))), tr, keep_going)
        if rc is None:
            tr.write(sess.prompt)
            rc = 1 if failed else 0
    finally:
        device.set_sink(old)
    return rc, buf.getvalue()
