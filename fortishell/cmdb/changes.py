"""Committed changes as text in the configuration file's syntax (the journal's records).

:func:`encode` writes the changes of one commit as ``config`` blocks the way
``show`` prints them (secrets as ``ENC <base64>``, private keys sealed), plus
``delete "<key>"``, ``rename "<old>" to "<new>"`` and ``move "<key>" before|after "<other>"``
lines in a table block.
:func:`apply` replays such a text onto a CMDB, trusted, as a configuration file
is read: an ``edit`` or an object ``config`` block replaces the whole entry
(its place in the table is kept; a new key goes last, as a commit does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..cli.quoting import quote
from ..errors import ConfigFileError, FortiError
from . import render
from .model import Change, Cmdb, Entry, Moved, reorder_table


def encode(cmdb: Cmdb, changes: Sequence[Change]) -> str:
    """One record's payload for the changes of one commit (in their order)."""
    lines: list[str] = []
    i = 0
    while i < len(changes):
        c = changes[i]
        nxt = changes[i + 1] if i + 1 < len(changes) else None
        head = "config " + " ".join(c.path)
        if c.new is None and nxt is not None and _is_rename(c, nxt):
            assert c.key is not None and nxt.key is not None
            lines += [head, f"    rename {quote(c.key)} to {quote(nxt.key)}", "end"]
            i += 2
            continue
        if isinstance(c, Moved):
            lines += [head, f"    move {quote(c.key or '')} {c.where} {quote(c.other)}", "end"]
            i += 1
            continue
        if c.new is None:
            if c.key is not None:
                lines += [head, f"    delete {quote(c.key)}", "end"]
        else:
            lines += render.show(cmdb, c.path, c.key, entry=c.new)
        i += 1
    return "\n".join(lines) + "\n"


def _is_rename(gone: Change, made: Change) -> bool:
    """A deletion followed by a creation of the same entry under a new key (``rename``)."""
    old, new = gone.old, made.new
    return (made.old is None and new is not None and old is not None and made.path == gone.path
            and isinstance(new, Entry) and new.spec is old.spec and dict(new.values) == dict(old.values)
            and all(new.sub(s.name) == old.sub(s.name) for s in old.spec.subtables))


def apply(cmdb: Cmdb, payload: str) -> None:
    """Apply one record to ``cmdb`` (trusted, as a configuration file is read)."""
    from .store import _apply, _Frame, tokenize

    stack: list[_Frame] = []
    schema = cmdb.schema
    for lineno, words in tokenize(payload):
        try:
            top = stack[-1] if stack else None
            verb = words[0]
            if top is None and verb == "config":
                spec = schema.table(tuple(words[1:]))
                if spec is None:
                    raise ConfigFileError(f"unknown configuration path: {' '.join(words[1:])}")
                if spec.is_table:
                    stack.append(_Frame(spec, None, True))
                else:
                    stack.append(_Frame(spec, _fresh(cmdb.begin_edit(spec.path, trusted=True)), False))
            elif len(stack) == 1 and top is not None and top.table and verb == "edit" and len(words) == 2:
                stack.append(_Frame(top.spec, _fresh(cmdb.begin_edit(top.spec.path, words[1], trusted=True)),
                                    False))
            elif len(stack) == 1 and top is not None and top.table and verb == "delete" and len(words) == 2:
                cmdb._tables[top.spec.path].pop(words[1], None)
            elif (len(stack) == 1 and top is not None and top.table and verb == "rename" and len(words) == 4
                  and words[2] == "to"):
                table = cmdb._tables[top.spec.path]
                if words[1] in table and words[3] not in table:
                    cmdb._rekey(top.spec.path, table, words[1], words[3])
            elif (len(stack) == 1 and top is not None and top.table and verb == "move" and len(words) == 4
                  and words[2] in ("before", "after")):
                table = cmdb._tables[top.spec.path]
                if words[1] in table and words[3] in table:
                    reorder_table(table, words[1], words[2], words[3])
            else:
                _apply(cmdb, schema, stack, words)
        except ConfigFileError as exc:
            raise ConfigFileError(f"line {lineno}: {exc.lines[0] if exc.lines else exc}") from exc
        except FortiError as exc:
            detail = " / ".join(line for line in exc.output() if line)
            raise ConfigFileError(f"line {lineno}: {detail}") from exc
    if stack:
        raise ConfigFileError("missing 'end' at the end of a journal record")


def _fresh(buf: Any) -> Any:
    """An edit buffer that replaces its entry (values and nested tables start empty)."""
    buf._values.clear()
    buf._subs.clear()
    return buf
