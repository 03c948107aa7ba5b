"""The ``--More--`` pager of ``config system console`` / ``set output more``.

Pure state: :class:`Pager` takes the output lines of one ``get``/``show``
command and the terminal height and answers, key by key, which lines to print
next.  The interact loop (:mod:`fortishell.frontend.interact`) prints them and
reads the keys.

Keys, as on FortiOS: space shows the next page, Enter the next line, ``q``
(or Ctrl-C) drops the rest.  FortiOS leaves the keys it does not know
unanswered; so does this pager (the ``--More--`` stays up).  A page is the
terminal height minus the ``--More--`` line.  "This setting applies to show or
get commands only": debug and trace output is never paged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MORE = "--More--"
# what erases "--More--" before the next line is printed (carriage return, blanks, carriage return)
ERASE_MORE = "\r" + " " * len(MORE) + "\r"

NEXT_PAGE = " "
NEXT_LINE = ("\r", "\n")
QUIT = ("q", "Q", "\x03")


@dataclass
class Pager:
    """Splits ``lines`` into screens of ``rows - 1`` lines."""

    lines: list[str]
    rows: int
    pos: int = field(default=0, init=False)

    @property
    def page_size(self) -> int:
        return max(1, self.rows - 1)

    @property
    def done(self) -> bool:
        return self.pos >= len(self.lines)

    def first(self) -> list[str]:
        """The first screen (everything when it fits)."""
        return self._take(self.page_size)

    def key(self, key: str) -> list[str] | None:
        """Lines to print for ``key``; ``None`` means quit (the rest is dropped)."""
        if key in QUIT:
            self.pos = len(self.lines)
            return None
        if key == NEXT_PAGE:
            return self._take(self.page_size)
        if key in NEXT_LINE:
            return self._take(1)
        return []

    def _take(self, n: int) -> list[str]:
        out = self.lines[self.pos:self.pos + n]
        self.pos += len(out)
        return out
