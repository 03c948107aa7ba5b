"""The interact loop shared by the local terminal and SSH: :class:`Repl`.

All behaviour comes from :class:`~fortishell.shell.session.Session`; this module
only moves text between the terminal and the session:

* the prompt is the session's (``FortiProxy (local) # ``);
* history is the caller's (secrets masked: :mod:`.history`);
* Tab completes from ``session.complete``; ``?`` prints ``session.help`` for the
  partial line without echoing ``?`` and re-shows the prompt with the partial
  line, as FortiOS does, the word being typed filled in when it has exactly one
  valid completion (inside an open quote ``?`` is an ordinary character);
* Enter inside an open quote or after a trailing backslash continues the line;
* a bracketed paste of several lines runs them line by line, as typed (:func:`.keys.paste_lines`);
* Ctrl-C clears the line, Ctrl-D at the root prompt leaves; Ctrl-C while a
  command runs cancels its EST operation, or abandons any other command (see
  :meth:`Repl.abort`);
* a ``(y/n)`` question takes one key press on a terminal, without Enter, as FortiOS
  (:func:`.keys.answer_key_bindings`); a plain session (SSH) reads the answer as a line;
* lines the device emits while the prompt is shown (background work on another
  thread) are printed above the prompt, which is then redrawn intact;
* with paging on (SSH sessions, a local terminal) long ``get``/``show`` output
  stops at ``--More--`` while ``config system console`` / ``output`` is ``more``.
Output is plain text, the same on a terminal or a pipe.

:meth:`Repl.interact` is a coroutine that the local terminal runs with
``asyncio.run`` (:func:`fortishell.repl.run_repl`) and the SSH server runs
inside its per-connection app session.  Commands run on a per-session worker
thread (so one SSH session never stalls another) under the device's command
lock (so sessions sharing one device never interleave a command); device output
is routed by :class:`~.hub.OutputHub`.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, cast

from prompt_toolkit import PromptSession
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.application.current import get_app_session, set_app
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import History
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.output import DummyOutput, Output

from ..shell import persist
from ..shell.result import Result, parse_answer
from ..shell.session import Session
from .compat import no_render
from .echo import PlainEcho
from .fastline import FastLines, LazyPrompt, inline_safe
from .hub import OutputHub, hub_for
from .keys import answer_key_bindings, line_bindings, paste_lines, read_key
from .pager import ERASE_MORE, MORE, Pager

CANCEL_GRACE = 3.0  # seconds: a cancelled EST operation ends well within this; then stop waiting anyway

if TYPE_CHECKING:
    from ..shell.device import Device


class SessionCompleter(Completer):
    """Tab completion from :meth:`Session.complete`."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        current = self.session.partial(text).current
        for name, desc in self.session.complete(text):
            yield Completion(name, start_position=-len(current), display_meta=desc or None)


