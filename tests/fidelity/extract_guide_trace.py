#!/usr/bin/env python3
"""Extract the bracketed debug lines of the vendor guide into guide_trace_lines.txt.

    python3 tests/fidelity/extract_guide_trace.py ../shared/reference/fortiproxy-est-admin-guide.txt

Only the trace lines are kept (as test data), grouped by the guide's example:
``failure`` (the untrusted-CA lines of Example 1 step 3), ``example1``, ``example2``,
``example3``.  Surrounding whitespace is stripped; nothing else of the guide is kept.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "guide_trace_lines.txt"
BRACKETED = re.compile(r"^\s*(\[\d+\] [A-Za-z_0-9]+: .*?)\s*$")


def extract(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {"failure": [], "example1": [], "example2": [], "example3": []}
    current = None
    for raw in text.splitlines():
        if raw.startswith("Example 1:"):
            current = "example1"
        elif raw.startswith("Example 2:"):
            current = "example2"
        elif raw.startswith("Example 3:"):
            current = "example3"
        m = BRACKETED.match(raw)
        if m and current:
            line = m.group(1)
            section = "failure" if current == "example1" and ("Error buf" in line or "Failed to get ca certs" in line) else current
            sections[section].append(line)
    return sections


def render(sections: dict[str, list[str]]) -> str:
    out = []
    for name, lines in sections.items():
        out.append(f"## {name}")
        out.extend(lines)
    return "\n".join(out) + "\n"


def load_fixture(path: Path = FIXTURE) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            current = line[3:]
            sections[current] = []
        elif current and line:
            sections[current].append(line)
    return sections


if __name__ == "__main__":
    guide = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[1].parent / "shared/reference/fortiproxy-est-admin-guide.txt"
    FIXTURE.write_text(render(extract(guide.read_text())))
    print(f"wrote {FIXTURE}")
