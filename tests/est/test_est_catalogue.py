"""The trace catalogue against the guide and the user documentation."""

from __future__ import annotations

import re
from pathlib import Path

from fortishell.est import catalogue as C
from fortishell.trace import TracePoint

ROOT = Path(__file__).resolve().parents[2]
GUIDE_LINES = ROOT / "tests" / "fidelity" / "guide_trace_lines.txt"
ARCHITECTURE = ROOT / "fortishell" / "ARCHITECTURE.md"


def _points() -> list[TracePoint]:
    return [v for v in vars(C).values() if isinstance(v, TracePoint)]


def _guide_points() -> set[tuple[int, str]]:
    found = set()
    for line in GUIDE_LINES.read_text().splitlines():
        m = re.match(r"^\[(\d+)\] (\w+): ", line)
        if m:
            found.add((int(m[1]), m[2]))
    return found


def test_points_not_in_the_guide_are_exactly_the_marked_ones():
    guide = _guide_points()
    for point in C.NOT_IN_GUIDE:
        assert (point.line, point.func) not in guide, point
    # every other point is one the guide shows
    missing = [p for p in _points() if p not in C.NOT_IN_GUIDE and (p.line, p.func) not in guide]
    assert missing == []


def test_every_point_not_in_the_guide_is_documented_for_users():
    doc = ARCHITECTURE.read_text()
    section = doc[doc.index("### Trace points that are not in the guide"):]
    rows = set(re.findall(r"^\| ([\d /]+) \| `(\w+)` \|", section, re.M))
    documented = {(int(n), func) for numbers, func in rows for n in numbers.split(" / ")}
    assert {(p.line, p.func) for p in C.NOT_IN_GUIDE} <= documented
