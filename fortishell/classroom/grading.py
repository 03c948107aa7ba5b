"""Grading a transcript against an exercise's expected transcript (text in, verdict out).

The comparison is :func:`fortishell.expect.grade`, the one grader of ``lab
check``, ``lab grade`` and ``python -m fortishell.expect``: by outcome (see
:mod:`fortishell.classroom.outcome`) or, with ``strict``, line by line; both
take a closing ``exit`` at the root prompt as the final prompt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..expect import Comparison, SetAsideLine, grade, without_final_exit
from .catalogue import CatalogueError, Exercise
from .outcome import starts_at_prompt

__all__ = ["Difference", "Grade", "comparison", "grade_file", "grade_text", "latest_per_user", "transcripts_in",
           "without_final_exit"]


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
    set_aside: tuple[SetAsideLine, ...] = field(default=())  # lines outcome grading left out

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def comparison(ex: Exercise, text: str, *, strict: bool = False) -> tuple[Comparison, list[SetAsideLine]]:
    if not ex.expected.is_file():
        raise CatalogueError(f"{ex.name} has no expected transcript yet ({ex.expected}); record it with "
                             f"tests/labs/labexercises.py --record {ex.name}")
    result, set_aside = grade(ex.expected.read_text(encoding="utf-8"), text, strict=strict)
    result.expected_name = str(ex.expected)
    return result, set_aside


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


def grade_text(ex: Exercise, text: str, name: str = "transcript", *, strict: bool = False) -> Grade:
    result, set_aside = comparison(ex, text, strict=strict)
    return Grade(ex.name, name, result.ok, first_difference(result), set_aside=tuple(set_aside))


def grade_file(ex: Exercise, path: Path, *, strict: bool = False) -> Grade:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return Grade(ex.name, str(path), False, None, f"cannot read: {exc.strerror or exc}")
    return grade_text(ex, text, str(path), strict=strict)


def transcripts_in(directory: Path, ex: Exercise | None = None, names: Sequence[str] = ()) -> tuple[list[Path], int]:
    """The transcripts below ``directory`` (subfolders too; hidden files and folders left out),
    sorted by path, and how many other files were passed over.  A transcript starts at a prompt
    (``FortiProxy # ...``): a run folder's ``fortishell.conf``, lab state or logs are not graded.
    With ``ex``, a transcript that ``lab start`` named for another of the exercises ``names``
    (``<user>-<exercise>-<date>-<time>.txt``) is passed over too (a state directory's run folders
    hold every exercise's)."""
    other = None
    if ex is not None:
        rest = sorted((re.escape(n) for n in names if n != ex.name), key=len, reverse=True)
        if rest:  # named for another exercise, and not for this one
            other = re.compile(rf"^(?!.*-{re.escape(ex.name)}-\d{{8}}-).+-(?:{'|'.join(rest)})-\d{{8}}-\d{{6}}\.txt$")
    found: list[Path] = []
    skipped = 0
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if starts_at_prompt(path) and not (other and other.match(path.name)):
            found.append(path)
        else:
            skipped += 1
    return found, skipped


_STAMP = re.compile(r"-(\d{8}-\d{6})\.txt$")


def latest_per_user(found: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """A room of ``fortishell serve`` keeps every session of a user in ``users/<user>/transcripts/``:
    of those, only the latest counts (by the time in its name, ``<user>-<what>-<YYYYmmdd-HHMMSS>.txt``,
    else by modification time).  Other transcripts all count.  Returns (graded, earlier ones), sorted."""
    groups: dict[Path, list[Path]] = {}
    kept: list[Path] = []
    for path in found:
        if path.parent.name == "transcripts" and path.parent.parent.parent.name == "users":
            groups.setdefault(path.parent, []).append(path)
        else:
            kept.append(path)
    earlier: list[Path] = []
    for paths in groups.values():
        paths.sort(key=_when)
        kept.append(paths[-1])
        earlier += paths[:-1]
    return sorted(kept), sorted(earlier)


def _when(path: Path) -> tuple[str, float, str]:
    m = _STAMP.search(path.name)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return (m.group(1) if m else "", mtime, path.name)
