"""Key handling of the interactive shell: ``?`` help, Enter, and the pager's single keys."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from prompt_toolkit.application import Application, run_in_terminal
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.key_binding.key_processor import KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import FormattedTextControl, Layout, Window
from prompt_toolkit.output import DummyOutput

from ..cli import parser
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
        if in_quote(before):
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

    return kb


async def read_key(inp: Input) -> str:
    """One key press from ``inp`` (nothing is drawn); end of input or Ctrl-C reads as ``q``."""
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
    app: Application[str] = Application(input=inp, output=DummyOutput(), key_bindings=kb, layout=layout)
    no_render(app)
    try:
        return await app.run_async(handle_sigint=False)
    except (EOFError, KeyboardInterrupt):
        return "q"


def in_quote(text: str) -> bool:
    """``text`` ends inside an open quote (``?`` is then an ordinary character)."""
    return bool(parser.split_partial(text).in_quote)  # split_partial never raises
