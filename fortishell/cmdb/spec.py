"""The frozen spec classes of the configuration schema: :class:`AttrSpec`, :class:`TableSpec`.

The declarations themselves (which tables and attributes exist) are data in
``schema.py``; the questions the shell asks about a table or an attribute are
methods here (``settable_attrs``, ``subtable_help``, ``option_pairs``,
``sensitive`` ...), so no caller probes a spec with ``getattr``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]

# Attribute type names understood by types.py.
STRING, PASSWORD, INTEGER, OPTION, MULTI_OPTION, IPV4, DATASOURCE, PEM, EPOCH = (
    "string", "password", "integer", "option", "multi-option", "ipv4", "datasource", "pem", "epoch",
)
IPV4_CLASSNET, IPV6_PREFIX = "ipv4-classnet", "ipv6-prefix"
VDOM_LIST = "vdom-list"  # names of the device's vdoms, several values (`set vdom "root" "vd1"`)

# How an attribute appears in ``get``.
GET_VALUE = "value"  # the value (defaults included)
GET_STAR = "star"  # always ``*`` (FortiOS masks passwords even when empty)
GET_STAR_IF_SET = "star-if-set"  # ``*`` when a value is stored, empty otherwise
GET_CERT = "cert"  # the certificate detail block (certdetails.py)


@dataclass(frozen=True)
class Option:
    value: str
    help: str = ""


@dataclass(frozen=True)
class AttrSpec:
    """One attribute of a table.

    ``when`` is a get/set visibility condition: a tuple of ``(attr, values)``
    pairs that must all hold (the attribute does not exist otherwise, as on
    FortiOS where dependent attributes appear only under their parent's
    value).  ``get_if`` narrows ``get`` further: ``"always"``, ``"nonempty"`` or
    ``"nondefault"``.
    """

    name: str
    type: str
    default: Any = ""
    help: str = ""
    readonly: bool = False  # never settable by a user (loaded from files, written by the engine)
    user: bool = False  # a "user" field (PEM); settable by a user only with a valid PEM
    secret: bool = False  # ``ENC <base64>`` in show and in the saved configuration
    hidden: bool = False  # never in ``get`` nor in ``?`` help; still in ``show`` / the config file
    volatile: bool = False  # run-time state: never in ``show`` / the config file, not compared
    get_format: str = GET_VALUE
    get_if: str = "always"
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    size: int | None = None
    range: tuple[int, int] | None = None
    options: tuple[Option, ...] = ()
    datasource: tuple[Path, ...] = ()
    pem_kind: str = ""  # "certificate" | "private-key" | "csr" for PEM fields
    required: bool = False
    # the value a new entry starts with, stored as set (so `show` lists it), where the device
    # fills an attribute in when the entry is made: `set vdom "root"` of a new API user
    initial: Any = None

    @property
    def multi(self) -> bool:
        """Several values (``append`` / ``select`` / ``unselect``; a list in the CMDB)."""
        return self.type in (MULTI_OPTION, VDOM_LIST)

    @property
    def sensitive(self) -> bool:
        """A value that must never be written in clear outside the CMDB: a password
        (``ENC`` in the configuration) or a private key.  The history keeps ``*``."""
        return self.secret or self.pem_kind == "private-key"

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)

    @property
    def option_pairs(self) -> list[tuple[str, str]]:
        """(value, help) of every option, in declaration order (``?`` help)."""
        return [(o.value, o.help) for o in self.options]

    def visible(self, values: Mapping[str, Any], defaults: Mapping[str, Any]) -> bool:
        """Whether the attribute exists given the entry's current ``values``."""
        for attr, allowed in self.when:
            current = values.get(attr, defaults.get(attr))
            if current not in allowed:
                return False
        return True


@dataclass(frozen=True)
class TableSpec:
    """A ``config`` path: a table of keyed entries or a single object.

    ``subtables`` are nested ``config <name>`` blocks inside an entry (path is
    then relative: one word).  ``summary`` lists the attributes of the one-line
    summary of a table-level ``get``.
    """

    path: Path
    kind: str  # "table" | "object"
    help: str
    attrs: tuple[AttrSpec, ...]
    key: str | None = None
    key_size: int = 35
    subtables: tuple["TableSpec", ...] = ()
    summary: tuple[str, ...] = ()
    _by_name: dict[str, AttrSpec] = field(default_factory=dict, compare=False, repr=False)
    _defaults: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _position: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    # the attributes a commit checks (required, or a datasource) and seals (private keys): a
    # commit looks at those, not at every attribute of the table
    checked: tuple[AttrSpec, ...] = field(default=(), init=False, compare=False, repr=False)
    private_keys: tuple[AttrSpec, ...] = field(default=(), init=False, compare=False, repr=False)
    # the attributes a new entry starts with set (``AttrSpec.initial``)
    initials: tuple[AttrSpec, ...] = field(default=(), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({a.name: a for a in self.attrs})
        self._defaults.update({a.name: a.default for a in self.attrs})
        self._position.update({a.name: i for i, a in enumerate(self.attrs)})
        object.__setattr__(self, "checked", tuple(a for a in self.attrs if a.required or a.datasource))
        object.__setattr__(self, "private_keys", tuple(a for a in self.attrs if a.pem_kind == "private-key"))
        object.__setattr__(self, "initials", tuple(a for a in self.attrs if a.initial is not None))

    @property
    def is_table(self) -> bool:
        return self.kind == "table"

    @property
    def is_object(self) -> bool:
        """A single object (``config system global``), not a table of keyed entries."""
        return self.kind == "object"

    @property
    def name(self) -> str:
        return self.path[-1]

    def settable_attrs(self) -> list[AttrSpec]:
        """Attributes a user may ``set`` regardless of conditions (not read-only, hidden or the key)."""
        return [a for a in self.attrs if a.name != self.key and not a.readonly and not a.hidden]

    def subtable_help(self) -> list[tuple[str, str]]:
        """(name, help) of the nested ``config <name>`` tables of an entry or object."""
        return [(s.name, s.help) for s in self.subtables]

    def attr(self, name: str) -> AttrSpec | None:
        return self._by_name.get(name)

    def in_order(self, names: Iterable[str]) -> list[AttrSpec]:
        """The attributes named in ``names`` (others ignored), in declaration order: O(names), for
        an entry that sets a few of many attributes (``show``, a REST body)."""
        position = self._position
        found = sorted(position[n] for n in names if n in position)
        return [self.attrs[i] for i in found]

    @property
    def defaults(self) -> Mapping[str, Any]:
        return self._defaults

    def subtable(self, name: str) -> "TableSpec | None":
        for sub in self.subtables:
            if sub.name == name:
                return sub
        return None


def resolve_word(word: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """Exact match, else the unique candidate ``word`` is a prefix of, else None.

    The CLI reference's rule: "abbreviate words in the command line to their
    smallest number of non-ambiguous characters"; applied to attribute names,
    option values and sub-table names too.
    """
    if word in candidates:
        return word
    found = [c for c in candidates if c.startswith(word)]
    return found[0] if len(found) == 1 and word else None
