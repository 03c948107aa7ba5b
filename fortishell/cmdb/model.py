"""The configuration database: tables, entries, edit buffers and transactions.

Owns the in-memory configuration and every rule about changing it: attribute
name resolution, value parsing (through ``types.py``), commit / abort, references
between entries, rename / clone / purge, programmatic all-or-nothing
transactions (the EST engine), snapshots, and commit listeners.  No I/O, no
text rendering.

Committed :class:`Entry` objects are never mutated: a commit replaces them.
That makes a snapshot a shallow copy of the table dictionaries.

Attribute names resolve by exact match, then by unique prefix (the CLI
reference's "abbreviate words to their smallest number of non-ambiguous
characters" rule, applied to attribute names too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Union

from ..errors import (CliError, CommitError, EntryInUse, EntryNotFound, FortiError, IncompleteCommand,
                      ParseError, ValueParseError, ValueTooLong)
from .schema import PEM, SCHEMA, AttrSpec, Path, Schema, TableSpec, resolve_word
from .types import MultiOptionType, ParseContext, type_of

SubValue = Union["Entry", dict[str, "Entry"]]


class Entry:
    """One committed entry (or the single entry of an object table); immutable.

    ``values`` holds the explicitly set attributes; ``get`` falls back to the
    schema default.  The key attribute (``name``) reads as the key.
    """

    __slots__ = ("spec", "key", "_values", "_subs")

    def __init__(self, spec: TableSpec, key: str | None, values: Mapping[str, Any] | None = None,
                 subs: Mapping[str, SubValue] | None = None) -> None:
        self.spec = spec
        self.key = key
        self._values: dict[str, Any] = dict(values or {})
        self._subs: dict[str, SubValue] = dict(subs or {})

    @property
    def values(self) -> Mapping[str, Any]:
        return MappingProxyType(self._values)

    def get(self, attr: str) -> Any:
        if attr == self.spec.key:
            return self.key
        if attr in self._values:
            return self._values[attr]
        spec = self.spec.attr(attr)
        if spec is None:
            raise KeyError(attr)
        return list(spec.default) if isinstance(spec.default, list) else spec.default

    def is_set(self, attr: str) -> bool:
        return attr in self._values

    def sub(self, name: str) -> SubValue:
        """A nested sub-table: an :class:`Entry` (object) or ``{key: Entry}`` (table)."""
        if name in self._subs:
            return self._subs[name]
        sub = self.spec.subtable(name)
        if sub is None:
            raise KeyError(name)
        return Entry(sub, None) if not sub.is_table else {}

    def visible(self, spec: AttrSpec) -> bool:
        return spec.visible(self._values, self.spec.defaults)

    def _cmp(self) -> tuple[Any, ...]:
        vals = {}
        for k, v in self._values.items():
            spec = self.spec.attr(k)
            if spec is None or not spec.volatile and v != spec.default:
                vals[k] = v
        # A nested object at its defaults equals an absent one, and an empty nested
        # table an absent table (``show full-configuration`` writes them, ``show`` not).
        subs: dict[str, object] = {}
        for k, v in self._subs.items():
            if isinstance(v, dict):
                if v:
                    subs[k] = list(v.items())
            else:
                cmp = v._cmp()
                if cmp[2] or cmp[3]:
                    subs[k] = cmp
        return (self.spec.path, self.key, vals, subs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and self._cmp() == other._cmp()

    def __repr__(self) -> str:
        return f"Entry({'/'.join(self.spec.path)}, {self.key!r}, {self._values!r})"


@dataclass(frozen=True)
class Change:
    """One committed change; ``old``/``new`` is None for a creation/deletion."""

    path: Path
    key: str | None
    old: Entry | None
    new: Entry | None


Listener = Callable[[list[Change]], "list[str] | None"]


class EditBuffer:
    """A working copy of one entry between ``edit``/``config`` and ``next``/``end``.

    Every failing operation leaves the buffer unchanged.  ``trusted`` buffers
    (configuration files, the EST engine) may set read-only and hidden
    attributes and skip datasource checks.
    """

    def __init__(self, cmdb: "Cmdb", spec: TableSpec, path: Path, key: str | None, is_new: bool,
                 base: Entry | None, *, parent: "EditBuffer | None" = None, trusted: bool = False) -> None:
        self.cmdb = cmdb
        self.spec = spec
        self.path = path
        self.key = key
        self.is_new = is_new
        self.parent = parent
        self.trusted = trusted
        self._values: dict[str, Any] = dict(base._values) if base else {}
        self._subs: dict[str, SubValue] = dict(base._subs) if base else {}
        self._ctx = ParseContext(cmdb._exists, trusted)

    # -------------------------------------------------------------- reading
    @property
    def values(self) -> Mapping[str, Any]:
        return MappingProxyType(self._values)

    def get(self, attr: str) -> Any:
        return self.to_entry().get(attr)

    def is_set(self, attr: str) -> bool:
        return attr in self._values

    def sub(self, name: str) -> SubValue:
        return self.to_entry().sub(name)

    def visible(self, spec: AttrSpec) -> bool:
        return spec.visible(self._values, self.spec.defaults)

    def to_entry(self) -> Entry:
        return Entry(self.spec, self.key, self._values, self._subs)

    # ------------------------------------------------------------- resolving
    def settable(self) -> list[AttrSpec]:
        """Attributes a ``set``/``unset`` may name now (for resolution, ``?`` and Tab)."""
        out = []
        for a in self.spec.attrs:
            if a.name == self.spec.key or a.volatile and not self.trusted:
                continue
            if not self.trusted and (a.readonly or a.hidden or not self.visible(a)):
                continue
            out.append(a)
        return out

    def resolve_attr(self, word: str) -> AttrSpec:
        """Exact name, else unique prefix among the settable attributes; else ParseError (-61)."""
        if self.trusted:
            spec = self.spec.attr(word)
            if spec is not None and spec.name != self.spec.key:
                return spec
        cands = self.settable()
        if self.spec.attr(word) is not None and all(a.name != word for a in cands):
            raise ParseError(word)  # the exact name of a read-only / absent attribute
        name = resolve_word(word, [a.name for a in cands])
        if name is None:
            raise ParseError(word)
        return self.spec.attr(name)  # type: ignore[return-value]

    # -------------------------------------------------------------- changing
    def set(self, attr_word: str, value_words: list[str]) -> AttrSpec:
        spec = self.resolve_attr(attr_word)
        value = type_of(spec).parse(spec, list(value_words), self._ctx)
        self._values[spec.name] = value
        return spec

    def set_value(self, attr: str, value: Any) -> None:
        """Store an already-parsed value (trusted callers: the EST engine, transactions)."""
        spec = self.spec.attr(attr)
        if spec is None or attr == self.spec.key:
            raise CommitError(f"unknown attribute {attr} in {' '.join(self.path)}")
        if spec.type == PEM and isinstance(value, str):
            value = value.replace("\r\n", "\n").strip("\n")
        self._values[attr] = value

    def unset(self, attr_word: str) -> AttrSpec:
        spec = self.resolve_attr(attr_word)
        self._values.pop(spec.name, None)
        return spec

    def _multi(self, attr_word: str, value_words: list[str]) -> tuple[AttrSpec, list[str]]:
        spec = self.resolve_attr(attr_word)
        if not spec.multi:
            raise ParseError(attr_word)
        return spec, type_of(spec).parse(spec, list(value_words), self._ctx)

    def append(self, attr_word: str, value_words: list[str]) -> None:
        spec, new = self._multi(attr_word, value_words)
        current = list(self.get(spec.name))
        self._values[spec.name] = MultiOptionType.canonical(spec, current + new)

    def select(self, attr_word: str, value_words: list[str]) -> None:
        spec, new = self._multi(attr_word, value_words)
        self._values[spec.name] = new

    def unselect(self, attr_word: str, value_words: list[str]) -> None:
        spec, gone = self._multi(attr_word, value_words)
        self._values[spec.name] = [v for v in self.get(spec.name) if v not in gone]

    # --------------------------------------------------------------- nesting
    def subtables(self) -> list[str]:
        return [s.name for s in self.spec.subtables]

    def begin_edit(self, sub_word: str, key: str | None = None) -> "EditBuffer":
        """Edit a nested ``config <sub>`` (object) or one of its entries (table)."""
        name = resolve_word(sub_word, self.subtables())
        if name is None:
            raise ParseError(sub_word)
        sub = self.spec.subtable(name)
        assert sub is not None
        path = self.path + (name,)
        current = self.sub(name)
        if sub.is_table:
            if key is None:
                raise IncompleteCommand()
            base = current.get(key) if isinstance(current, dict) else None
            return EditBuffer(self.cmdb, sub, path, key, base is None, base, parent=self, trusted=self.trusted)
        return EditBuffer(self.cmdb, sub, path, None, False, current if isinstance(current, Entry) else None,
                          parent=self, trusted=self.trusted)

    def _store_sub(self, buf: "EditBuffer") -> None:
        name = buf.path[-1]
        if buf.spec.is_table:
            table = dict(self.sub(name))  # type: ignore[arg-type]
            table[buf.key] = buf.to_entry()  # type: ignore[index]
            self._subs[name] = table
        else:
            self._subs[name] = buf.to_entry()


@dataclass
class Snapshot:
    tables: dict[Path, dict[str, Entry]]
    objects: dict[Path, Entry]
    version: int


class Tx:
    """Programmatic writes inside :meth:`Cmdb.transaction` (values are Python values)."""

    def __init__(self, cmdb: "Cmdb") -> None:
        self._cmdb = cmdb
        self.changes: list[Change] = []

    def get(self, path: Path, key: str | None = None) -> Entry | None:
        return self._cmdb.entry(path, key)

    def put(self, path: Path, key: str | None, values: Mapping[str, Any], *, unset: tuple[str, ...] = ()) -> Entry:
        """Create or update an entry: ``values`` are merged in, ``unset`` removed."""
        buf = self._cmdb.begin_edit(path, key, trusted=True)
        for attr, value in values.items():
            buf.set_value(attr, value)
        for attr in unset:
            buf._values.pop(attr, None)
        change = self._cmdb._store(buf)
        self.changes.append(change)
        assert change.new is not None
        return change.new

    def delete(self, path: Path, key: str) -> None:
        self.changes.append(self._cmdb._delete(path, key))


class Cmdb:
    """The configuration of one device."""

    def __init__(self, schema: Schema = SCHEMA) -> None:
        self.schema = schema
        self._tables: dict[Path, dict[str, Entry]] = {t.path: {} for t in schema.tables if t.is_table}
        self._objects: dict[Path, Entry] = {t.path: Entry(t, None) for t in schema.tables if not t.is_table}
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()  # the EST engine may write from a worker thread
        self.version = 0

    # ------------------------------------------------------------------ reading
    def _spec(self, path: Path) -> TableSpec:
        spec = self.schema.table(tuple(path))
        if spec is None:
            raise ParseError(path[-1] if path else "")
        return spec

    def entry(self, path: Path, key: str | None = None) -> Entry | None:
        path = tuple(path)
        if path in self._objects:
            return self._objects[path]
        table = self._tables.get(path)
        return table.get(key) if table is not None and key is not None else None

    def keys(self, path: Path) -> list[str]:
        return list(self._tables.get(tuple(path), {}))

    def entries(self, path: Path) -> list[Entry]:
        path = tuple(path)
        if path in self._objects:
            return [self._objects[path]]
        return list(self._tables.get(path, {}).values())

    def _exists(self, path: Path, key: str) -> bool:
        return key in self._tables.get(path, {})

    # ------------------------------------------------------------------ editing
    def begin_edit(self, path: Path, key: str | None = None, *, trusted: bool = False) -> EditBuffer:
        path = tuple(path)
        spec = self._spec(path)
        if not spec.is_table:
            return EditBuffer(self, spec, path, None, False, self._objects[path], trusted=trusted)
        if key is None:
            raise IncompleteCommand()
        if len(key) > spec.key_size:
            raise ValueTooLong(key, spec.key_size)
        base = self._tables[path].get(key)
        return EditBuffer(self, spec, path, key, base is None, base, trusted=trusted)

    def commit(self, buf: EditBuffer) -> list[str]:
        """Validate and store ``buf``; fire listeners; return their output lines.

        A nested buffer is stored into its parent buffer (committed with it).
        Raises :class:`CliError` and leaves the CMDB unchanged when a check fails.
        """
        self._validate(buf)
        _seal_private_keys(buf)
        if buf.parent is not None:
            buf.parent._store_sub(buf)
            return []
        with self._lock:
            change = self._store(buf)
            self.version += 1
        return self._fire([change])

    def _validate(self, buf: EditBuffer) -> None:
        if buf.trusted and not any(a.required for a in buf.spec.attrs):
            return
        for spec in buf.spec.attrs:
            if spec.required and not buf.is_set(spec.name) and buf.visible(spec):
                raise CommitError(f"Attribute '{spec.name}' MUST be set.", rc=-56)
            if spec.datasource and not buf.trusted:
                value = buf._values.get(spec.name)
                if value and not any(self._exists(p, value) for p in spec.datasource):
                    raise ValueParseError("entry not found in datasource", value, -3)

    def _store(self, buf: EditBuffer) -> Change:
        new = buf.to_entry()
        if buf.spec.is_table:
            table = self._tables[buf.path]
            old = table.get(buf.key)  # type: ignore[arg-type]
            table[buf.key] = new  # type: ignore[index]
        else:
            old = self._objects[buf.path]
            self._objects[buf.path] = new
        return Change(buf.path, buf.key, old, new)

    # ----------------------------------------------------------- table verbs
    def _need(self, path: Path, key: str) -> dict[str, Entry]:
        table = self._tables.get(tuple(path))
        if table is None:
            raise ParseError(key)
        if key not in table:
            raise EntryNotFound("entry not found in datasource", "", f"value parse error before '{key}'")
        return table

    def _delete(self, path: Path, key: str) -> Change:
        path = tuple(path)
        table = self._need(path, key)
        refs = self.references(path, key)
        if refs:
            raise EntryInUse(refs)
        old = table.pop(key)
        return Change(path, key, old, None)

    def delete(self, path: Path, key: str) -> list[str]:
        with self._lock:
            change = self._delete(path, key)
            self.version += 1
        return self._fire([change])

    def purge(self, path: Path) -> list[str]:
        """Delete every entry; refused (nothing deleted) if another table refers to one."""
        path = tuple(path)
        with self._lock:
            table = self._tables.get(path)
            if table is None:
                raise ParseError(path[-1])
            outside = sum(self._count_refs(path, k, skip=path) for k in table)
            if outside:
                raise EntryInUse(outside)
            changes = [Change(path, k, e, None) for k, e in table.items()]
            table.clear()
            if changes:
                self.version += 1
        return self._fire(changes)

    def rename(self, path: Path, old: str, new: str) -> list[str]:
        """Rename an entry; references to it follow the new name."""
        path = tuple(path)
        with self._lock:
            table = self._need(path, old)
            self._check_new_key(path, table, new)
            snap = self.snapshot()
            try:
                changes = self._rekey(path, table, old, new)
                changes += self._retarget(path, old, new)
            except BaseException:
                self.restore(snap)
                raise
            self.version += 1
        return self._fire(changes)

    def clone(self, path: Path, old: str, new: str) -> list[str]:
        path = tuple(path)
        with self._lock:
            table = self._need(path, old)
            self._check_new_key(path, table, new)
            src = table[old]
            entry = Entry(src.spec, new, src._values, src._subs)
            table[new] = entry
            self.version += 1
        return self._fire([Change(path, new, None, entry)])

    def _check_new_key(self, path: Path, table: dict[str, Entry], new: str) -> None:
        spec = self._spec(path)
        if len(new) > spec.key_size:
            raise ValueTooLong(new, spec.key_size)
        if new in table:
            # FortiOS return code -5: "mkey already exists".
            raise CliError(f"entry '{new}' already exists", rc=-5)

    def _rekey(self, path: Path, table: dict[str, Entry], old: str, new: str) -> list[Change]:
        src = table[old]
        renamed = Entry(src.spec, new, src._values, src._subs)
        items = [(new if k == old else k, renamed if k == old else e) for k, e in table.items()]
        table.clear()
        table.update(items)
        return [Change(path, old, src, None), Change(path, new, None, renamed)]

    # -------------------------------------------------------------- references
    def _ref_holders(self) -> Iterator[tuple[Path, Entry, Path | None]]:
        """Every entry (with nested object entries) and where it lives."""
        for path, table in self._tables.items():
            for entry in table.values():
                yield path, entry, None
        for path, entry in self._objects.items():
            yield path, entry, None
            for sub in entry._subs.values():
                if isinstance(sub, Entry):
                    yield path, sub, path
                else:
                    for e in sub.values():
                        yield path, e, path

    def _count_refs(self, path: Path, key: str, *, skip: Path | None = None) -> int:
        count = 0
        for holder_path, entry, _ in self._ref_holders():
            if skip is not None and holder_path == skip:
                continue
            for spec in entry.spec.attrs:
                if path in spec.datasource and entry._values.get(spec.name, spec.default) == key:
                    count += 1
                    break
        return count

    def references(self, path: Path, key: str) -> int:
        """How many entries refer to ``path``/``key`` through a datasource attribute."""
        return self._count_refs(tuple(path), key)

    def _retarget(self, path: Path, old: str, new: str) -> list[Change]:
        changes = []
        for table_path, table in self._tables.items():
            for k, entry in list(table.items()):
                vals = _retargeted(entry, path, old, new)
                if vals is not None:
                    table[k] = Entry(entry.spec, k, vals, entry._subs)
                    changes.append(Change(table_path, k, entry, table[k]))
        for obj_path, entry in list(self._objects.items()):
            vals = _retargeted(entry, path, old, new)
            if vals is not None:
                self._objects[obj_path] = Entry(entry.spec, None, vals, entry._subs)
                changes.append(Change(obj_path, None, entry, self._objects[obj_path]))
        return changes

    # ----------------------------------------------------- transactions, state
    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """All-or-nothing programmatic writes; listeners fire once, after success."""
        with self._lock:
            snap = self.snapshot()
            tx = Tx(self)
            try:
                yield tx
            except BaseException:
                self.restore(snap)
                raise
            if tx.changes:
                self.version += 1
        self._fire(tx.changes)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot({p: dict(t) for p, t in self._tables.items()}, dict(self._objects), self.version)

    def restore(self, snap: Snapshot) -> None:
        with self._lock:
            self._tables = {p: dict(t) for p, t in snap.tables.items()}
            self._objects = dict(snap.objects)
            self.version = snap.version

    def on_commit(self, listener: Listener) -> None:
        """Call ``listener(changes)`` after every committed change.

        A listener may return output lines (shown after ``next``/``end``); a
        :class:`FortiError` it raises becomes output lines too (the change stays).
        """
        self._listeners.append(listener)

    def _fire(self, changes: list[Change]) -> list[str]:
        out: list[str] = []
        if not changes:
            return out
        for listener in list(self._listeners):
            try:
                lines = listener(changes)
            except FortiError as exc:
                lines = exc.output()
            if lines:
                out.extend(lines)
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cmdb):
            return NotImplemented
        mine = {p: list(t.items()) for p, t in self._tables.items()}
        theirs = {p: list(t.items()) for p, t in other._tables.items()}
        return mine == theirs and self._objects == other._objects

    __hash__ = None  # type: ignore[assignment]


def _seal_private_keys(buf: EditBuffer) -> None:
    """Encrypt a clear private key being committed (never stored in clear at rest).

    The key is encrypted under the entry's ``password`` attribute (a new random
    one is set when it is empty); FortiOS likewise keeps every local key as an
    encrypted PEM with its password.
    """
    from . import secrets

    for spec in buf.spec.attrs:
        if spec.pem_kind != "private-key":
            continue
        value = buf._values.get(spec.name)
        if not isinstance(value, str) or not secrets.is_clear_private_key(value):
            continue
        if secrets.load_clear_private_key(value) is None:
            raise CommitError("invalid private-key", rc=-1)
        pw_spec = buf.spec.attr("password")
        password = buf._values.get("password") if pw_spec is not None else None
        sealed, password = secrets.seal_private_key(value, password or None)
        buf._values[spec.name] = sealed
        if pw_spec is not None:
            buf._values["password"] = password


def _retargeted(entry: Entry, path: Path, old: str, new: str) -> dict[str, Any] | None:
    vals = None
    for spec in entry.spec.attrs:
        if path in spec.datasource and entry._values.get(spec.name, spec.default) == old:
            vals = dict(entry._values) if vals is None else vals
            vals[spec.name] = new
    return vals
