"""The mode stack of a session: which config level the user is in.

A :class:`Frame` is one level below the root prompt: a table
(``config vpn certificate local``), an entry being edited (``edit x``), a
single object (``config system global``), or a nested table/entry inside an
entry (``config crl-verification``).  Frames are plain data; the handlers in
``commands/config.py`` push and pop them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cli import ast

if TYPE_CHECKING:
    from ..cmdb.model import EditBuffer
    from ..cmdb.schema import TableSpec

TABLE, ENTRY, OBJECT = "table", "entry", "object"


@dataclass
class Frame:
    kind: str  # TABLE | ENTRY | OBJECT
    path: tuple[str, ...]  # the table's path words (a nested table: the parent's path + name)
    spec: "TableSpec"
    label: str  # the prompt context: last path word or the key being edited
    buf: "EditBuffer | None" = None  # for ENTRY/OBJECT frames
    key: str | None = None  # the entry key for ENTRY frames
    nested: bool = False  # a table/object opened from inside an entry (committed with the parent)

    @property
    def editing(self) -> "EditBuffer":
        """The edit buffer of an entry/object frame, or of the entry a nested table belongs to."""
        if self.buf is None:
            raise LookupError(f"no edit buffer at {' '.join(self.path)}")
        return self.buf

    @property
    def verbs(self) -> tuple[str, ...]:
        if self.kind == TABLE:
            return ast.TABLE_VERBS
        if self.kind == ENTRY:
            return ast.ENTRY_VERBS
        return ast.OBJECT_VERBS
