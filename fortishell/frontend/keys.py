"""Key handling of the interactive shell: ``?`` help, Enter, pastes of several lines, the
single-key answer of a ``(y/n)`` question and the pager's single keys."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from prompt_toolkit.application import Application, run_in_terminal
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.key_binding.key_processor import KeyPress, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import FormattedTextControl, Layout, Window
from prompt_toolkit.output import DummyOutput

from ..shell.session import Session
from .compat import no_render
from .echo import PlainEcho


class Screen(Protocol):
    """What the key handlers write to: the interact loop's terminal side."""

    @property
    def echo(self) -> PlainEcho | None: ...

    def write_lines(self, lines: Iterable[str]) -> None: ...

    def write_raw(self, text: str) -> None: ...


def line_bindings(session: Session, screen: Screen) -> KeyBindings:
    """``?`` (help for the partial line, FortiOS style) and Enter (continue an open quote)."""
    kb = KeyBindings()

    @kb.add("?")
    def _help(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        before = buf.document.text_before_cursor
        if session.partial(before).in_quote:  # `?` inside quotes is an ordinary character
            buf.insert_text("?")
            return
        lines = session.help(before)
        fill = session.help_fill(before)  # one valid word: completed in place, like FortiOS
        echo = screen.echo
        if echo is not None:
            screen.write_raw("\n")
            screen.write_lines(lines)
            echo.redraw(session.prompt)
            if fill:
                buf.insert_text(fill)
            return
        shown = session.prompt + buf.text
        run_in_terminal(lambda: screen.write_lines([shown, *lines]))
        if fill:
            buf.insert_text(fill)

    @kb.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        if session.needs_more(buf.text):
            buf.insert_text("\n")
        else:
            buf.validate_and_handle()

    paste_lines(kb, session.needs_more)
    return kb


def paste_lines(kb: KeyBindings, needs_more: Callable[[str], bool]) -> KeyBindings:
    """A bracketed paste of several lines runs line by line, as if typed (as over SSH).

    prompt_toolkit's own binding inserts the whole paste into one buffer; here
    the paste is inserted up to its first line end, where the line is accepted
    unless it continues (an open quote, a trailing backslash: the line end then
    stays in the buffer); the rest goes back to the front of the key queue, and
    prompt_toolkit keeps it as typeahead for the next prompt (or the answer to
    a question).  A last line without a line end stays in the buffer, unrun.
    """

    @kb.add(Keys.BracketedPaste)
    def _paste(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        data = event.data.replace("\r\n", "\n").replace("\r", "\n")
        while True:
            line, end, data = data.partition("\n")
            buf.insert_text(line)
            if not end:
                return
            if needs_more(buf.text):
                buf.insert_text("\n")
                continue
            if data:
                event.app.key_processor.feed_multiple([KeyPress(Keys.BracketedPaste, data)], first=True)
            buf.validate_and_handle()
            return

    return kb


def answer_key_bindings() -> KeyBindings:
    """A ``(y/n)`` question answered by one key press, without Enter, as FortiOS asks it.

    The key is echoed after the question and answers at once (``y``/``Y`` yes,
    any other character no, see :func:`~fortishell.shell.result.parse_answer`);
    Enter alone answers no; Ctrl-C is prompt_toolkit's (the interact loop takes it
    as no).  Keys that are no character (arrows, function keys) are ignored.  Of a
    pasted run only the first character answers; the rest (its line end, the next
    lines) goes back to the front of the key queue, typeahead for the next prompt.
    """
    kb = KeyBindings()

    def _answer(event: KeyPressEvent, key: str) -> None:
        buf = event.current_buffer
        buf.text = key
        buf.validate_and_handle()

    @kb.add(Keys.Any)
    def _key(event: KeyPressEvent) -> None:
        if len(event.data) == 1 and event.data.isprintable():
            _answer(event, event.data)

    @kb.add(Keys.BracketedPaste)
    def _paste(event: KeyPressEvent) -> None:
        data = event.data.replace("\r\n", "\n").replace("\r", "\n")
        if not data:
            return
        if len(data) > 1:
            event.app.key_processor.feed_multiple([KeyPress(Keys.BracketedPaste, data[1:])], first=True)
        _answer(event, "" if data[0] == "\n" else data[0])

    return kb


async def read_key(inp: Input) -> str:
    """One key press from ``inp`` (nothing is drawn); end of input or Ctrl-C reads as ``q``.

    Only one key is taken: what was typed after it (a line typed ahead while
    ``--More--`` waits, or the rest of a pasted run of characters, which the SSH
    door delivers as one paste) stays queued for the next prompt, as
    prompt_toolkit keeps the unprocessed keys of an application as typeahead.
    """
    kb = KeyBindings()

    @kb.add(Keys.Any)
    def _any(event: KeyPressEvent) -> None:
        data = event.data
        if event.key_sequence[0].key == Keys.BracketedPaste and len(data) > 1:
            # one character is the key; the rest goes back to the front of the queue
            event.app.key_processor.feed_multiple([KeyPress(Keys.BracketedPaste, data[1:])], first=True)
            data = data[0]
        event.app.exit(result=data)

    @kb.add("c-c")
    def _ctrl_c(event: KeyPressEvent) -> None:
        event.app.exit(result="\x03")

    def _enter(event: KeyPressEvent) -> None:
        event.app.exit(result="\r")

    kb.add("enter")(_enter)
    kb.add("c-j")(_enter)

    # an explicit (empty) layout: the default one binds Enter to "quit" itself
    layout = Layout(Window(FormattedTextControl("")))
    app: Application[str] = Application(input=inp, output=DummyOutput(), key_bindings=kb, layout=layout)
    no_render(app)
    try:
        return await app.run_async(handle_sigint=False)
    except (EOFError, KeyboardInterrupt):
        return "q"
