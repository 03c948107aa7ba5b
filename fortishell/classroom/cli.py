"""``fortishell lab``: list, start, check and grade the exercises of the catalogue.

    fortishell lab list
    fortishell lab start NAME [--transcript FILE]
    fortishell lab check NAME [TRANSCRIPT] [--strict]
    fortishell lab grade NAME DIR [--json] [--strict]

Every run starts from a fresh scratch copy of the exercise's configuration at
the exercise's clock (the catalogue says which; nothing to copy by hand).
Scratch copies live in ``<state dir>/labs/`` (one directory per run: the
configuration, the lab responder's state, the transcript
``<user>-<exercise>-<date>-<time>.txt``).  ``lab start`` prints the check
command in the form that runs in the user's shell (:mod:`.runner`).

Grading (``check`` with a transcript, ``grade``) is by outcome unless
``--strict`` (:func:`fortishell.expect.grade`, the grader of ``python -m
fortishell.expect`` too).  ``grade DIR`` takes every transcript below DIR
(subfolders too; a transcript is a file that starts at a prompt, so a run
folder's ``fortishell.conf`` or lab state is not one); in a room of ``fortishell serve``
(``users/USER/transcripts/``) each user's latest transcript only.
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
from .grading import Grade, grade_file, grade_text, latest_per_user, transcripts_in
from .runner import command_words, command_words_anywhere, outside_argv, replay, shell_line, transcript_name

if TYPE_CHECKING:
    from rich.console import Console

    from ..shell.device import Device


_NAME_HELP = "the exercise, as fortishell lab list names it (e.g. example1-enroll)"


def _parser() -> argparse.ArgumentParser:
    p = options.Parser(
        prog="fortishell lab",
        description="The training-lab exercises: each starts from a fresh copy of its configuration at its clock.",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the exercises: name, title, starting configuration, what it teaches")
    start = sub.add_parser("start", help="the interactive shell on a fresh copy of the exercise, recorded")
    start.add_argument("name", metavar="NAME", help=_NAME_HELP)
    start.add_argument("--transcript", metavar="FILE",
                       help="record the session here (default: <user>-<exercise>-<date>-<time>.txt in the run's "
                            "scratch directory)")
    check = sub.add_parser("check", help="replay the exercise on a fresh copy (or grade TRANSCRIPT) and compare; exit 0 match, 1 differ")
    check.add_argument("name", metavar="NAME", help=_NAME_HELP)
    check.add_argument("transcript", metavar="TRANSCRIPT", nargs="?",
                       help="a recorded transcript to grade instead of replaying ('-' = standard input)")
    check.add_argument("--show", action="store_true", help="print the replayed transcript too (default: only the verdict)")
    check.add_argument("--strict", action="store_true",
                       help="compare line by line as typed (default: by outcome: abbreviations spelt out, "
                            "? listings and refused-then-retyped commands set aside)")
    grade = sub.add_parser("grade", help="grade every transcript in DIR; exit 1 if any failed")
    grade.add_argument("name", metavar="NAME", help=_NAME_HELP)
    grade.add_argument("dir", metavar="DIR",
                       help="a directory of transcripts (every file below it that starts at a prompt; not hidden ones), "
                            "or a serve room (STATE/rooms/NAME: each user's latest transcript)")
    grade.add_argument("--strict", action="store_true", help="compare line by line as typed (default: by outcome)")
    grade.add_argument("--json", action="store_true", help="print JSON (for a learning platform) instead of a table (default: a table)")
    return p


def lab_main(argv: list[str], *, state_dir: Path, lab_server: str | None = None,
             acme_http_port: int | None = None) -> int:
    """``acme_http_port``: the global ``--acme-http-port``, given to the exercise's device (start, check)."""
    args = _parser().parse_args(argv)
    try:
        catalogue = cat.load()
        if args.action == "list":
            return _list(catalogue)
        ex = catalogue.get(args.name)
        if args.action == "start":
            return _start(ex, state_dir, lab_server, args.transcript, acme_http_port)
        if args.action == "check":
            return _check(ex, state_dir, lab_server, args.transcript, args.show, args.strict, acme_http_port)
        return _grade(ex, Path(args.dir), as_json=args.json, strict=args.strict, names=catalogue.names)
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
        if ex.multi_part:
            start += " (a step outside the device)"
        table.add_row(ex.name, ex.title, start, ex.teaches)
    _console().print(table)
    lab = shell_line(command_words()) + " lab"
    print(f"start one: {lab} start NAME; check it: {lab} check NAME")
    return 0


def _open_device(ex: cat.Exercise, work: Path, lab_server: str | None, acme_http_port: int | None = None) -> "Device":
    from ..shell.device import Device

    device = Device.open(work / "fortishell.conf", work, Clock(ex.when), lab_server)
    device.acme_http_port = acme_http_port  # --acme-http-port, as the shell's device takes it
    return device