class Repl:
    """One interactive CLI session on a device: a local terminal, an SSH channel or test I/O.

    ``paging`` turns the ``--More--`` pager on (it then follows ``config system
    console`` / ``set output``).  ``plain`` echoes input as a FortiOS box does
    (typed characters, backspaces; no cursor addressing, no colours) instead of
    prompt_toolkit's screen renderer: the form SSH clients and automation
    (netmiko, scrapli, expect scripts) read.  ``history`` may be shared by
    several sessions.
    """

    def __init__(self, device: "Device", *, history: History, input: Input | None = None,
                 output: Output | None = None, paging: bool = False, plain: bool = False,
                 fast: FastLines | None = None) -> None:
        self.device = device
        self.fast = fast if plain else None  # whole lines taken without the line editor (SSH)
        self._at_fast_prompt = False
        self.session = Session(device)
        app_session = get_app_session()
        self.input = input if input is not None else app_session.input
        self.output = output if output is not None else app_session.output
        self.paging = paging
        self.plain = plain
        self.echo = PlainEcho(self.write_raw) if plain else None
        self._redraw_pending = False
        self._shown_prompt = ""
        screen: Output = DummyOutput() if plain else self.output
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._abort: "asyncio.Future[None] | None" = None  # done: stop waiting for the command
        self._worker: int | None = None  # the thread running the current command
        self.busy = False  # a command is running (Ctrl-C then aborts it)
        self.closed = False  # the terminal went away (SSH connection lost)
        self.history = history

        def prompt() -> PromptSession[str]:
            ps: PromptSession[str] = PromptSession(
                history=history,
                completer=SessionCompleter(self.session),
                complete_while_typing=False,
                key_bindings=line_bindings(self.session, self),
                input=self.input,
                output=screen,
                enable_history_search=False,
            )
            if plain:  # nothing of prompt_toolkit's screen is shown: skip its layout work entirely
                no_render(ps.app)
            return ps

        def answer() -> PromptSession[str]:
            # the terminal answers with one key press, as FortiOS; a plain session (SSH clients,
            # automation sending "y" + Enter) reads the answer as a line (see ARCHITECTURE.md)
            keys = paste_lines(KeyBindings(), lambda _t: False) if plain else answer_key_bindings()
            ps: PromptSession[str] = PromptSession(input=self.input, output=screen, key_bindings=keys)
            if plain:
                no_render(ps.app)
            return ps

        if self.fast is not None:  # built on first use: a session fed whole lines never needs them
            self.prompt_session = cast("PromptSession[str]", LazyPrompt(prompt))
        else:
            self.prompt_session = prompt()
        # built at the first question (most sessions ask none; building one costs a start ~20 ms)
        self.answer_session = cast("PromptSession[str]", LazyPrompt(answer))

    # ------------------------------------------------------------ output
    def write_lines(self, lines: Iterable[str]) -> None:
        with self._lock:
            for line in lines:
                self.output.write(line + "\n")
            self.output.flush()

    def write_raw(self, text: str) -> None:
        with self._lock:
            self.output.write(text)
            self.output.flush()

    def emit(self, line: str) -> None:
        """Device sink (any thread): above the prompt while it is shown, else straight out."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self.write_lines([line])
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._emit_here(line)
        else:
            try:
                loop.call_soon_threadsafe(self._emit_here, line)
            except RuntimeError:  # the loop closed meanwhile: the session is gone
                pass

    def _emit_here(self, line: str) -> None:
        echo = self.echo
        if self._at_fast_prompt:  # leave the prompt line, redraw it (and what is typed) after
            if not self._redraw_pending:
                self._redraw_pending = True
                self.write_raw("\n")
                asyncio.get_running_loop().call_soon(self._redraw)
            self.write_lines([line])
            return
        if echo is not None:
            if echo.active and not self._redraw_pending:  # leave the prompt line, redraw it after
                self._redraw_pending = True
                self.write_raw("\n")
                asyncio.get_running_loop().call_soon(self._redraw)
            self.write_lines([line])
            return
        app = self.prompt_session.app
        if app.is_running:
            with set_app(app):
                run_in_terminal(lambda: self.write_lines([line]))
        else:
            self.write_lines([line])

    def _redraw(self) -> None:
        self._redraw_pending = False
        if self._at_fast_prompt and self.fast is not None:
            self.write_raw(self._shown_prompt + self.fast.typed)
        elif self.echo is not None and self.echo.active:
            self.echo.redraw(self._shown_prompt)

    async def _read_line(self, ps: PromptSession[str], message: str | Callable[[], str]) -> str:
        """One line from ``ps``: drawn by prompt_toolkit, or echoed plainly."""
        if self.echo is None:
            return await ps.prompt_async(message)
        # SIGINT is the server's (or the terminal's) business, never a plain session's
        text = message() if callable(message) else message
        self._shown_prompt = text
        self.write_raw(text)
        shown = ""
        fast = self.fast
        if fast is not None and fast.active:
            self._at_fast_prompt = True
            try:
                line = await fast.line(self.write_raw, self.session.needs_more)
            except EOFError:
                self.write_raw("\n")
                raise
            finally:
                self._at_fast_prompt = False
            if line is not None:
                if line and ps is self.prompt_session:  # the history the line editor would keep
                    strings = self.history.get_strings()
                    if not strings or strings[-1] != line:
                        self.history.append_string(line)
                return line
            shown = fast.handed_over  # already echoed: the line editor starts with it
        self.echo.start(ps.default_buffer, shown)
        try:
            line = await ps.prompt_async(handle_sigint=False)
        except KeyboardInterrupt:
            self.write_raw("\n")
            raise
        except EOFError:
            self.write_raw("\n")
            raise
        finally:
            self.echo.stop()
        self.write_raw("\n")
        return line

    async def read_key(self) -> str:
        """One key press from this session's input (nothing is drawn)."""
        if self.fast is not None and self.fast.active:
            return await self.fast.key()
        return await read_key(self.input)

    # ------------------------------------------------------------ loop
    def run(self) -> int:
        """Run :meth:`interact` on a fresh event loop (the local terminal)."""
        return asyncio.run(self.interact())

    async def interact(self) -> int:
        """Prompt, run, print, until ``exit`` (or Ctrl-D at the root prompt)."""
        self._loop = asyncio.get_running_loop()
        hub = hub_for(self.device)
        hub.attach(self)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fortishell-cmd")
        try:
            while True:
                try:
                    text = await self._read_line(self.prompt_session, lambda: self.session.prompt)
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    if self.closed:
                        return 0
                    if self.session.frame is None:
                        self.write_lines([""])
                        return 0
                    continue
                result = await self._run(executor, hub, lambda: self.session.execute(text), inline=text)
                if result is not None:
                    result = await self._answer(executor, hub, result)
                if result is None:  # abandoned with Ctrl-C (or the connection was lost)
                    if self.closed:
                        return 0
                    self.write_lines([""])
                    continue
                if self.paging and result.pages and self._console_more():
                    await self._paged(result.lines)
                    self.write_lines([""])
                else:
                    self.write_lines([*result.lines, ""])
                if result.exit:
                    return 0
        finally:
            hub.detach(self)
            executor.shutdown(wait=False)
            self._loop = None

    def abort(self) -> None:
        """Ctrl-C while a command runs (any thread).

        An EST operation (enrollment, regeneration, renewal) is cancelled: it
        ends within a second, stores nothing, and its command prints that it
        was cancelled before the prompt returns.  Any other command is
        abandoned: a Python thread cannot be killed, so it finishes on its
        worker thread, its result is dropped and the next command waits for it.
        """
        loop, waiter, worker = self._loop, self._abort, self._worker
        if loop is None or waiter is None:
            return
        if worker is not None and not self.closed and self.device.cancel(worker):
            loop.call_soon_threadsafe(loop.call_later, CANCEL_GRACE, _settle, waiter)  # a safety net only
            return
        if worker is not None:
            self.device.cancel(worker)
        loop.call_soon_threadsafe(_settle, waiter)

    def _sigint(self) -> None:
        """Ctrl-C on the local terminal while a command runs: the terminal has echoed ``^C`` (it is
        not in raw mode then); what follows (the cancelled trace's last lines) starts a new line."""
        self.write_raw("\n")
        self.abort()

    def hangup(self) -> None:
        """The terminal is gone (the input is closed by the caller): leave at the next step."""
        self.closed = True
        self.abort()

    async def _run(self, executor: ThreadPoolExecutor, hub: OutputHub,
                   work: Callable[[], Result], inline: str | None = None) -> Result | None:
        loop = asyncio.get_running_loop()
        if inline is not None and self.fast is not None and inline_safe(inline):
            done = hub.try_run_now(self, work)
            if done is not None:  # ran at once on this loop: no thread hop, nothing to abort
                result, ticket = done
                if self.device.take_owed_renewals():  # may talk to an EST server: on the worker thread
                    await self._run(executor, hub, self._after_command)
                if ticket:
                    durable: asyncio.Future[list[str]] = loop.create_future()

                    def on_disk(lines: list[str]) -> None:  # from the journal's flusher thread
                        loop.call_soon_threadsafe(_resolve, durable, lines)

                    self.device.when_durable(ticket, on_disk)
                    try:  # bounded: a disk that never answers must not hold the prompt
                        errors = await asyncio.wait_for(durable, persist.durable_timeout())
                    except asyncio.TimeoutError:
                        errors = persist.not_confirmed()
                    if errors:
                        result = replace(result, lines=[*result.lines, *errors])
                return result
        # one future settled by whichever comes first, the command's end or an abort
        waiter: asyncio.Future[None] = loop.create_future()
        self._abort = waiter

        def tracked() -> Result:
            self._worker = threading.get_ident()  # whose EST operations a Ctrl-C cancels
            return work()

        future = loop.run_in_executor(executor, hub.run_for, self, tracked)
        future.add_done_callback(lambda _f: _settle(waiter))
        restore = _catch_sigint(loop, self._sigint, self.input)
        self.busy = True
        try:
            await waiter
        finally:
            self.busy = False
            restore()
            self._abort = None
            self._worker = None
        if future.done():
            return future.result()
        future.add_done_callback(lambda f: f.exception())  # never "exception was never retrieved"
        return None

    def _after_command(self) -> Result:
        self.device.after_command()
        return Result()

    async def _answer(self, executor: ThreadPoolExecutor, hub: OutputHub, result: Result) -> Result | None:
        while result.question is not None:
            q = result.question
            self.write_lines([*result.lines, *q.text[:-1]])
            try:
                reply = await self._read_line(self.answer_session, q.text[-1] + " ")
            except (KeyboardInterrupt, EOFError):
                reply = "n"
            yes = parse_answer(reply)
            answered = await self._run(executor, hub, lambda: q.answer(yes))
            if answered is None:
                return None
            result = answered
        return result

    # ------------------------------------------------------------ paging
    def _console_more(self) -> bool:
        entry = self.device.cmdb.entry(("system", "console"))
        return entry is not None and entry.get("output") == "more"

    def _screen(self) -> tuple[int, int]:
        """The terminal's rows and columns."""
        try:
            size = self.output.get_size()
        except OSError:  # the terminal went away meanwhile: a classic screen
            return 24, 80
        return max(2, int(size.rows)), max(0, int(size.columns))

    async def _paged(self, lines: list[str]) -> None:
        rows, columns = self._screen()
        pager = Pager(list(lines), rows, columns)
        self.write_lines(pager.first())
        shown = False
        while not pager.done:
            if not shown:
                self.write_raw(MORE)
                shown = True
            chunk = pager.key(await self.read_key())
            if chunk == []:  # a key the pager does not know: nothing happens, --More-- stays
                continue
            self.write_raw(ERASE_MORE)
            shown = False
            if chunk is None:
                return
            self.write_lines(chunk)


def _resolve(future: "asyncio.Future[list[str]]", lines: list[str]) -> None:
    if not future.done():
        future.set_result(lines)


def _settle(waiter: "asyncio.Future[None]") -> None:
    if not waiter.done():
        waiter.set_result(None)


def _catch_sigint(loop: asyncio.AbstractEventLoop, handler: Callable[[], None], inp: Input) -> Callable[[], None]:
    """On a local terminal, Ctrl-C while a command runs arrives as SIGINT: route it to ``handler``."""
    if threading.current_thread() is not threading.main_thread() or not _is_tty(inp):
        return lambda: None
    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError, ValueError):
        return lambda: None

    def restore() -> None:
        try:
            loop.remove_signal_handler(signal.SIGINT)
        except (NotImplementedError, RuntimeError, ValueError):
            pass

    return restore


def _is_tty(inp: Input) -> bool:
    stdin = getattr(inp, "stdin", None)  # only the terminal input has one
    try:
        return bool(stdin is not None and stdin.isatty())
    except (OSError, ValueError):  # closed meanwhile
        return False
