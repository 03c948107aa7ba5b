"""The interactive shell (prompt_toolkit): prompt, history, Tab, ``?``, questions.

All behaviour comes from :class:`~fortishell.shell.session.Session`; this module
only moves text between the terminal and the session:

* the prompt is the session's (``FortiProxy (local) # ``);
* history is persisted in a file; values of secret attributes
  (``set *password* ...``, ``set private-key ...``) and the password positions
  of ``execute vpn certificate local generate est`` are stored masked as ``*``;
* Tab completes from ``session.complete``; ``?`` prints ``session.help`` for the
  partial line without echoing ``?`` and re-shows the prompt with the partial
  line, as FortiOS does (inside an open quote ``?`` is an ordinary character);
* Enter inside an open quote or after a trailing backslash continues the line;
* Ctrl-C clears the line, Ctrl-D at the root prompt leaves;
* a ``(y/n)`` question reads the answer on its own line;
* lines the device emits while the prompt is shown (background work on another
  thread) are printed above the prompt, which is then redrawn intact.
Output is plain text, the same on a terminal or a pipe.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.application.current import set_app
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.key_binding.key_processor import KeyPressEvent
from prompt_toolkit.output import Output, create_output

from .shell.result import Result, parse_answer
from .shell.session import Session

if TYPE_CHECKING:
    from .shell.device import Device

_SECRET_ATTR = re.compile(r"pass|secret|psk|key", re.IGNORECASE)
# 1-based positions after `generate est` that hold passwords (http, key, srp)
_SECRET_POSITIONS = (7, 10, 14)


def mask_secrets(text: str) -> str:
    """The history form of a command line: secret values replaced by ``*``."""
    from .cli import parser
    from .cli.quoting import quote

    try:
        line = parser.parse_line(text)
    except Exception:  # noqa: BLE001 - unparsable lines hold nothing we can mask reliably
        return text if not _SECRET_ATTR.search(text) else ""
    words = [w.text for w in line.words]
    if len(words) >= 3 and "set".startswith(words[0]) and len(words[0]) >= 2 and _SECRET_ATTR.search(words[1]):
        return f"{words[0]} {words[1]} *"
    low = [w.lower() for w in words]
    if len(words) > 6 and low[0].startswith("exe") and "est" in low[:6]:
        start = low.index("est") + 1
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


class Repl:
    """One interactive session on a terminal (or a pipe / test I/O)."""

    def __init__(self, device: "Device", *, history: History, input: Input | None = None,
                 output: Output | None = None) -> None:
        self.device = device
        self.session = Session(device)
        self.output = output or create_output()
        self._lock = threading.RLock()
        self.prompt_session: PromptSession[str] = PromptSession(
            history=history,
            completer=SessionCompleter(self.session),
            complete_while_typing=False,
            key_bindings=self._bindings(),
            input=input,
            output=self.output,
            enable_history_search=False,
        )
        self.answer_session: PromptSession[str] = PromptSession(input=input, output=self.output)

    # ------------------------------------------------------------ output
    def write_lines(self, lines: Iterable[str]) -> None:
        with self._lock:
            for line in lines:
                self.output.write(line + "\n")
            self.output.flush()

    def emit(self, line: str) -> None:
        """Device sink: above the prompt while it is shown, else straight out."""
        app = self.prompt_session.app
        if app.is_running and app.loop is not None:
            def show() -> None:
                with set_app(app):
                    run_in_terminal(lambda: self.write_lines([line]))

            app.loop.call_soon_threadsafe(show)
        else:
            self.write_lines([line])

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
            shown = sess.prompt + buf.text
            run_in_terminal(lambda: self.write_lines([shown, *lines]))

        @kb.add("enter")
        def _enter(event: KeyPressEvent) -> None:
            buf = event.current_buffer
            if sess.needs_more(buf.text):
                buf.insert_text("\n")
            else:
                buf.validate_and_handle()

        return kb

    # ------------------------------------------------------------ loop
    def run(self) -> int:
        old = self.device.set_sink(self.emit)
        try:
            while True:
                try:
                    text = self.prompt_session.prompt(lambda: self.session.prompt)
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    if self.session.frame is None:
                        self.write_lines([""])
                        return 0
                    continue
                result = self.session.execute(text)
                result = self._answer(result)
                self.write_lines([*result.lines, ""])
                if result.exit:
                    return 0
        finally:
            self.device.set_sink(old)

    def _answer(self, result: Result) -> Result:
        while result.question is not None:
            q = result.question
            self.write_lines([*result.lines, *q.text[:-1]])
            try:
                reply = self.answer_session.prompt(q.text[-1] + " ")
            except (KeyboardInterrupt, EOFError):
                reply = "n"
            result = q.answer(parse_answer(reply))
        return result


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
    return Repl(device, history=history, input=input, output=output).run()
