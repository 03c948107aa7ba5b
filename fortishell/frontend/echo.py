"""FortiOS-style plain echo of the line being edited (SSH sessions, automation)."""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.buffer import Buffer


class PlainEcho:
    """Echo a prompt_toolkit buffer the way a FortiOS line editor does.

    Typed characters are written as they are; a change before the cursor backs
    up with ``\\b``, rewrites, and blanks out what is left over.  Completion
    (Tab) and history recall show up as the rewritten word or line.  Only the
    last line of a multi-line (open quote) value is edited in place.
    """

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.buffer: Buffer | None = None
        self.text = ""
        self.cursor = 0

    @property
    def active(self) -> bool:
        return self.buffer is not None

    def start(self, buffer: Buffer) -> None:
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
        self.write(prompt + last + "\b" * back_steps(text, cur))
        self.text, self.cursor = text, cur

    def _changed(self, _buffer: Buffer) -> None:
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
        out += "\b" * back_steps(new, cur)
        self.text, self.cursor = new, cur
        return out


def back_steps(text: str, cur: int) -> int:
    """Cursor steps left from the end of ``text`` to ``cur`` (within the last line)."""
    start = text.rfind("\n") + 1
    return max(0, len(text) - max(cur, start))
