"""``fortishell lab``: list, start, check and grade the exercises of the catalogue.

    fortishell lab list
    fortishell lab start NAME [--transcript FILE]
    fortishell lab check NAME [TRANSCRIPT]
    fortishell lab grade NAME DIR [--json]

Every run starts from a fresh scratch copy of the exercise's configuration at
the exercise's clock (the catalogue says which; nothing to copy by hand).
Scratch copies live in ``<state dir>/labs/`` (one directory per run: the
configuration, the lab responder's state, the transcript).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .. import options
from ..clock import Clock
from ..errors import FortiError
from . import catalogue as cat
from .grading import Grade, grade_file, grade_text, transcripts_in

if TYPE_CHECKING:
    from rich.console import Console

    from ..shell.device import Device


def _parser() -> argparse.ArgumentParser:
    p = options.Parser(
        prog="fortishell lab",
        description="The training-lab exercises: each starts from a fresh copy of its configuration at its clock.",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the exercises: name, title, starting configuration, what it teaches")
    start = sub.add_parser("start", help="the interactive shell on a fresh copy of the exercise, recorded")
    start.add_argument("name", metavar="NAME")
    start.add_argument("--transcript", metavar="FILE",
                       help="record the session here (default: transcript.txt in the run's scratch directory)")
    check = sub.add_parser("check", help="replay the exercise on a fresh copy (or grade TRANSCRIPT) and compare; exit 0 match, 1 differ")
    check.add_argument("name", metavar="NAME")
    check.add_argument("transcript", metavar="TRANSCRIPT", nargs="?",
                       help="a recorded transcript to grade instead of replaying ('-' = standard input)")
    check.add_argument("--show", action="store_true", help="print the replayed transcript too (default: only the verdict)")
    grade = sub.add_parser("grade", help="grade every transcript in DIR; exit 1 if any failed")
    grade.add_argument("name", metavar="NAME")
    grade.add_argument("dir", metavar="DIR", help="a directory of transcripts (every regular file, not hidden)")
    grade.add_argument("--json", action="store_true", help="print JSON (for a learning platform) instead of a table (default: a table)")
    return p


def lab_main(argv: list[str], *, state_dir: Path, lab_server: str | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        catalogue = cat.load()
        if args.action == "list":
            return _list(catalogue)
        ex = catalogue.get(args.name)
        if args.action == "start":
            return _start(ex, state_dir, lab_server, args.transcript)
        if args.action == "check":
            return _check(ex, state_dir, lab_server, args.transcript, args.show)
        return _grade(ex, Path(args.dir), as_json=args.json)
    except FortiError as err:
        print(f"fortishell lab: {err.lines[0]}", file=sys.stderr)
        return 2


def _console(file: IO[str] | None = None) -> "Console":
    from rich.console import Console

    return Console(file=file or sys.stdout, highlight=False, soft_wrap=False)


def _list(catalogue: cat.Catalogue) -> int:
    from rich.table import Table

    table = Table(title="fortishell exercises", title_justify="left")
    table.add_column("name", no_wrap=True)
    for column in ("title", "starts from", "teaches"):
        table.add_column(column, overflow="fold")
    for ex in catalogue.exercises:
        start = f"{ex.config} at {ex.clock}" + (" (keep-going)" if ex.keep_going else "")
        table.add_row(ex.name, ex.title, start, ex.teaches)
    _console().print(table)
    print("start one: fortishell lab start NAME; check it: fortishell lab check NAME")
    return 0


def _open_device(ex: cat.Exercise, work: Path, lab_server: str | None) -> "Device":
    from ..shell.device import Device

    return Device.open(work / "fortishell.conf", work, Clock(ex.when), lab_server)


def _start(ex: cat.Exercise, state_dir: Path, lab_server: str | None, transcript: str | None) -> int:
    from .record import RecordingRepl

    work = cat.scratch_copy(ex, state_dir / "labs")
    path = Path(transcript) if transcript else work / "transcript.txt"
    try:
        record = path.open("w", encoding="utf-8")
    except OSError as exc:
        print(f"fortishell lab: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"exercise {ex.name}: {ex.title}\n"
          f"  starts from a fresh copy of {ex.config} ({work / 'fortishell.conf'}), clock {ex.clock}\n"
          f"  the steps: {ex.script}\n"
          f"  transcript: {path}\n"
          f"  leave with 'exit'; then: fortishell lab check {ex.name} {path}", file=sys.stderr, flush=True)
    device = _open_device(ex, work, lab_server)
    try:
        with record:
            from prompt_toolkit.history import InMemoryHistory

            repl = RecordingRepl(device, history=InMemoryHistory(), record=record,
                                 paging=sys.stdin.isatty() and sys.stdout.isatty())
            if sys.stdout.isatty():
                from ..repl import first_line_off_the_corner

                first_line_off_the_corner(repl)
            device.start_background()
            rc = repl.run()
            if not repl.ended_by_exit:
                record.write(repl.session.prompt)  # the screen's last prompt, as `run` ends
    finally:
        device.close()
    print(f"transcript saved: {path}", file=sys.stderr)
    return rc


def _check(ex: cat.Exercise, state_dir: Path, lab_server: str | None, transcript: str | None, show: bool) -> int:
    if transcript is not None:
        if transcript == "-":
            grade = grade_text(ex, sys.stdin.read(), "-")
        else:
            grade = grade_file(ex, Path(transcript))
        return _verdict(ex, grade, transcript)
    from ..replay import run_scripts

    work = cat.scratch_copy(ex, state_dir / "labs", prefix="check-")
    device = _open_device(ex, work, lab_server)
    buf = io.StringIO()
    try:
        run_scripts([str(ex.script)], device, keep_going=ex.keep_going, out=buf)
    finally:
        device.close()
    if show:
        sys.stdout.write(buf.getvalue() + "\n")
    return _verdict(ex, grade_text(ex, buf.getvalue(), "replay"), "the replay", diff_of=buf.getvalue())


def _verdict(ex: cat.Exercise, grade: Grade, what: str, diff_of: str | None = None) -> int:
    if grade.error:
        print(f"fortishell lab: {what}: {grade.error}", file=sys.stderr)
        return 2
    if grade.passed:
        print(f"{ex.name}: PASS ({what} matches {ex.expected.name})")
        return 0
    from ..expect import check

    if diff_of is None and what != "-":
        diff_of = Path(what).read_text(encoding="utf-8", errors="replace")
    if diff_of is not None:
        from .grading import without_final_exit

        check(str(ex.expected), without_final_exit(diff_of), out=sys.stdout, actual_name=what)
    assert grade.first_difference is not None
    print(f"{ex.name}: FAIL ({what}; {grade.first_difference.describe()})")
    return 1


def _grade(ex: cat.Exercise, directory: Path, *, as_json: bool) -> int:
    if not directory.is_dir():
        print(f"fortishell lab: {directory} is not a directory", file=sys.stderr)
        return 2
    grades = [grade_file(ex, p) for p in transcripts_in(directory)]
    failed = sum(not g.passed for g in grades)
    if as_json:
        json.dump({"exercise": ex.name, "expected": str(ex.expected), "passed": len(grades) - failed,
                   "failed": failed, "transcripts": [g.as_json() for g in grades]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from rich.table import Table

        table = Table(title=f"{ex.name}: {len(grades) - failed} of {len(grades)} passed", title_justify="left")
        table.add_column("transcript", overflow="fold")
        table.add_column("result")
        table.add_column("first difference", overflow="fold")
        for g in grades:
            why = g.error or (g.first_difference.describe() if g.first_difference else "")
            table.add_row(Path(g.transcript).name, "PASS" if g.passed else "FAIL", why,
                          style=None if g.passed else "red")
        _console().print(table)
    if not grades:
        print(f"fortishell lab: no transcripts in {directory}", file=sys.stderr)
        return 1
    return 1 if failed else 0
