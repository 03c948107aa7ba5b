"""Query parameters of CMDB reads: ``filter``, ``format``, ``start`` / ``count``.

``filter`` takes ``<field><op><value>`` with the documented operators ``==``
``!=`` ``=@`` (contains) ``!@`` (does not contain) ``<`` ``<=`` ``>`` ``>=``;
inside one ``filter`` a comma joins alternatives (OR), repeated ``filter``
parameters must all hold (AND).  ``==`` ``!=`` ``=@`` ``!@`` ignore case (the FortiOS 7.6.5
API descriptions: "case insensitive match with pattern"; the fortigate-api client's
documentation says the same).  Values compare as the JSON shows them (numbers
as numbers when both sides are numbers).  An entry without the field does not
match.  ``format=a|b`` keeps those fields (and the key with ``q_origin_key``).

``key=<field>&pattern=<value>`` (the 7.6 descriptions: "objects will be filtered on property
with this name / with this value") is taken as one more ``filter=<field>==<value>``: the whole
value, compared as ``==`` compares (our choice; the device's matching is not published), and
only when both are given.  ``unfiltered_count=N`` ("maximum number of unfiltered entries to
iterate through") looks at the table's first N entries only, before any filter; ``size`` stays
the table's.  Not taken (no published answer to copy): ``primary_keys`` (the input of
``action=find-index``), ``with_contents_hash`` (the field's name and checksum are unpublished).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .envelope import RestError

_CLAUSE = re.compile(r"^([A-Za-z0-9_.\-]+)(==|!=|=@|!@|<=|>=|<|>)(.*)$", re.S)


def _num(text: Any) -> float | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text)
    try:
        return float(str(text))
    except ValueError:
        return None


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: bool(a < b), "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b), ">=": lambda a, b: bool(a >= b),
}


_MATCHING: dict[str, Callable[[str, str], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
    "=@": lambda a, b: b in a, "!@": lambda a, b: b not in a,
}


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str

    def matches(self, row: dict[str, Any]) -> bool:
        if self.field not in row:
            return False
        have = row[self.field]
        text = have if isinstance(have, str) else str(have)
        if self.op in _MATCHING:  # case-insensitive, as the 7.6.5 descriptions say of all four
            return _MATCHING[self.op](text.casefold(), self.value.casefold())
        a, b = _num(have), _num(self.value)
        if a is not None and b is not None:
            return _ORDER[self.op](a, b)
        return _ORDER[self.op](text, self.value)


def parse_filters(values: Sequence[str]) -> list[list[Clause]]:
    """Each ``filter`` parameter: its comma-separated alternatives.  400 on a malformed clause."""
    out: list[list[Clause]] = []
    for value in values:
        alternatives = []
        for part in value.split(","):
            m = _CLAUSE.match(part)
            if m is None:
                raise RestError(400, -1)
            alternatives.append(Clause(m.group(1), m.group(2), m.group(3)))
        out.append(alternatives)
    return out


def keep(row: dict[str, Any], filters: list[list[Clause]]) -> bool:
    return all(any(c.matches(row) for c in alternatives) for alternatives in filters)


def formatted(row: dict[str, Any], fields: list[str] | None, key: str | None) -> dict[str, Any]:
    if not fields:
        return row
    wanted = set(fields)
    if key is not None:
        wanted |= {key, "q_origin_key"}
    return {k: v for k, v in row.items() if k in wanted}


def int_param(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None or text == "":
        return None
    if not str(text).isdigit():
        raise RestError(400, -1)
    return int(text)
