"""The history form of a command line: what the history file may keep.

One rule for every secret, taken from the declarations: the value of ``set
<attr>`` when ``<attr>`` names (or abbreviates) an attribute the schema marks
sensitive (:attr:`AttrSpec.sensitive`), and the argument positions an
``execute`` command declares as ``secret_args`` in its keyword tree, are
replaced by ``*``.  The mode a line was typed in is not known to a history
shared by several sessions, so an attribute word is checked against every
table.  A line that does not parse is kept only when the same rule finds
nothing to mask in its blank-separated words.
"""

from __future__ import annotations

from ..cli.ast import Word
from ..cli.quoting import quote_if_needed
from ..cmdb.schema import SCHEMA
from ..errors import FortiError


def history_form(text: str) -> str:
    """``text`` with its secret values replaced by ``*``; ``""`` when it must not be kept."""
    from ..cli import parser  # here: the REPL's first prompt imports no parser (issue 22)

    try:
        line = parser.parse_line(text)
    except FortiError:
        return "" if _masked(text.split()) is not None else text
    masked = _masked([w.text for w in line.words])
    if masked is None:
        return text
    return " ".join(quote_if_needed(w) if w != "*" else w for w in masked)


def _masked(words: list[str]) -> list[str] | None:
    """``words`` with the secret ones masked, or None when none is secret."""
    if not words or len(words[0]) < 2:
        return None
    verb = words[0]
    if "set".startswith(verb) and len(words) >= 3 and SCHEMA.names_sensitive_attr(words[1]):
        return [verb, words[1], "*"]
    if "execute".startswith(verb) and len(words) > 1:
        return _masked_execute(words)
    return None


def _masked_execute(words: list[str]) -> list[str] | None:
    from .commands import execute as execute_cmds
    from .commands import tree

    try:
        leaf, rest = tree.walk(execute_cmds.TREE, [Word(w.lower()) for w in words[1:]])
    except FortiError:
        return None
    first = len(words) - len(rest)  # index of the first argument word
    out = list(words)
    hit = False
    for pos in leaf.secret_args:
        i = first + pos - 1
        if i < len(out) and out[i]:
            out[i] = "*"
            hit = True
    return out if hit else None


