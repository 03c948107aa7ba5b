"""The ``--More--`` pager of ``config system console`` / ``set output more``.

Pure state: :class:`Pager` takes the output lines of one ``get``/``show``
command and the terminal height and answers, key by key, which lines to print
next.  The interact loop (:mod:`fortishell.frontend.interact`) prints them and
reads the keys.

Keys, as on FortiOS: space shows the next page, Enter the next line, ``q``
(or Ctrl-C) drops the rest.  FortiOS leaves the keys it does not know
unanswered; so does this pager (the ``--More--`` stays up).  A page is the
terminal height minus the ``--More--`` line, counted in screen rows: a line
wider than the terminal wraps and takes several rows (:func:`screen_rows`), so
a page of long lines never scrolls its first lines off the top.  A line taller
than a whole page is still shown (one line is the least a key moves on).
"This setting applies to show or get commands only": debug and trace output is
never paged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prompt_toolkit.utils import get_cwidth

MORE = "--More--"
# what erases "--More--" before the next line is printed (carriage return, blanks, carriage return)
ERASE_MORE = "\r" + " " * len(MORE) + "\r"

NEXT_PAGE = " "
NEXT_LINE = ("\r", "\n")
QUIT = ("q", "Q", "\x03")


def screen_rows(line: str, columns: int) -> int:
    """The terminal rows ``line`` takes on a screen ``columns`` wide (0: unknown, one row).

    A line of exactly the width takes one row: the cursor waits at the margin and
    the line end moves it down.  Double-width characters count twice, tabs stop
    every 8 columns."""
    if columns <= 0:
        return 1
    width = get_cwidth(line.expandtabs(8)) if line else 0
    return max(1, -(-width // columns))


@dataclass
class Pager:
    """Splits ``lines`` into screens of ``rows - 1`` terminal rows (``columns`` wide; 0: each
    line one row)."""

    lines: list[str]
    rows: int
    columns: int = 0
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

    def _take(self, rows: int) -> list[str]:
        """The next lines that fit in ``rows`` screen rows (at least one line)."""
        end, used = self.pos, 0
        while end < len(self.lines):
            used += screen_rows(self.lines[end], self.columns)
            if used > rows and end > self.pos:
                break
            end += 1
        out = self.lines[self.pos:end]
        self.pos = end
        return out
