"""Whole lines without the line editor: the fast input path of a terminal session (SSH).

Automation (netmiko, scrapli, expect scripts) and pastes send a whole line at
once.  While the input holds nothing but ordinary characters and line ends,
:class:`FastLines` takes a line as it arrives, echoes it the way the line
editor would (the characters as typed, then the line end) and hands it to the
interact loop: no prompt_toolkit application run, no key processing, no
redraw per key.  Characters typed one by one are echoed as they arrive, the
same bytes the line editor writes for them.

The first key the line editor must see (Tab, ``?``, Backspace, Ctrl-C, an
escape sequence, Enter inside an open quote) hands the input over for good:
what is buffered goes to the editor (``to_editor``) with the part already
echoed known to it, and everything after follows it there.  The hand-over is
one way because the editor reads ahead: bytes it has not consumed cannot be
taken back without reordering the input.

Input claims the event loop for the session (:mod:`.priority`: the loop's
REST requests wait) until the session waits for input again; just before it
waits, ``before_wait`` (the SSH channel's flush) sends what its command wrote,
in the same loop turn.

Also here: :func:`inline_safe` (which commands may run on the event loop,
without a worker thread) and :class:`LazyPrompt` (a prompt_toolkit session
built on first use: a session fed whole lines never builds one).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .priority import Priority, priority_of

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession

_ORDINARY = re.compile(r"[^\x00-\x1f\x7f?]*")
_KEY = re.compile(r"\x1b\[[0-9;]*[~A-Za-z]|\x1b.?|.", re.S)


class FastLines:
    """Input of one terminal session while it can be taken a whole line at a time (event loop only)."""

    def __init__(self, to_editor: Callable[[str], None], before_wait: Callable[[], None] | None = None) -> None:
        self._to_editor = to_editor
        self._before_wait = before_wait  # sends the output written so far (the session now waits for input)
        self._priority: Priority | None = None
        self._raw = ""
        self._shown = 0  # characters at the start of _raw already echoed
        self.active = True  # False once the line editor owns the input
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None

    def feed(self, data: str) -> None:
        """Input from the client (line ends already turned into ``\\r``)."""
        self._claim()
        if not self.active:
            self._to_editor(data)
            return
        self._raw += data
        self._wake()

    def close(self) -> None:
        self.closed = True
        if self._priority is not None:
            self._priority.let_go(self)
        self._wake()

    def _claim(self) -> None:
        """Input to work on: the loop's background requests give way until the session waits again
        (:mod:`.priority`)."""
        try:  # the running loop's (a session's input comes on one loop; a test's may not)
            loop = asyncio.get_running_loop()
        except RuntimeError:  # fed outside an event loop (tests): nobody to give way
            return
        if self._priority is None or self._priority.loop is not loop:
            if self._priority is not None:
                self._priority.let_go(self)
            self._priority = priority_of(loop)
        self._priority.claim(self)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _more(self) -> None:
        if self._priority is not None:
            self._priority.let_go(self)
        priority = self._priority
        if self._before_wait is not None and priority is not None and priority.busy:
            # the API is busy: the output leaves now, not a (long) loop turn later.  Otherwise it
            # leaves at the next turn with what the other sessions wrote (50 sessions replaying
            # scripts: 10% less CPU per line than sending each at once)
            self._before_wait()
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def line(self, echo: Callable[[str], None], needs_more: Callable[[str], bool]) -> str | None:
        """The next whole line, echoed; or None after handing the input to the line editor.

        After None, :attr:`handed_over` is the text already echoed (the editor
        starts with it in its buffer, shown).  EOFError when the input ended.
        """
        while True:
            raw = self._raw
            end = _ORDINARY.match(raw).end()  # type: ignore[union-attr]  # matches at least ""
            if end < len(raw):
                if raw[end] == "\r" and not needs_more(raw[:end]):
                    line = raw[:end]
                    self._raw = raw[end + 1:]
                    echo(line[self._shown:] + "\n")
                    self._shown = 0
                    return line
                self.handed_over = raw[:self._shown]
                self.active = False
                self._raw, self._shown = "", 0
                self._to_editor(raw)
                return None
            if end > self._shown:  # typed so far: echoed at once
                echo(raw[self._shown:end])
                self._shown = end
            if self.closed:
                raise EOFError
            await self._more()

    async def key(self) -> str:
        """One key press (the pager's); ``q`` when the input ended."""
        while not self._raw:
            if self.closed:
                return "q"
            await self._more()
        m = _KEY.match(self._raw)
        assert m is not None  # "." with re.S matches any first character
        key = m.group(0)
        self._raw = self._raw[len(key):]
        return key

    handed_over = ""

    @property
    def typed(self) -> str:
        """What is typed (and echoed) of the line not yet ended."""
        return self._raw[:self._shown]


INLINE_VERBS = ("config", "edit", "set", "unset", "append", "select", "unselect", "next", "end", "abort",
                "show", "get", "delete", "rename", "clone", "move")
BLOCKING_VERBS = ("execute", "diagnose", "exit", "purge")  # network, sleeps, questions, the session's end


def inline_safe(text: str) -> bool:
    """A command that only reads or changes the CMDB (may run on the event loop).

    Judged on the first word as typed (abbreviations included): ambiguous with
    a verb that may block (``e``: edit / execute) means no.
    """
    words = text.split(None, 1)
    if not words:
        return True
    w = words[0].lower()
    return (any(v.startswith(w) for v in INLINE_VERBS)
            and not any(v.startswith(w) for v in BLOCKING_VERBS))


class LazyPrompt:
    """Stands for a PromptSession that is built the first time one of its attributes is used."""

    def __init__(self, build: Callable[[], "PromptSession[str]"]) -> None:
        self._build = build
        self._built: PromptSession[str] | None = None
        self._lock = threading.Lock()  # one is built, whichever thread asks first

    @property
    def built(self) -> bool:
        return self._built is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        with self._lock:
            if self._built is None:
                self._built = self._build()
        return getattr(self._built, name)
