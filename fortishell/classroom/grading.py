"""Grading a transcript against an exercise's expected transcript (text in, verdict out).

A recorded session (``fortishell lab start``) usually ends with the student
typing ``exit`` at the root prompt; the expected transcripts end with the bare
final prompt.  A final ``exit`` line is therefore taken as that prompt before
comparing: everything else must match as ``run --expect`` matches it
(see :mod:`fortishell.expect` for the wildcards).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..expect import Comparison, compare
from .catalogue import CatalogueError, Exercise

_FINAL_EXIT = re.compile(r"^(.* # )exit\s*$")


@dataclass(frozen=True)
class Difference:
    expected_line: int | None  # 1-based; None: the expected transcript had ended
    expected: str
    actual_line: int | None  # None: the transcript had ended
    actual: str

    def describe(self) -> str:
        exp = f"expected line {self.expected_line}: {self.expected!r}" if self.expected_line else "expected: (end)"
        act = f"got line {self.actual_line}: {self.actual!r}" if self.actual_line else "got: (end of transcript)"
        return f"{exp}; {act}"


@dataclass(frozen=True)
class Grade:
    exercise: str
    transcript: str
    passed: bool
    first_difference: Difference | None
    error: str | None = None  # the transcript could not be read

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def without_final_exit(text: str) -> str:
    lines = text.rstrip().split("\n")
    if lines:
        m = _FINAL_EXIT.match(lines[-1].rstrip("\r"))
        if m:
            lines[-1] = m.group(1)
    return "\n".join(lines)


def comparison(ex: Exercise, text: str) -> Comparison:
    if not ex.expected.is_file():
        raise CatalogueError(f"{ex.name} has no expected transcript yet ({ex.expected}); record it with "
                             f"tests/labs/labexercises.py --record {ex.name}")
    result = compare(ex.expected.read_text(encoding="utf-8"), without_final_exit(text))
    result.expected_name = str(ex.expected)
    return result


def first_difference(result: Comparison) -> Difference | None:
    i = result.first_difference
    if i is None:
        return None
    e = result.expected[i] if i < len(result.expected) else None
    a = result.actual[i] if i < len(result.actual) else None
    return Difference(
        e.first if e else None, e.original[0] if e else "",
        a.first if a else None, a.original[0] if a else "",
    )


def grade_text(ex: Exercise, text: str, name: str = "transcript") -> Grade:
    result = comparison(ex, text)
    return Grade(ex.name, name, result.ok, first_difference(result))


def grade_file(ex: Exercise, path: Path) -> Grade:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return Grade(ex.name, str(path), False, None, f"cannot read: {exc.strerror or exc}")
    return grade_text(ex, text, str(path))


def transcripts_in(directory: Path) -> list[Path]:
    """Every regular, non-hidden file of ``directory`` (not recursive), sorted by name."""
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
