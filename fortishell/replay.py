"""``fortishell run``: replay CLI scripts through a Session and print the transcript.

Each logical line runs as if typed.  The transcript has the interactive form::

    <prompt><command as typed>
    <output lines, streamed trace lines in order>
    <blank line>
    <next prompt>...

and ends with the final prompt (no newline after it), as the screen shows it
when the input ends; when the output is a terminal a newline follows it, so that
the user's shell prompt starts on a line of its own (not part of the transcript).  Blank lines and ``#`` comment lines are skipped; a quoted
value may span lines (PEM blocks) and a trailing backslash continues a line.
A ``(y/n)`` question takes its answer from the next script line, echoed after
the question (``Do you want to continue? (y/n) y``); at the end of the input
the answer is ``n``.  The first failing command stops the replay with exit code
1 unless ``keep_going`` (then the exit code is 1 if any command failed); when
lines are left unrun, one line on stderr says so (the transcript is unchanged).
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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import FortiError
from .shell.result import Result, parse_answer
from .shell.session import Session

if TYPE_CHECKING:
    from .shell.device import Device

ExpectHook = Callable[[str], int]
# runs one piece of a command's work (execute, answer) and returns its result; the SSH front end
# runs it under the device's output hub
Runner = Callable[[Callable[[], Result]], Result]


def _direct(work: Callable[[], Result]) -> Result:
    return work()


def logical_lines(text: str | Iterable[str], needs_more: Callable[[str], bool]) -> Iterator[str]:
    """Split a script (text, or its lines as they come) into logical command lines (comments and
    blank lines dropped)."""
    pending: str | None = None
    for raw in text.splitlines() if isinstance(text, str) else text:
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
        try:
            if sys.stdin is None:  # started with standard input closed (`<&-`)
                raise OSError("standard input is closed")
            return sys.stdin.read()
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise FortiError(f"Cannot read script -: {getattr(exc, 'strerror', None) or exc}", rc=None) from exc
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
    say_stop: bool = True,
) -> int:
    """Replay ``paths`` ("-" = stdin) in one session; returns the exit code.

    ``expect``: an expected-transcript file (``--expect``) or a hook called with the
    whole transcript text.  When given, the comparison decides the exit code, also
    when a command failed (an exercise may expect a failure).  ``say_stop``: the
    stderr line when the first failure left lines unrun (``lab`` replays its parts
    without it).
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
        pending = iter(lines)
        with _Interrupts(device, out) as interrupts:
            rc, failed = _replay(sess, pending, tr, keep_going, interrupts.stop_code)
        if rc is None:
            tr.write(sess.prompt)
            rc = 1 if failed else 0
        skipped = sum(1 for _ in pending)
        if say_stop and skipped and failed and not keep_going and hook is None and interrupts.signum is None:
            # the transcript (stdout) stays the device's; what the replay did is said on stderr
            sys.stderr.write(f"fortishell run: stopped at the first failed command; {skipped} "
                             f"command line{'s' if skipped != 1 else ''} not run (--keep-going runs them)\n")
    finally:
        device.set_sink(old_sink)
    if hook is None and _is_terminal(out) and not tr.text().endswith("\n"):
        out.write("\n")  # a shell prompt after ours starts on its own line (a terminal only: see ARCHITECTURE.md)
        out.flush()
    if hook is not None and interrupts.signum is None:
        if not tr.text().endswith("\n"):
            tr.write("\n")  # the verdict goes on a line of its own, not after the last prompt
        return hook(tr.text())
    return rc


def _is_terminal(out: IO[str]) -> bool:
    try:
        return bool(out.isatty())
    except (OSError, ValueError, AttributeError):
        return False


def replay_lines(sess: Session, raw_lines: Iterable[str], out: IO[str], *, run: Runner = _direct) -> int:
    """Run lines as they come (an SSH exec request, a session without a terminal): every line
    runs (keep going), the transcript goes to ``out`` as ``fortishell run`` prints it.  Returns
    0 when every command succeeded, 1 when one failed (``exit`` at the root prompt: 0)."""
    tr = Transcript(out)
    rc, failed = _replay(sess, logical_lines(raw_lines, sess.needs_more), tr, True, run=run)
    if rc is None:
        tr.write(sess.prompt)
        rc = 1 if failed else 0
    return rc


class _Interrupts:
    """SIGINT / SIGTERM while replaying (main thread only): cancel the running EST operation and
    stop after the current command (see the module docstring)."""

    def __init__(self, device: "Device", out: IO[str] | None = None) -> None:
        self.device = device
        self.out = out
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
        out = self.out
        if signum == signal.SIGINT and out is not None and _is_terminal(out):
            # the terminal echoed ^C: the cancelled trace starts on a line of its own (written to
            # the descriptor: the stream may be in the middle of a write of the interrupted thread)
            try:
                os.write(out.fileno(), b"\n")
            except (OSError, ValueError, AttributeError):
                pass
        self.device.cancel()

    def stop_code(self) -> int | None:
        return None if self.signum is None else 128 + self.signum


def _replay(sess: Session, lines: Iterator[str], tr: Transcript, keep_going: bool,
            stop: Callable[[], int | None] = lambda: None,
            run: Runner = _direct) -> tuple[int | None, bool]:
    failed = False
    for text in lines:
        tr.line(sess.prompt + text)
        result = run(lambda: sess.execute(text))
        result = _answer_questions(result, lines, tr, run)
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


def _answer_questions(result: Result, lines: Iterator[str], tr: Transcript, run: Runner = _direct) -> Result:
    while result.question is not None:
        q = result.question
        for ln in result.lines:
            tr.line(ln)
        for ln in q.text[:-1]:
            tr.line(ln)
        answer = next(lines, "n")
        tr.line(f"{q.text[-1]} {answer.strip()}")
        yes = parse_answer(answer)
        result = run(lambda: q.answer(yes))
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
