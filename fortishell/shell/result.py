"""The value every command handler and :meth:`Session.execute` returns.

``Result`` carries output lines (no trailing blank line: the front end adds
it), the FortiOS return code, an optional pending ``(y/n)`` :class:`Question`
the ``exit`` flag and whether the output ``pages`` (``--More--``).  Front ends (REPL, replay, SSH, tests) render it; no
handler prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Question:
    """A pending confirmation: ``text`` lines, the last one ends with ``(y/n)``."""

    text: list[str]
    answer: Callable[[bool], "Result"]


@dataclass
class Result:
    lines: list[str] = field(default_factory=list)
    rc: int = 0
    question: Question | None = None
    exit: bool = False
    # a get/show listing: the front end pages it when `config system console` says `more`
    # ("This setting applies to show or get commands only")
    pages: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0


def parse_answer(text: str) -> bool:
    """FortiOS accepts ``y``/``Y`` as yes; anything else is no."""
    return text.strip()[:1] in ("y", "Y")


_CONTROLS = {c: ("^" + chr(c ^ 0x40)) for c in [*range(0x20), 0x7F] if chr(c) not in "\t\n"}
_CONTROLS.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})


def visible(line: str) -> str:
    """``line`` with control characters rendered visibly: C0 controls and DEL in caret
    notation (ESC -> ``^[``), C1 controls as ``\\xNN``; tab and newline kept
    (see shell/session.py for where it applies)."""
    return line.translate(_CONTROLS)
