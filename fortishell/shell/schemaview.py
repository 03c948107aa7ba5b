"""A thin read-only view of ``cmdb.schema`` for the shell.

The shell asks the schema four questions: which path words follow a prefix
(``config vpn ?``), which table a full path names, which attributes and
sub-tables a table has, and what values an attribute takes.  Keeping the
questions here means the command handlers and the completer never depend on
the layout of the schema's declarations.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Path = tuple[str, ...]


def schema() -> Any:
    from ..cmdb.schema import SCHEMA

    return SCHEMA


def table(path: Path) -> Any | None:
    """The TableSpec at ``path`` or None when ``path`` is only a prefix (or nothing)."""
    try:
        return schema().table(tuple(path))
    except (KeyError, LookupError):
        return None


def children(prefix: Path) -> list[tuple[str, str]]:
    """Next path words after ``prefix`` with their help text, in schema order."""
    try:
        kids = schema().children(tuple(prefix))
    except (KeyError, LookupError):
        return []
    return _pairs(kids, lambda w: _word_help(tuple(prefix) + (w,)))


def _word_help(path: Path) -> str:
    sch = schema()
    getter = getattr(sch, "help", None)
    if callable(getter):
        try:
            return str(getter(path) or "")
        except (KeyError, LookupError):
            pass
    spec = table(path)
    return str(getattr(spec, "help", "") or "") if spec is not None else ""


def _pairs(items: Any, helper: Any) -> list[tuple[str, str]]:
    if isinstance(items, dict):
        return [(str(k), str(v or "")) for k, v in items.items()]
    out: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, tuple):
            out.append((str(item[0]), str(item[1] if len(item) > 1 else "")))
        else:
            out.append((str(item), helper(str(item))))
    return out


def is_object(spec: Any) -> bool:
    return getattr(spec, "kind", "table") == "object"


def attrs(spec: Any) -> list[Any]:
    """Attribute specs in schema order (the key attribute included)."""
    a = getattr(spec, "attrs", ())
    return list(a.values()) if isinstance(a, dict) else list(a)


def settable_attrs(spec: Any) -> list[Any]:
    """Attributes a user may ``set`` (not read-only, not hidden, not the key)."""
    key = key_name(spec)
    out = []
    for a in attrs(spec):
        if a.name == key or flag(a, "readonly") or flag(a, "hidden"):
            continue
        out.append(a)
    return out


def key_name(spec: Any) -> str | None:
    key = getattr(spec, "key", None)
    if key is None:
        return None
    return key if isinstance(key, str) else getattr(key, "name", None)


def flag(attr: Any, name: str) -> bool:
    if bool(getattr(attr, name, False)):
        return True
    flags = getattr(attr, "flags", ()) or ()
    return name in flags


def subtables(spec: Any) -> list[tuple[str, str]]:
    """Nested ``config <name>`` tables of an entry/object, with help."""
    subs = getattr(spec, "subtables", None)
    if subs is None:
        subs = getattr(spec, "nested", None) or getattr(spec, "children", None) or ()
    if isinstance(subs, dict):
        return [(str(k), str(getattr(v, "help", "") or "")) for k, v in subs.items()]
    out = []
    for s in subs:
        if isinstance(s, str):
            out.append((s, ""))
        else:
            name = getattr(s, "name", None) or (s.path[-1] if getattr(s, "path", None) else str(s))
            out.append((str(name), str(getattr(s, "help", "") or "")))
    return out


def subtable(spec: Any, name: str) -> Any | None:
    subs = getattr(spec, "subtables", None)
    if subs is None:
        subs = getattr(spec, "nested", None) or ()
    if isinstance(subs, dict):
        return subs.get(name)
    for s in subs:
        sname = getattr(s, "name", None) or (s.path[-1] if getattr(s, "path", None) else None)
        if sname == name:
            return s
    return None


def find_attr(spec: Any, name: str) -> Any | None:
    for a in attrs(spec):
        if a.name == name:
            return a
    return None


def attr_type(attr: Any) -> str:
    t = getattr(attr, "type", "string")
    return str(getattr(t, "name", t)).lower()


def attr_options(attr: Any) -> list[tuple[str, str]]:
    out = []
    for o in getattr(attr, "options", None) or ():
        if isinstance(o, tuple):
            out.append((str(o[0]), str(o[1]) if len(o) > 1 else ""))
        elif isinstance(o, str):
            out.append((o, ""))
        else:
            out.append((str(o.value), str(getattr(o, "help", "") or "")))
    return out


def attr_datasources(attr: Any) -> list[Path]:
    ds = getattr(attr, "datasource", None)
    if not ds:
        return []
    if isinstance(ds, tuple) and ds and isinstance(ds[0], str):
        return [ds]
    if isinstance(ds, str):
        return [tuple(ds.split())]
    return [tuple(p) if not isinstance(p, str) else tuple(p.split()) for p in ds]


def flatten(items: Iterable[tuple[str, str]]) -> list[str]:
    return [name for name, _ in items]
