"""``fortishell lab start``: the interactive shell, its session recorded as a transcript.

The transcript has the form ``fortishell run`` prints (prompt and command as
typed, the output, a blank line, the next prompt ...), so it can be graded
against the exercise's expected transcript.  It is written as the session goes
(flushed after each line): a session ended by closing the terminal still leaves
everything up to its last command.  Paged output is recorded whole (also what
``q`` dropped from the screen); ``--More--`` prompts are not part of it.

A ``?`` help request is recorded as the partial line followed by ``?`` (what
was typed) and the listing, so that grading can tell it from a command and set
it aside; the screen shows it as FortiOS does (the line without the ``?``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any

from ..frontend.interact import Repl

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession


class RecordingRepl(Repl):
    """A :class:`Repl` that copies prompts, typed lines and output lines to ``record``."""

    def __init__(self, *args: Any, record: IO[str], **kwargs: Any) -> None:
        self.record = record
        self.last_command = ""
        self._paging = False
        self._help_shown: list[str] | None = None  # a listing already recorded, on its way to the screen
        super().__init__(*args, **kwargs)
        # the `?` key asks the session for its listing: record the request there (one place for the
        # terminal and the plain-echo screens, which draw the listing differently)
        help_of = self.session.help

        def recorded_help(text: str) -> list[str]:
            lines = help_of(text)
            self._note(f"{self.session.prompt}{text}?\n" + "".join(line + "\n" for line in lines))
            self._help_shown = list(lines)
            return lines

        setattr(self.session, "help", recorded_help)  # noqa: B010 - an instance's own hook, not a class patch

    @property
    def ended_by_exit(self) -> bool:
        """The session ended with ``exit`` typed at the prompt (not end of input)."""
        return self.last_command.strip() == "exit"

    def _note(self, text: str) -> None:
        self.record.write(text)
        self.record.flush()

    def write_lines(self, lines: Iterable[str]) -> None:
        lines = list(lines)
        super().write_lines(lines)
        shown, self._help_shown = self._help_shown, None
        if shown is not None and lines[len(lines) - len(shown):] == shown:
            return  # the `?` listing, recorded when it was asked for
        if not self._paging:
            self._note("".join(line + "\n" for line in lines))

    async def _paged(self, lines: list[str]) -> None:
        """The whole output goes into the transcript, whatever is paged through or dropped with q."""
        self._note("".join(line + "\n" for line in lines))
        self._paging = True
        try:
            await super()._paged(lines)
        finally:
            self._paging = False

    async def _read_line(self, ps: "PromptSession[str]", message: str | Callable[[], str]) -> str:
        line = await super()._read_line(ps, message)
        shown = message() if callable(message) else message
        self._note(f"{shown}{line}\n")
        if ps is self.prompt_session:
            self.last_command = line
        return line
