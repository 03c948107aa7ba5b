"""The interactive shell (prompt_toolkit): prompt, history, Tab, ``?``, questions.

All behaviour comes from :class:`~fortishell.shell.session.Session`; this module
only moves text between the terminal and the session:

* the prompt is the session's (``FortiProxy (local) # ``);
* history is persisted in a file; values of secret attributes
  (``set *password* ...``, ``set private-key ...``) and the password positions
  of ``execute vpn certificate local generate est`` are stored masked as ``*``;
* Tab completes from ``session.complete``; ``?`` prints ``session.help`` for the
  partial line without echoing ``?`` and re-shows the prompt with the partial
  line, as FortiOS does, the word being typed filled in when it has exactly one
  valid completion (inside an open quote ``?`` is an ordinary character);
* Enter inside an open quote or after a trailing backslash continues the line;
* Ctrl-C clears the line, Ctrl-D at the root prompt leaves; Ctrl-C while a
  command runs abandons it (see :meth:`Repl.abort`);
* a ``(y/n)`` question reads the answer on its own line;
* lines the device emits while the prompt is shown (background work on another
  thread) are printed above the prompt, which is then redrawn intact;
* with paging on (SSH sessions, a local terminal) long ``get``/``show`` output
  stops at ``--More--`` while ``config system console`` / ``output`` is ``more``.
Output is plain text, the same on a terminal or a pipe.

One path serves every front end: :meth:`Repl.interact` is a coroutine that the
local terminal runs with ``asyncio.run`` (:func:`run_repl`) and the SSH server
runs inside prompt_toolkit's per-connection app session.  Commands run on a
per-session worker thread (so one SSH session never stalls another) under the
device's command lock (so sessions sharing one device never interleave a
command); device output is routed by :class:`OutputHub`.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application, run_in_terminal
from prompt_toolkit.application.application import _CombinedRegistry
from prompt_toolkit.application.current import get_app_session, set_app
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.key_binding.key_processor import KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import FormattedTextControl, Layout, Window
from prompt_toolkit.output import DummyOutput, Output

from .shell.result import Result, parse_answer
from .ssh.pager import ERASE_MORE, MORE, Pager
from .shell.session import Session

if TYPE_CHECKING:
    from .shell.device import Device

_SECRET_ATTR = re.compile(r"pass|secret|psk|key", re.IGNORECASE)
# 1-based positions after `generate est` that hold passwords (http, key, srp)
_SECRET_POSITIONS = (7, 10, 14)


_GENERATE_EST = ("execute", "vpn", "certificate", "local", "generate", "est")


@lru_cache(maxsize=1024)
def _is_secret_attr(word: str) -> bool:
    """A password / private-key attribute, also when abbreviated (``set est-http-p x``)."""
    if _SECRET_ATTR.search(word):
        return True
    from .cmdb.schema import SCHEMA

    return bool(word) and any(a.name.startswith(word) for t in SCHEMA.tables
                              for a in t.attrs if a.secret or a.pem_kind == "private-key")


def _is_generate_est(low: list[str]) -> bool:
    """``execute vpn certificate local generate est`` with any abbreviation of its words."""
    return len(low) >= 6 and len(low[0]) >= 2 and all(
        w and full.startswith(w) for w, full in zip(low[:6], _GENERATE_EST))


def mask_secrets(text: str) -> str:
    """The history form of a command line: secret values replaced by ``*``."""
    from .cli import parser
    from .cli.quoting import quote

    try:
        line = parser.parse_line(text)
    except Exception:  # noqa: BLE001 - unparsable lines hold nothing we can mask reliably
        words = text.split()
        risky = _SECRET_ATTR.search(text) or (len(words) > 1 and _is_secret_attr(words[1]))
        return "" if risky or _is_generate_est([w.lower() for w in words]) else text
    words = [w.text for w in line.words]
    if len(words) >= 3 and "set".startswith(words[0]) and len(words[0]) >= 2 and _is_secret_attr(words[1]):
        return f"{words[0]} {words[1]} *"
    low = [w.lower() for w in words]
    if len(words) > 6 and _is_generate_est(low):
        start = 6
        masked = list(words)
        for pos in _SECRET_POSITIONS:
            i = start + pos - 1
            if i < len(masked) and masked[i]:
                masked[i] = "*"
        return " ".join(w if w and re.fullmatch(r"[^\s\"'\\#()<>?|]+", w) else quote(w) for w in masked)
    return text


class MaskingFileHistory(FileHistory):
    """A FileHistory that never writes secrets in clear."""

    def store_string(self, string: str) -> None:
        masked = mask_secrets(string)
        if masked:
            super().store_string(masked)


class SessionCompleter(Completer):
    """Tab completion from :meth:`Session.complete`."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        from .cli import parser

        text = document.text_before_cursor
        try:
            current = parser.split_partial(text).current
        except Exception:  # noqa: BLE001
            return
        for name, desc in self.session.complete(text):
            yield Completion(name, start_position=-len(current), display_meta=desc or None)


