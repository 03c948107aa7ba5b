"""``get`` / ``show`` / ``show full-configuration`` text (pure functions -> list[str]).

Owns the layout of configuration output (facts 1.6, 1.7 and the guide's
``get est-test101``).  Reads a :class:`Cmdb` (or an uncommitted edit buffer:
``show`` inside ``edit`` prints the pending values, as FortiOS does); prints
nothing itself.

Choices where FortiOS is undocumented:
* nested objects in ``get`` print ``<name>:`` then their attributes indented
  by 4 spaces; in plain ``show`` a nested ``config`` block appears only when it
  holds a non-default value;
* in ``show full-configuration`` an empty secret prints ``unset <name>``;
* the one-line summary of a table ``get`` joins ``attr: value`` with 3 spaces.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ..errors import EntryNotFound, ParseError
from .model import Cmdb, EditBuffer, Entry
from .schema import GET_CERT, GET_STAR, GET_STAR_IF_SET, PASSWORD, Path, TableSpec
from .spec import VDOM_LIST
from ..cli.quoting import quote
from .types import numeric_key, type_of

FIRMWARE = "FPXVM64-7.6.1-FW-build0197-241107"
BUILD = "0197"
_IND = "    "

EntryLike = Entry | EditBuffer


def _certdetails() -> Any:
    """The certificate detail blocks, loaded at the first certificate shown (they bring
    cryptography's x509, which a start of the shell does not need)."""
    from . import certdetails

    return certdetails


def _line(name: str, text: str) -> str:
    return f"{name:<20}: {text}" if text != "" else f"{name:<20}:"


def _entry(cmdb: Cmdb, path: Path, key: str | None, entry: EntryLike | None) -> EntryLike:
    if entry is not None:
        return entry
    if cmdb.schema.table(tuple(path)) is None:
        raise ParseError(path[-1] if path else "")
    found = cmdb.entry(tuple(path), key)
    if found is None:
        raise EntryNotFound("entry not found in datasource", "", f"value parse error before '{key}'")
    return found


# ---------------------------------------------------------------------- get
def get_entry(cmdb: Cmdb, path: Path, key: str | None, now: _dt.datetime, *,
              entry: EntryLike | None = None, attr: str | None = None) -> list[str]:
    """Entry-level ``get``: every visible attribute in schema order, defaults included."""
    e = _entry(cmdb, path, key, entry)
    return _get_lines(e, e.spec, now, attr)


def _get_lines(e: EntryLike, spec: TableSpec, now: _dt.datetime, only: str | None = None) -> list[str]:
    lines: list[str] = []
    for a in spec.attrs:
        if a.hidden or not e.visible(a) or (only is not None and a.name != only):
            continue
        value = e.get(a.name)
        if a.get_if == "nonempty" and not value:
            continue
        if a.get_if == "nondefault" and value == a.default:
            continue
        if a.name == "state" and spec.path[-1] == "local":
            lines.append(_line(a.name, _certdetails().effective_state(e, now)))
        elif a.get_format == GET_STAR:
            lines.append(_line(a.name, "*"))
        elif a.get_format == GET_STAR_IF_SET:
            lines.append(_line(a.name, "*" if value else ""))
        elif a.get_format == GET_CERT:
            lines.append(_line(a.name, ""))
            if value:
                lines.extend(_certdetails().detail_lines(value))
        elif a.type == VDOM_LIST:  # a member table on the device: listed as its entries
            lines.append(f"{a.name}:")
            for name in value:
                lines += [f"{_IND}== [ {name} ]", f"{_IND}name: {name}"]
        else:
            lines.append(_line(a.name, type_of(a).format_get(a, value)))
    for sub in spec.subtables:
        if only is not None:
            continue
        value = e.sub(sub.name)
        lines.append(f"{sub.name}:")
        subs = [value] if isinstance(value, Entry) else list(value.values())
        for s in subs:
            lines.extend(_IND + line for line in _get_lines(s, sub, now))
    return lines


def get_table(cmdb: Cmdb, path: Path) -> list[str]:
    """Table-level ``get``: ``== [ key ]`` and a one-line summary per entry."""
    spec = cmdb.schema.table(tuple(path))
    if spec is None:
        raise ParseError(path[-1] if path else "")
    lines: list[str] = []
    for e in cmdb.entries(spec.path):
        lines.append(f"== [ {e.key} ]")
        fields = spec.summary or ((spec.key,) if spec.key else ())
        lines.append("   ".join(f"{a}: {_summary_value(e, a)}" for a in fields))
    return lines


def _summary_value(e: Entry, attr: str) -> str:
    spec = e.spec.attr(attr)
    value = e.get(attr)
    return type_of(spec).format_get(spec, value) if spec else str(value)


# --------------------------------------------------------------------- show
def show(cmdb: Cmdb, path: Path, key: str | None = None, full: bool = False, attr: str | None = None, *,
         entry: EntryLike | None = None) -> list[str]:
    """``show`` of a table (all entries), one entry (``key``) or an object table."""
    path = tuple(path)
    spec = cmdb.schema.table(path)
    if spec is None:
        raise ParseError(path[-1] if path else "")
    lines = ["config " + " ".join(path)]
    if not spec.is_table:
        e = _entry(cmdb, path, None, entry)
        lines += _show_body(e, spec, 1, full, attr)
    else:
        entries = [_entry(cmdb, path, key, entry)] if key is not None or entry is not None else cmdb.entries(path)
        for e in entries:
            lines += _show_edit(e, spec, 1, full, attr)
    lines.append("end")
    return lines


def _show_edit(e: EntryLike, spec: TableSpec, depth: int, full: bool, attr: str | None) -> list[str]:
    ind = _IND * depth
    key = str(e.key)
    if not numeric_key(spec, key):  # integer keys bare: `edit 1`
        key = quote(key)
    return [f"{ind}edit {key}"] + _show_body(e, spec, depth + 1, full, attr) + [f"{ind}next"]


def _show_body(e: EntryLike, spec: TableSpec, depth: int, full: bool, only: str | None) -> list[str]:
    ind = _IND * depth
    lines: list[str] = []
    # ``show`` lists only what is set (see below): those attributes alone, in declaration order
    for a in spec.attrs if full else spec.in_order(e.values):
        if not full and not e.is_set(a.name):
            continue
        if a.name == spec.key or a.volatile or not e.visible(a) or (only is not None and a.name != only):
            continue
        value = e.get(a.name)
        if not full and (not e.is_set(a.name) or value == a.default):
            continue
        if full and a.get_if == "nonempty" and not value:
            continue  # e.g. csr: only exists while a request is pending
        text = _set_text(a, value)
        if text is None:
            lines.append(f"{ind}unset {a.name}")
        else:
            lines.extend((f"{ind}set {a.name} {text}").split("\n"))
    if only is None:
        for sub in spec.subtables:
            value = e.sub(sub.name)
            if isinstance(value, Entry):
                body = _show_body(value, sub, depth + 1, full, None)
                if body or full:
                    lines += [f"{ind}config {sub.name}"] + body + [f"{ind}end"]
            elif value or full:
                lines.append(f"{ind}config {sub.name}")
                for s in value.values():
                    lines += _show_edit(s, sub, depth + 1, full, None)
                lines.append(f"{ind}end")
    return lines


def _set_text(a: Any, value: Any) -> str | None:
    """The text after ``set <name> ``; None means print ``unset <name>``."""
    if a.multi and not value:
        return None
    if a.type == PASSWORD and value == "":
        return None
    return type_of(a).format_show(a, value)


def header_lines(cmdb: Cmdb, user: str = "admin") -> list[str]:
    """The ``#config-version=...`` header of a full configuration / backup."""
    return [
        f"#config-version={FIRMWARE}:opmode=0:vdom=0:user={user}",
        f"#conf_file_ver={405163731500000 + cmdb.version}",
        f"#buildno={BUILD}",
        "#global_vdom=1",
    ]


def show_configuration(cmdb: Cmdb, full: bool, header: bool, user: str = "admin") -> list[str]:
    """The whole configuration (root ``show`` / ``show full-configuration``)."""
    lines = header_lines(cmdb, user) if header else []
    for spec in cmdb.schema.tables:
        lines += show(cmdb, spec.path, full=full)
    return lines
