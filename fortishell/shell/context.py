"""The mode stack of a session: which config level the user is in.

A :class:`Frame` is one level below the root prompt: a table
(``config vpn certificate local``), an entry being edited (``edit x``), a
single object (``config system global``), or a nested table/entry inside an
entry (``config crl-verification``).  Frames are plain data; the handlers in
``commands/config.py`` push and pop them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..cli import ast

TABLE, ENTRY, OBJECT = "table", "entry", "object"


@dataclass
class Frame:
    kind: str  # TABLE | ENTRY | OBJECT
    path: tuple[str, ...]  # the table's path words (a nested table: the parent's path + name)
    spec: Any  # the schema TableSpec
    label: str  # the prompt context: last path word or the key being edited
    buf: Any = None  # EditBuffer for ENTRY/OBJECT frames
    key: str | None = None  # the entry key for ENTRY frames
    nested: bool = False  # a table/object opened from inside an entry (committed with the parent)

    @property
    def verbs(self) -> tuple[str, ...]:
        if self.kind == TABLE:
            return ast.TABLE_VERBS
        if self.kind == ENTRY:
            return ast.ENTRY_VERBS
        return ast.OBJECT_VERBS
