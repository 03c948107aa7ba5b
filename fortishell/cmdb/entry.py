"""Entries and edit buffers: what one entry of the configuration is, and how it is edited.

``Entry`` is a committed entry (immutable: a commit replaces it); ``EditBuffer``
holds the changes of one ``edit`` (or one programmatic transaction) until the
database (:class:`fortishell.cmdb.model.Cmdb`) commits or drops it; ``Change``
describes one committed change for the commit listeners.  No I/O.
"""

from __future__ import annotations

import copy

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Union

from ..errors import AmbiguousCommand, CommitError, IncompleteCommand, ParseError
from .schema import PEM, AttrSpec, Path, TableSpec, resolve_word
from .types import MultiOptionType, ParseContext, entry_key, type_of

if TYPE_CHECKING:
    from .model import Cmdb


SubValue = Union["Entry", dict[str, "Entry"]]
_ABSENT = object()


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
        if not isinstance(other, Entry):
            return False
        if self._subs == other._subs and self.spec.path == other.spec.path and self.key == other.key:
            return self._same_values(other)  # O(differences): a commit asks this of every edit
        return self._cmp() == other._cmp()

    def _same_values(self, other: "Entry") -> bool:
        """``_cmp``'s verdict on the values alone, looking only at the attributes whose stored values
        differ: equal when none of them counts (volatile, or at its default, on each side)."""
        mine, theirs = self._values, other._values
        if mine == theirs:
            return True
        attr = self.spec.attr
        for k in mine.keys() | theirs.keys():
            a, b = mine.get(k, _ABSENT), theirs.get(k, _ABSENT)
            if a == b:
                continue
            spec = attr(k)
            if spec is None or not spec.volatile and any(v is not _ABSENT and v != spec.default for v in (a, b)):
                return False
        return True

    def __repr__(self) -> str:
        return f"Entry({'/'.join(self.spec.path)}, {self.key!r}, {self._values!r})"


@dataclass(frozen=True)
class Change:
    """One committed change; ``old``/``new`` is None for a creation/deletion."""

    path: Path
    key: str | None
    old: Entry | None
    new: Entry | None

    # the names of the attributes whose stored value differs between ``old`` and ``new`` (every
    # stored one for a creation or a deletion; nested tables are not looked at): a listener that
    # watches a few attributes skips a change that touched none of them, in O(change)
    touched: frozenset[str] = field(init=False, compare=False, repr=False)
    reordered: ClassVar[bool] = False  # a Moved change: the table's order changed, no attribute

    def __post_init__(self) -> None:
        old = self.old._values if self.old is not None else {}
        new = self.new._values if self.new is not None else {}
        touched = frozenset(k for k in old.keys() | new.keys() if old.get(k, _ABSENT) != new.get(k, _ABSENT))
        object.__setattr__(self, "touched", touched)  # frozen: set once, here


@dataclass(frozen=True)
class Moved(Change):
    """``move <key> before|after <other>``: the entry is unchanged (``old is new``), its place in
    the table is not.  No attribute is touched; the journal writes it as a ``move`` line."""

    reordered: ClassVar[bool] = True
    where: str = "before"  # "before" | "after"
    other: str = ""


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
        if is_new:  # what the device fills in on a new entry (a file's `set` lines then override it)
            for attr in spec.initials:
                self._values[attr.name] = copy.deepcopy(attr.initial)

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
        return [a for a in self.spec.attrs if self.may_set(a)]

    def may_set(self, a: AttrSpec) -> bool:
        """Whether ``a`` is among :meth:`settable` (one attribute, without listing them all)."""
        if a.name == self.spec.key or a.volatile and not self.trusted:
            return False
        return self.trusted or not (a.readonly or a.hidden or not self.visible(a))

    def resolve_attr(self, word: str) -> AttrSpec:
        """Exact name, else unique prefix among the settable attributes; else ParseError (-61)."""
        if self.trusted:
            spec = self.spec.attr(word)
            if spec is not None and spec.name != self.spec.key:
                return spec
        exact = self.spec.attr(word)
        if exact is not None:  # an exact name: settable now, or refused (read-only / absent)
            if self.may_set(exact):
                return exact
            raise ParseError(word)
        names = [a.name for a in self.settable()]
        name = resolve_word(word, names)
        if name is None:
            choices = [n for n in names if n.startswith(word)] if word else []
            if len(choices) > 1:  # names its choices, as an ambiguous keyword does
                raise AmbiguousCommand(word, choices)
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
            key = entry_key(sub, key, trusted=self.trusted)
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
