"""Typed command nodes: what the grammar makes of a command line.

Two layers:

* :class:`Line` -- the lexical/syntactic result of ``cli.parser``: the command's
  words (quotes removed, escapes applied, each remembering whether it was
  quoted and where it started) and its ``| grep`` filters.
* :class:`Command` subclasses -- built from a Line by ``cli.build.build_command``
  for the verbs a mode offers, with the verb's unique-prefix abbreviation
  resolved.  Table paths, attribute names and option values are *not*
  resolved here (that needs the schema): they stay as the user typed them.

All nodes are frozen dataclasses; handlers never re-split strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


class _Node:
    """The ``repr`` of every node, written once: ``Set(attr=Word(...), values=(...))``, as
    dataclasses writes it (fields with ``repr=False`` left out).  The classes below are declared
    ``repr=False``: a generated ``__repr__`` per class costs the import a third of its time, and
    every start imports this module (issue 22)."""

    __slots__ = ()

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)  # type: ignore[arg-type]
        return f"{type(self).__qualname__}({shown})"


@dataclass(frozen=True, repr=False)
class Word(_Node):
    text: str  # value after quote removal and escape processing
    quoted: bool = False  # written in '...' or "..."
    col: int = 0  # 0-based column of the word's first character in the source line

    def __str__(self) -> str:  # convenience for messages
        return self.text


@dataclass(frozen=True, repr=False)
class Grep(_Node):
    """One ``| grep [-invfcABC] PATTERN`` stage."""

    pattern: str
    ignore_case: bool = False  # -i
    line_numbers: bool = False  # -n
    invert: bool = False  # -v
    fortinet_context: bool = False  # -f
    count: bool = False  # -c
    after: int = 0  # -A NUM
    before: int = 0  # -B NUM
    context: int = 0  # -C NUM
    usage: bool = False  # -h or a malformed option: print the usage text


@dataclass(frozen=True, repr=False)
class Line(_Node):
    """One logical command line (continuations joined, quotes possibly spanning lines)."""

    words: tuple[Word, ...]
    filters: tuple[Grep, ...] = ()
    text: str = ""  # the source text exactly as typed (for transcripts and history)
    lineno: int = 1  # 1-based line number in a script where the line starts

    @property
    def is_empty(self) -> bool:
        return not self.words


# ------------------------------------------------------------------ commands
@dataclass(frozen=True, repr=False)
class Command(_Node):
    line: Line = field(compare=False, repr=False, kw_only=True, default=Line(()))


@dataclass(frozen=True, repr=False)
class Config(Command):
    path: tuple[Word, ...]  # e.g. (vpn, certificate, local) or (cert,) unresolved


@dataclass(frozen=True, repr=False)
class Edit(Command):
    key: Word


@dataclass(frozen=True, repr=False)
class Delete(Command):
    key: Word


@dataclass(frozen=True, repr=False)
class Purge(Command):
    pass


@dataclass(frozen=True, repr=False)
class Rename(Command):
    old: Word
    new: Word


@dataclass(frozen=True, repr=False)
class Clone(Command):
    old: Word
    new: Word


@dataclass(frozen=True, repr=False)
class Move(Command):
    key: Word
    where: str  # "before" | "after"
    other: Word


@dataclass(frozen=True, repr=False)
class Set(Command):
    attr: Word
    values: tuple[Word, ...]


@dataclass(frozen=True, repr=False)
class Unset(Command):
    attr: Word


@dataclass(frozen=True, repr=False)
class Append(Command):
    attr: Word
    values: tuple[Word, ...]


@dataclass(frozen=True, repr=False)
class Select(Command):
    attr: Word
    values: tuple[Word, ...]


@dataclass(frozen=True, repr=False)
class Unselect(Command):
    attr: Word
    values: tuple[Word, ...]


@dataclass(frozen=True, repr=False)
class Get(Command):
    path: tuple[Word, ...] = ()  # words after `get` (table path / entry / attribute)


@dataclass(frozen=True, repr=False)
class Show(Command):
    path: tuple[Word, ...] = ()
    full: bool = False  # `show full-configuration ...`


@dataclass(frozen=True, repr=False)
class Next(Command):
    pass


@dataclass(frozen=True, repr=False)
class End(Command):
    pass


@dataclass(frozen=True, repr=False)
class Abort(Command):
    pass


@dataclass(frozen=True, repr=False)
class Exit(Command):
    pass


@dataclass(frozen=True, repr=False)
class Execute(Command):
    args: tuple[Word, ...]  # words after `execute`, unresolved


@dataclass(frozen=True, repr=False)
class Diagnose(Command):
    args: tuple[Word, ...]  # words after `diagnose`, unresolved


@dataclass(frozen=True, repr=False)
class Empty(Command):
    """A blank or comment-only line."""


# Verb name -> command class, and the verbs each mode offers (FortiOS order for `?`).
VERB_HELP: dict[str, str] = {
    "config": "Configure object.",
    "get": "Get dynamic and system information.",
    "show": "Show configuration.",
    "diagnose": "Diagnose facility.",
    "execute": "Execute static commands.",
    "exit": "Exit the CLI.",
    "edit": "Add/edit a table value.",
    "delete": "Delete a table value.",
    "purge": "Purge all the table entries.",
    "rename": "Rename a table value.",
    "clone": "Clone an object instance.",
    "move": "Move an object instance.",
    "set": "Modify value.",
    "unset": "Set to default value.",
    "append": "Append values to a list.",
    "select": "Select values in a list.",
    "unselect": "Remove values from a list.",
    "next": "Configure next table entry.",
    "end": "End and save last config.",
    "abort": "End and discard last config.",
}

ROOT_VERBS: tuple[str, ...] = ("config", "get", "show", "diagnose", "execute", "exit")
TABLE_VERBS: tuple[str, ...] = ("edit", "delete", "purge", "rename", "clone", "move", "get", "show", "end", "abort")
ENTRY_VERBS: tuple[str, ...] = ("set", "unset", "append", "select", "unselect", "config", "get", "show", "next", "abort", "end")
OBJECT_VERBS: tuple[str, ...] = ("set", "unset", "append", "select", "unselect", "config", "get", "show", "end", "abort")


# ------------------------------------------------------------ parser results
@dataclass(frozen=True, repr=False)
class BadLine(Line):
    """A script line that does not lex or parse (a stray ``(``, an unmatched quote,
    ``|`` not followed by ``grep`` ...).  ``parse_script`` keeps it in place so that
    the lines around it still run; ``build_command`` raises ``error`` for it."""

    error: Exception | None = field(default=None, compare=False)


@dataclass(frozen=True, repr=False)
class Partial(_Node):
    """An unfinished line as seen by ``?`` help and Tab completion (``split_partial``).

    ``words`` are the complete words of the segment being typed (the command, or
    the current ``| grep`` filter including the word ``grep``); ``current`` is the
    word under the cursor ("" right after a blank); ``in_quote`` tells that
    ``current`` is inside an open quote; ``in_grep`` that the cursor is after a
    ``|``; ``command`` holds the command's words (before the first ``|``).
    """

    words: tuple[Word, ...]
    current: str = ""
    in_quote: bool = False
    in_grep: bool = False
    command: tuple[Word, ...] = ()
