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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import (CliError, CommitError, EntryInUse, EntryNotFound, FortiError, IncompleteCommand,
                      ParseError, ValueParseError, ValueTooLong)
from . import secrets
from .schema import SCHEMA, Path, Schema, TableSpec
from .types import entry_key

from .entry import Change as Change, EditBuffer as EditBuffer, Entry as Entry, Listener  # re-exported
from .entry import Moved as Moved


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
        self.output: list[str] = []  # the listeners' lines, once the transaction is committed

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
        key = entry_key(spec, key, trusted=trusted)
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
        if buf.trusted and not any(a.required for a in buf.spec.checked):
            return
        for spec in buf.spec.checked:  # the required and the datasource attributes
            if spec.required and buf.visible(spec) and buf.get(spec.name) in ("", None, []):
                # unset without a default, or a list emptied by `unselect` (`unset` restores a default)
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

    def commit_renamed(self, buf: EditBuffer, new: str) -> list[str]:
        """Store ``buf`` (an edit of an existing entry of a table) under the key ``new``: ``rename``
        and the edit's ``next`` as one change (the REST door's PUT with a new key).  References
        follow the new name as with ``rename``; a failed check changes nothing."""
        path, old = buf.path, buf.key
        assert buf.parent is None and old is not None
        with self._lock:
            table = self._need(path, old)
            new = entry_key(buf.spec, new)
            self._check_new_key(path, table, new)
            self._validate(buf)
            _seal_private_keys(buf)
            snap = self.snapshot()
            try:
                changes = self._rekey(path, table, old, new)
                changes += self._retarget(path, old, new)
                own = _retargeted(buf.to_entry(), path, old, new)  # the entry naming itself
                if own is not None:
                    buf._values = own
                buf.key = new
                changes.append(self._store(buf))
            except BaseException:
                self.restore(snap)
                raise
            self.version += 1
        return self._fire(changes)

    def move(self, path: Path, key: str, where: str, other: str) -> list[str]:
        """``move <key> before|after <other>``: the table's order changes, one commit (a
        :class:`Moved` change for the listeners and the journal).  Either entry missing: the
        datasource error (-3).  An order that stays as it was (``key`` already there, or
        ``key == other``) commits nothing."""
        path = tuple(path)
        if where not in ("before", "after"):
            raise ParseError(where)
        with self._lock:
            table = self._need(path, key)
            self._need(path, other)
            if not reorder_table(table, key, where, other):
                return []
            entry = table[key]
            self.version += 1
        return self._fire([Moved(path, key, entry, entry, where=where, other=other)])

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
        """All-or-nothing programmatic writes; listeners fire once, after success.

        The listeners' lines are in ``tx.output`` afterwards.  A listener that
        fails (a :class:`FortiError`, e.g. the configuration file could not be
        saved) makes the transaction raise that error once every listener ran,
        its lines joined by the others' failures and its ``committed`` set: the change stays in memory
        (as after ``end``), and the command that wrote it reports the failure
        (``Command fail`` / a non-zero return code) instead of succeeding
        silently.
        """
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
        failures: list[FortiError] = []
        tx.output = self._fire(tx.changes, failures)
        if failures:
            first = failures[0]
            for other in failures[1:]:
                first.lines.extend(line for line in other.lines if line not in first.lines)
            first.committed = True  # the change stays: a caller keeps its result (FortiError.committed)
            raise first

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

    def _fire(self, changes: list[Change], failures: list[FortiError] | None = None) -> list[str]:
        """Every listener's lines; a listener's :class:`FortiError` becomes lines, or goes to
        ``failures`` when the caller collects them.  A line a later listener returns that repeats
        a failure already shown is left out: an ACME order this commit starts stores its
        certificate in a commit of its own, whose save fails as this commit's did (one line)."""
        out: list[str] = []
        if not changes:
            return out
        failed: set[str] = set()
        for listener in list(self._listeners):
            try:
                lines = listener(changes)
            except FortiError as exc:
                if failures is not None:
                    failures.append(exc)
                    continue
                out.extend(line for line in exc.output() if line not in failed)
                failed.update(exc.lines)
                continue
            if lines:
                out.extend(line for line in lines if line not in failed)
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
    for spec in buf.spec.private_keys:
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


def reorder_table(table: dict[str, Any], key: str, where: str, other: str) -> bool:
    """Move ``key`` just before or after ``other`` in ``table`` (both in it), in place; False when the
    order stays as it was."""
    order = reorder(list(table), key, where, other)
    if order == list(table):
        return False
    items = [(k, table[k]) for k in order]
    table.clear()
    table.update(items)
    return True


def reorder(keys: list[str], key: str, where: str, other: str) -> list[str]:
    """``keys`` with ``key`` moved just before or after ``other`` (both in ``keys``)."""
    if key == other:
        return list(keys)
    rest = [k for k in keys if k != key]
    at = rest.index(other) + (1 if where == "after" else 0)
    return rest[:at] + [key] + rest[at:]


def _retargeted(entry: Entry, path: Path, old: str, new: str) -> dict[str, Any] | None:
    vals = None
    for spec in entry.spec.attrs:
        if path in spec.datasource and entry._values.get(spec.name, spec.default) == old:
            vals = dict(entry._values) if vals is None else vals
            vals[spec.name] = new
    return vals