class OutputHub:
    """The output sink of one device, shared by every session attached to it.

    A line emitted on a thread that is running a session's command goes to that
    session only (the trace of ``execute ... est`` belongs to whoever typed it);
    any other line (background renewals, another thread) goes to every attached
    session.  ``lock`` serialises commands of all sessions on the device: the
    CMDB sees one command at a time, as a real box's configuration daemon does.
    """

    def __init__(self, device: "Device") -> None:
        self.device = device
        self.lock = threading.RLock()
        self._members: list[Repl] = []
        self._members_lock = threading.Lock()
        self._local = threading.local()
        self._previous: Any = None

    def attach(self, repl: "Repl") -> None:
        with self._members_lock:
            if not self._members:
                self._previous = self.device.set_sink(self.emit)
            self._members.append(repl)

    def detach(self, repl: "Repl") -> None:
        with self._members_lock:
            if repl in self._members:
                self._members.remove(repl)
            if not self._members:
                self.device.set_sink(self._previous)
                self._previous = None

    def run_for(self, repl: "Repl", work: Callable[[], Result]) -> Result:
        """Run ``work`` (on the caller's thread) as ``repl``'s command, under the device lock."""
        with self.lock:
            self._local.target = repl
            try:
                return work()
            finally:
                self._local.target = None

    def emit(self, line: str) -> None:
        target = getattr(self._local, "target", None)
        if target is not None:
            target.emit(line)
            return
        with self._members_lock:
            members = list(self._members)
        for repl in members:
            repl.emit(line)


_HUBS: "weakref.WeakKeyDictionary[Any, OutputHub]" = weakref.WeakKeyDictionary()
_HUBS_LOCK = threading.Lock()