def _start(ex: cat.Exercise, state_dir: Path, lab_server: str | None, transcript: str | None,
           acme_http_port: int | None = None) -> int:
    from .record import RecordingRepl

    work = cat.scratch_copy(ex, state_dir / "labs")
    path = Path(transcript) if transcript else work / transcript_name(ex)
    try:
        record = path.open("w", encoding="utf-8")
    except OSError as exc:
        print(f"fortishell lab: {transcript or path}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 2
    check = shell_line([*command_words(), "lab", "check", ex.name, str(path.resolve())])
    print(f"exercise {ex.name}: {ex.title}\n"
          f"  starts from a fresh copy of {ex.config} ({work / 'fortishell.conf'}), clock {ex.clock}\n"
          + "".join(_step_lines(ex, work)) +
          f"  transcript: {path}\n"
          f"  leave with 'exit'; then: {check}", file=sys.stderr, flush=True)
    device = _open_device(ex, work, lab_server, acme_http_port)
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
    print(f"transcript saved: {path}\ncheck it: {check}", file=sys.stderr)
    return rc


def _step_lines(ex: cat.Exercise, work: Path) -> list[str]:
    """The steps of the exercise; a step outside the device as the command to type elsewhere."""
    if not ex.multi_part:
        return [f"  the steps: {ex.script}\n"]
    out = ["  the steps:\n"]
    for n, step in enumerate(ex.parts, 1):
        if isinstance(step, cat.Outside):
            words = [*command_words_anywhere(), *outside_argv(step, ex, work)]
            out.append(f"    {n}. outside the device, in another terminal: {shell_line(words)}\n")
        else:
            out.append(f"    {n}. in the shell: {ex.directory / (step.stem + '.cli')}\n")
    return out


def _check(ex: cat.Exercise, state_dir: Path, lab_server: str | None, transcript: str | None, show: bool,
           strict: bool, acme_http_port: int | None = None) -> int:
    if transcript is not None:
        if transcript == "-":
            text = sys.stdin.read()
            return _verdict(ex, grade_text(ex, text, "-", strict=strict), "-", text, strict)
        grade = grade_file(ex, Path(transcript), strict=strict)
        text = None if grade.error else Path(transcript).read_text(encoding="utf-8", errors="replace")
        return _verdict(ex, grade, transcript, text, strict)
    work = cat.scratch_copy(ex, state_dir / "labs", prefix="check-")
    if lab_server is not None and ex.multi_part:
        print(f"fortishell lab: note: the steps outside the device act on this run's lab state ({work}), "
              "not on the lab server's", file=sys.stderr)
    device = _open_device(ex, work, lab_server, acme_http_port)
    try:
        text, outside = replay(ex, device, work)
    finally:
        device.close()
    for done in outside:
        print(f"outside the device: fortishell {shell_line(list(done.argv))}", file=sys.stderr)
        for line in done.output.splitlines():
            print(f"  {line}", file=sys.stderr)
        if done.rc != 0:
            print(f"fortishell lab: the step outside the device failed (exit {done.rc})", file=sys.stderr)
            return 2
    if show:
        sys.stdout.write(text + "\n")
    return _verdict(ex, grade_text(ex, text, "replay", strict=strict), "the replay", text, strict)


def _verdict(ex: cat.Exercise, grade: Grade, what: str, text: str | None, strict: bool) -> int:
    if grade.error:
        print(f"fortishell lab: {what}: {grade.error}", file=sys.stderr)
        return 2
    for aside in grade.set_aside:
        print(f"{ex.name}: set aside line {aside.line} ({aside.why}): {aside.text.strip()}")
    if grade.passed:
        print(f"{ex.name}: PASS ({what} matches {ex.expected.name})")
        return 0
    if text is not None:
        from ..expect import grade as grade_texts

        result, _ = grade_texts(ex.expected.read_text(encoding="utf-8"), text, strict=strict)
        result.expected_name, result.actual_name = str(ex.expected), what
        for line in result.diff_lines(color=sys.stdout.isatty()):
            print(line)
    assert grade.first_difference is not None
    print(f"{ex.name}: FAIL ({what}; {grade.first_difference.describe()})")
    return 1


def _grade(ex: cat.Exercise, directory: Path, *, as_json: bool, strict: bool, names: list[str]) -> int:
    if not directory.is_dir():
        print(f"fortishell lab: {directory} is not a directory", file=sys.stderr)
        return 2
    found, skipped = transcripts_in(directory, ex, names)
    found, earlier = latest_per_user(found)
    grades = [grade_file(ex, p, strict=strict) for p in found]
    failed = sum(not g.passed for g in grades)
    if as_json:
        json.dump({"exercise": ex.name, "expected": str(ex.expected), "passed": len(grades) - failed,
                   "failed": failed, "transcripts": [g.as_json() for g in grades],
                   "earlier": [str(p) for p in earlier]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from rich.table import Table

        table = Table(title=f"{ex.name}: {len(grades) - failed} of {len(grades)} passed", title_justify="left")
        table.add_column("transcript", overflow="fold")
        table.add_column("result")
        table.add_column("first difference", overflow="fold")
        table.add_column("set aside", overflow="fold")
        for g in grades:
            why = g.error or (g.first_difference.describe() if g.first_difference else "")
            aside = ", ".join(f"line {a.line} ({a.why})" for a in g.set_aside)
            table.add_row(str(Path(g.transcript).relative_to(directory)), "PASS" if g.passed else "FAIL", why, aside,
                          style=None if g.passed else "red")
        _console().print(table)
    if earlier:
        print(f"fortishell lab: {len(earlier)} earlier transcript(s) in users/USER/transcripts not graded "
              "(each user's latest session counts)", file=sys.stderr)
    if skipped:
        print(f"fortishell lab: {skipped} other file(s) under {directory} skipped (not transcripts of {ex.name})",
              file=sys.stderr)
    if not grades:
        print(f"fortishell lab: no transcripts in {directory}", file=sys.stderr)
        return 1
    return 1 if failed else 0
