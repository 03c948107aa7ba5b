"""One CLI session on a device: the mode stack, the prompt, dispatch, help.

``Session.execute(text)`` parses one logical line with the grammar, builds the
typed command for the current mode's verbs, runs its handler and returns a
:class:`Result`.  It never raises and never prints: a FortiError becomes its
FortiOS lines and return code; anything else becomes a one-line internal error
(the traceback goes to ``debug.log`` in the state directory).

Root-level parse errors print ``command parse error before 'x'`` WITHOUT the
``Command fail`` line (as in every real root-level paste, fortios-cli-facts.md
§2); the return code stays -61 for scripts.

Control characters: an error line quotes what the user typed (``command parse
error before '...'``, ``value parse error before '...'``, entry names ...), so
every FortiError line leaving the session goes through :func:`visible` (and so
does the ``new entry '...' added`` notice), which
renders C0 controls and DEL in caret notation (ESC -> ``^[``, BEL -> ``^G``,
DEL -> ``^?``, as a terminal echoes control keys) and C1 controls (U+0080 to
U+009F, e.g. the one-byte CSI) as ``\\xNN``; tab and newline stay as they are.
A terminal never receives a raw escape sequence from an error line.  FortiOS
does not document this; a real console shows such keys the same way.  ``show``
and ``get`` print stored values as they are: ``show full-configuration`` must
load back to the same configuration, control characters included.

Command boundary: each command (and each answer to a question) runs under the
device lock and is followed by ``device.after_command()``, which runs the
certificate renewals that became due (a committed ``auto-regenerate-days``,
``execute date``/``time``), so their trace follows the triggering command.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..cli import ast
from ..errors import FortiError, ParseError
from . import completion
from .commands import config as config_cmds
from .commands import diagnose as diagnose_cmds
from .commands import execute as execute_cmds
from .commands import getshow as getshow_cmds
from .context import ENTRY, OBJECT, Frame
from .result import Question, Result, visible

if TYPE_CHECKING:
    from .device import Device

HANDLERS: dict[type, Callable[["Session", Any], Result]] = {
    **config_cmds.HANDLERS,
    **getshow_cmds.HANDLERS,
    **execute_cmds.HANDLERS,
    **diagnose_cmds.HANDLERS,
}

INTERNAL_ERROR = "Internal error, the command was not completed (details in debug.log)."


class Session:
    """The state of one admin's CLI on a :class:`Device`."""

    def __init__(self, device: "Device") -> None:
        self.device = device
        self.stack: list[Frame] = []
        attach = getattr(device, "attach", None)
        if attach is not None:
            attach(self)

    # ------------------------------------------------------------ mode stack
    @property
    def cmdb(self) -> Any:
        return self.device.cmdb

    @property
    def frame(self) -> Frame | None:
        return self.stack[-1] if self.stack else None

    def push(self, frame: Frame) -> None:
        self.stack.append(frame)

    def pop(self) -> None:
        if self.stack:
            self.stack.pop()

    def reset(self) -> None:
        """Back to the root prompt, pending buffers dropped."""
        self.stack.clear()

    def top_entry_frame(self) -> Frame:
        """The outermost entry/object being edited (nested levels belong to it)."""
        for frame in self.stack:
            if frame.kind in (ENTRY, OBJECT) and not frame.nested:
                return frame
        raise LookupError("no entry is being edited")

    @property
    def verbs(self) -> tuple[str, ...]:
        return self.frame.verbs if self.frame else ast.ROOT_VERBS

    @property
    def prompt(self) -> str:
        host = self.device.hostname
        frame = self.frame
        return f"{host} # " if frame is None else f"{host} ({frame.label}) # "

    # ------------------------------------------------------------ running
    def execute(self, text: str) -> Result:
        at_root = self.frame is None
        return self._boundary(lambda: self._guarded(lambda: self._execute(text), at_root=at_root))

    def _boundary(self, work: Callable[[], Result]) -> Result:
        """Run one command under the device lock, then the command-boundary hook."""
        lock = getattr(self.device, "lock", None)
        if lock is None:
            return work()
        with lock:
            result = work()
            self.device.after_command()
        return result

    def _execute(self, text: str) -> Result:
        from ..cli import build, parser

        line = parser.parse_line(text)
        if line.is_empty and not line.filters:
            return Result()
        cmd = build.build_command(line, self.verbs, at_root=self.frame is None)
        if isinstance(cmd, ast.Empty):
            return Result()
        if isinstance(cmd, ast.Exit):
            return Result(exit=True)
        handler = HANDLERS.get(type(cmd))
        if handler is None:
            raise ParseError(line.words[0].text if line.words else "")
        result = handler(self, cmd)
        if line.filters and result.question is None:
            from ..cli import grep

            result.lines = list(grep.apply_filters(result.lines, line.filters))
        return result

    def guard(self, answer: Callable[[bool], Result]) -> Callable[[bool], Result]:
        """A question's answer callback that never raises and ends at the command boundary.

        Every question leaving :meth:`execute` is wrapped here once; an answer that
        is already wrapped is returned as it is (so ``after_command()`` runs once
        per answer even when a handler wraps its own answer).
        """
        if isinstance(answer, _GuardedAnswer):
            return answer
        return _GuardedAnswer(self, answer, at_root=self.frame is None)

    def _guarded(self, work: Callable[[], Result], *, at_root: bool) -> Result:
        try:
            result = work()
            if result.question is not None:  # answers must never raise either
                q = result.question
                if not isinstance(q.answer, _GuardedAnswer):
                    result.question = Question(q.text, self.guard(q.answer))
            return result
        except ParseError as err:
            lines = err.lines if at_root else err.output()
            return Result([visible(ln) for ln in lines], rc=err.return_code if err.rc is not None else -61)
        except FortiError as err:
            return Result([visible(ln) for ln in err.output()], rc=err.return_code)
        except Exception:  # noqa: BLE001 - the last line of defence: no traceback reaches a user
            self.device.log.error("internal error\n%s", traceback.format_exc())
            return Result([INTERNAL_ERROR, "Command fail. Return code -1"], rc=-1)

    # ------------------------------------------------------------ help
    def needs_more(self, text: str) -> bool:
        from ..cli import parser

        try:
            return bool(parser.needs_more(text))
        except Exception:  # noqa: BLE001
            return False

    def complete(self, text: str) -> list[tuple[str, str]]:
        """Tab candidates (word, description) for the word being typed at the end of ``text``."""
        try:
            return completion.complete(self, text)
        except Exception:  # noqa: BLE001
            self.device.log.error("completion error\n%s", traceback.format_exc())
            return []

    def help_fill(self, text: str) -> str:
        """What ``?`` fills in after ``text`` (the rest of a word with one valid completion)."""
        try:
            return completion.help_fill(self, text)
        except Exception:  # noqa: BLE001
            self.device.log.error("help error\n%s", traceback.format_exc())
            return ""

    def help(self, text: str) -> list[str]:
        """The ``?`` listing for the partial line ``text`` (FortiOS layout)."""
        try:
            return completion.help_lines(self, text)
        except Exception:  # noqa: BLE001
            self.device.log.error("help error\n%s", traceback.format_exc())
            return []


class _GuardedAnswer:
    """An answer callback run like a command: guarded, under the lock, then ``after_command()``."""

    def __init__(self, session: Session, answer: Callable[[bool], Result], *, at_root: bool) -> None:
        self.session = session
        self.answer = answer
        self.at_root = at_root

    def __call__(self, yes: bool) -> Result:
        sess = self.session
        return sess._boundary(lambda: sess._guarded(lambda: self.answer(yes), at_root=self.at_root))