def hub_for(device: "Device") -> OutputHub:
    """The one :class:`OutputHub` of ``device``."""
    with _HUBS_LOCK:
        hub = _HUBS.get(device)
        if hub is None:
            hub = _HUBS[device] = OutputHub(device)
        return hub


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
                 output: Output | None = None, paging: bool = False, plain: bool = False) -> None:
        self.device = device
        self.session = Session(device)
        app_session = get_app_session()
        self.input = input if input is not None else app_session.input
        self.output = output if output is not None else app_session.output
        self.paging = paging
        self.plain = plain
        self.echo = PlainEcho(self._write_raw) if plain else None
        self._redraw_pending = False
        self._shown_prompt = ""
        screen: Output = DummyOutput() if plain else self.output
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._abort: "asyncio.Future[None] | None" = None  # done: stop waiting for the command
        self.busy = False  # a command is running (Ctrl-C then aborts it)
        self.closed = False  # the terminal went away (SSH connection lost)
        self.prompt_session: PromptSession[str] = PromptSession(
            history=history,
            completer=SessionCompleter(self.session),
            complete_while_typing=False,
            key_bindings=self._bindings(),
            input=self.input,
            output=screen,
            enable_history_search=False,
        )
        self.answer_session: PromptSession[str] = PromptSession(input=self.input, output=screen)
        if plain:  # nothing of prompt_toolkit's screen is shown: skip its layout work entirely
            for ps in (self.prompt_session, self.answer_session):
                _no_render(ps.app)

    # ------------------------------------------------------------ output
    def write_lines(self, lines: Iterable[str]) -> None:
        with self._lock:
            for line in lines:
                self.output.write(line + "\n")
            self.output.flush()

    def _write_raw(self, text: str) -> None:
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
        if echo is not None:
            if echo.active and not self._redraw_pending:  # leave the prompt line, redraw it after
                self._redraw_pending = True
                self._write_raw("\n")
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
        if self.echo is not None and self.echo.active:
            self.echo.redraw(self._shown_prompt)

    async def _read_line(self, ps: PromptSession[str], message: str | Callable[[], str]) -> str:
        """One line from ``ps``: drawn by prompt_toolkit, or echoed plainly."""
        if self.echo is None:
            return await ps.prompt_async(message)
        # SIGINT is the server's (or the terminal's) business, never a plain session's
        text = message() if callable(message) else message
        self._shown_prompt = text
        self._write_raw(text)
        self.echo.start(ps.default_buffer)
        try:
            line = await ps.prompt_async(handle_sigint=False)
        except KeyboardInterrupt:
            self._write_raw("\n")
            raise
        except EOFError:
            self._write_raw("\n")
            raise
        finally:
            self.echo.stop()
        self._write_raw("\n")
        return line

    # ------------------------------------------------------------ keys
    def _bindings(self) -> KeyBindings:
        kb = KeyBindings()
        sess = self.session

        @kb.add("?")
        def _help(event: KeyPressEvent) -> None:
            buf = event.current_buffer
            before = buf.document.text_before_cursor
            if _in_quote(before):
                buf.insert_text("?")
                return
            lines = sess.help(before)
            fill = sess.help_fill(before)  # one valid word: completed in place, like FortiOS
            if self.echo is not None:
                self._write_raw("\n")
                self.write_lines(lines)
                self.echo.redraw(sess.prompt)
                if fill:
                    buf.insert_text(fill)
                return
            shown = sess.prompt + buf.text
            run_in_terminal(lambda: self.write_lines([shown, *lines]))
            if fill:
                buf.insert_text(fill)

        @kb.add("enter")
        def _enter(event: KeyPressEvent) -> None:
            buf = event.current_buffer
            if sess.needs_more(buf.text):
                buf.insert_text("\n")
            else:
                buf.validate_and_handle()

        return kb

    async def read_key(self) -> str:
        """One key press from this session's input (nothing is drawn)."""
        kb = KeyBindings()

        @kb.add(Keys.Any)
        def _any(event: KeyPressEvent) -> None:
            event.app.exit(result=event.data)

        @kb.add("c-c")
        def _ctrl_c(event: KeyPressEvent) -> None:
            event.app.exit(result="\x03")

        def _enter(event: KeyPressEvent) -> None:
            event.app.exit(result="\r")

        kb.add("enter")(_enter)
        kb.add("c-j")(_enter)

        # an explicit (empty) layout: the default one binds Enter to "quit" itself
        layout = Layout(Window(FormattedTextControl("")))
        app: Application[str] = Application(input=self.input, output=DummyOutput(), key_bindings=kb, layout=layout)
        _no_render(app)
        try:
            return await app.run_async(handle_sigint=False)
        except (EOFError, KeyboardInterrupt):
            return "q"

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
                pageable = self.paging and self._is_get_or_show(text)
                result = await self._run(executor, hub, lambda: self.session.execute(text))
                if result is not None:
                    result = await self._answer(executor, hub, result)
                if result is None:  # abandoned with Ctrl-C (or the connection was lost)
                    if self.closed:
                        return 0
                    self.write_lines([""])
                    continue
                if pageable and self._console_more():
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
        """Ctrl-C while a command runs: stop waiting for it (any thread).

        A Python thread cannot be killed, so the command finishes on its worker
        thread; its result is dropped and the next command waits for it.  The
        EST engine stores all or nothing, so an abandoned enrollment either
        lands whole or not at all.
        """
        loop, waiter = self._loop, self._abort
        if loop is not None and waiter is not None:
            loop.call_soon_threadsafe(_settle, waiter)

    def hangup(self) -> None:
        """The terminal is gone (the input is closed by the caller): leave at the next step."""
        self.closed = True
        self.abort()

    async def _run(self, executor: ThreadPoolExecutor, hub: OutputHub,
                   work: Callable[[], Result]) -> Result | None:
        loop = asyncio.get_running_loop()
        # one future settled by whichever comes first, the command's end or an abort
        waiter: asyncio.Future[None] = loop.create_future()
        self._abort = waiter
        future = loop.run_in_executor(executor, hub.run_for, self, work)
        future.add_done_callback(lambda _f: _settle(waiter))
        restore = _catch_sigint(loop, self.abort, self.input)
        self.busy = True
        try:
            await waiter
        finally:
            self.busy = False
            restore()
            self._abort = None
        if future.done():
            return future.result()
        future.add_done_callback(lambda f: f.exception())  # never "exception was never retrieved"
        return None

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
    def _is_get_or_show(self, text: str) -> bool:
        from .cli import ast, build, parser

        try:
            line = parser.parse_line(text)
            if line.is_empty:
                return False
            cmd = build.build_command(line, self.session.verbs, at_root=self.session.frame is None)
        except Exception:  # noqa: BLE001 - not a valid get/show: nothing to page
            return False
        return isinstance(cmd, (ast.Get, ast.Show))

    def _console_more(self) -> bool:
        try:
            entry = self.device.cmdb.entry(("system", "console"))
            return entry is not None and entry.get("output") == "more"
        except Exception:  # noqa: BLE001
            return False

    def _rows(self) -> int:
        try:
            return max(2, int(self.output.get_size().rows))
        except Exception:  # noqa: BLE001
            return 24

    async def _paged(self, lines: list[str]) -> None:
        pager = Pager(list(lines), self._rows())
        self.write_lines(pager.first())
        while not pager.done:
            with self._lock:
                self.output.write(MORE)
                self.output.flush()
            chunk = pager.key(await self.read_key())
            if chunk == []:
                continue
            with self._lock:
                self.output.write(ERASE_MORE)
                self.output.flush()
            if chunk is None:
                return
            self.write_lines(chunk)


class PlainEcho:
    """Echo a prompt_toolkit buffer the way a FortiOS line editor does.

    Typed characters are written as they are; a change before the cursor backs
    up with ``\b``, rewrites, and blanks out what is left over.  Completion
    (Tab) and history recall show up as the rewritten word or line.  Only the
    last line of a multi-line (open quote) value is edited in place.
    """

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.buffer: Any = None
        self.text = ""
        self.cursor = 0

    @property
    def active(self) -> bool:
        return self.buffer is not None

    def start(self, buffer: Any) -> None:
        self.buffer = buffer
        self.text, self.cursor = "", 0
        buffer.on_text_changed += self._changed
        buffer.on_cursor_position_changed += self._changed

    def stop(self) -> None:
        if self.buffer is not None:
            self.buffer.on_text_changed -= self._changed
            self.buffer.on_cursor_position_changed -= self._changed
        self.buffer = None

    def redraw(self, prompt: str) -> None:
        """The prompt and the whole line again (after ``?`` help or background output)."""
        if self.buffer is None:
            return
        text, cur = self.buffer.text, self.buffer.cursor_position
        last = text[text.rfind("\n") + 1:]
        self.write(prompt + last + "\b" * _back(text, cur))
        self.text, self.cursor = text, cur

    def _changed(self, _buffer: Any) -> None:
        if self.buffer is None:
            return
        self.write(self.render(self.buffer.text, self.buffer.cursor_position))

    def render(self, new: str, cur: int) -> str:
        """The bytes that turn the shown (text, cursor) into (new, cur); updates the state."""
        old, pos = self.text, self.cursor
        common = 0
        limit = min(len(old), len(new))
        while common < limit and old[common] == new[common]:
            common += 1
        line_start = old.rfind("\n") + 1
        if common < line_start:  # the change reaches into an earlier line: restart the last one below
            out = "\n" + new[new.rfind("\n") + 1:]
        else:
            out = "\b" * (pos - common) if pos >= common else new[pos:common]
            tail = new[common:]
            out += tail
            leftover = (len(old) - common) - len(tail)
            if leftover > 0 and "\n" not in tail:
                out += " " * leftover + "\b" * leftover
        out += "\b" * _back(new, cur)
        self.text, self.cursor = new, cur
        return out


def _no_render(app: Application[Any]) -> None:
    """Drawing off for an application whose output is a DummyOutput (the plain echo draws)."""
    app._redraw = lambda *args, **kwargs: None  # type: ignore[method-assign]
    app.invalidate = lambda: None  # type: ignore[method-assign]  # nothing to repaint: no wake-ups
    app._default_bindings = _shared_default_bindings()
    app.key_processor._bindings = _StaticLayoutBindings(app)


_DEFAULT_BINDINGS: list[Any] = []


def _shared_default_bindings() -> Any:
    """prompt_toolkit's default key bindings, built once for every plain application.

    They hold no state of their own (filters and handlers look at the current
    application), so the plain sessions share one set instead of ~2000 objects
    each; fewer long-lived objects also make the garbage collector's full
    passes shorter.
    """
    if not _DEFAULT_BINDINGS:
        from prompt_toolkit.key_binding.defaults import load_key_bindings

        _DEFAULT_BINDINGS.append(load_key_bindings())
    return _DEFAULT_BINDINGS[0]


class _StaticLayoutBindings(_CombinedRegistry):
    """An application's key bindings, merged once per focused window.

    prompt_toolkit walks the whole layout on every key lookup (several per key
    press) in case its shape changed; the layouts of the plain sessions never
    change shape (only the focus moves), so the walk is done once.
    """

    def __init__(self, app: Application[Any]) -> None:
        super().__init__(app)
        self._controls = list(app.layout.find_all_controls())
        self._merged: dict[Any, Any] = {}
        self._found: dict[Any, Any] = {}

    @property
    def _key_bindings(self) -> Any:
        window = self.app.layout.current_window
        merged = self._merged.get(window)
        if merged is None:
            merged = self._merged[window] = self._create_key_bindings(window, self._controls)
        return merged

    # The set of bindings never changes either (filters are evaluated by the key processor on
    # every press): the candidates for a key sequence are looked up once.
    def get_bindings_for_keys(self, keys: Any) -> Any:
        return self._lookup(0, keys)

    def get_bindings_starting_with_keys(self, keys: Any) -> Any:
        return self._lookup(1, keys)

    def _lookup(self, kind: int, keys: Any) -> Any:
        key = (self.app.layout.current_window, kind, keys)
        found = self._found.get(key)
        if found is None:
            if len(self._found) > 2000:
                self._found.clear()
            kb = self._key_bindings
            found = kb.get_bindings_starting_with_keys(keys) if kind else kb.get_bindings_for_keys(keys)
            self._found[key] = found
        return found


def _settle(waiter: "asyncio.Future[None]") -> None:
    if not waiter.done():
        waiter.set_result(None)


def _back(text: str, cur: int) -> int:
    """Cursor steps left from the end of ``text`` to ``cur`` (within the last line)."""
    start = text.rfind("\n") + 1
    return max(0, len(text) - max(cur, start))


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
    try:
        stdin = getattr(inp, "stdin", None)
        return bool(stdin is not None and stdin.isatty())
    except Exception:  # noqa: BLE001
        return False


def _in_quote(text: str) -> bool:
    from .cli import parser

    try:
        return bool(parser.split_partial(text).in_quote)
    except Exception:  # noqa: BLE001
        return False


def run_repl(device: "Device", *, history_path: Path | None, input: Input | None = None,
             output: Output | None = None) -> int:
    """Run the interactive shell until ``exit`` or Ctrl-D at the root prompt."""
    history: Any
    if history_path is not None:
        Path(history_path).parent.mkdir(parents=True, exist_ok=True)
        history = MaskingFileHistory(str(history_path))
    else:
        history = InMemoryHistory()
    # the console pages like a real one when it is a terminal; pipes and test I/O never page
    paging = input is None and output is None and sys.stdin.isatty() and sys.stdout.isatty()
    return Repl(device, history=history, input=input, output=output, paging=paging).run()
