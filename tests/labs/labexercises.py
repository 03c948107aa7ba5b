"""The training-lab exercises of ``sample-configs/`` (its ``exercises.toml`` catalogue), and how
to run them in the long form (``--config COPY --clock WHEN run ... --expect``).

Each exercise is a script, its expected transcript, the configuration it starts
from (always a fresh copy: the shell saves every change to its ``--config``
file), its clock and the ``run`` options it needs.  The tests run them through the
installed ``fortishell`` binary, exactly as ``sample-configs/README.md`` tells
a trainer to.

    .venv/bin/python tests/labs/labexercises.py --record [NAME...]

re-records the expected transcripts from the current code (review the diff!).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample-configs"
GUIDE_CLOCK = "2023-04-06 22:37:34"


@dataclass(frozen=True)
class Exercise:
    name: str  # script stem in sample-configs/
    config: str  # configuration file in sample-configs/ the exercise starts from
    run_options: tuple[str, ...] = ()
    section: str = ""  # guide section in tests/fidelity/guide_trace_lines.txt
    expect_rc: int = 0  # exit code of a plain run (without --expect)
    clock: str = GUIDE_CLOCK

    @property
    def script(self) -> Path:
        return SAMPLES / f"{self.name}.cli"

    @property
    def expected(self) -> Path:
        return SAMPLES / f"{self.name}.expected"


# The guide sections the fidelity test matches each exercise against (tests/fidelity).
SECTIONS = {
    "example1-enroll": "example1",
    "example2-renew": "example2",
    "example3-regenerate": "example3",
    "exercise-untrusted-ca": "failure",
}


def _from_catalogue() -> tuple[Exercise, ...]:
    """Every one-script exercise of sample-configs/exercises.toml (the catalogue of ``fortishell
    lab``); the multi-part ones are in :data:`MULTI_PART` (tests/labs/certexercises.py runs their
    parts in the long form).

    An exercise replayed with keep-going fails on purpose: its plain run exits 1."""
    from fortishell.classroom import catalogue

    return tuple(
        Exercise(e.name, e.config, ("--keep-going",) if e.keep_going else (), SECTIONS.get(e.name, ""),
                 1 if e.keep_going else 0, e.clock)
        for e in catalogue.load(SAMPLES).exercises if not e.multi_part
    )


EXERCISES: tuple[Exercise, ...] = _from_catalogue()
BY_NAME = {e.name: e for e in EXERCISES}
MULTI_PART: tuple[str, ...] = tuple(e.name for e in __import__("fortishell.classroom.catalogue", fromlist=["load"])
                                    .load(SAMPLES).exercises if e.multi_part)


def fortishell_binary() -> Path:
    """The installed console script next to the running interpreter."""
    return Path(sys.executable).parent / "fortishell"


def command(ex: Exercise, config: Path, *, expect: Path | None = None, script: Path | None = None) -> list[str]:
    argv = [str(fortishell_binary()), "--config", str(config), "--clock", ex.clock, "run", *ex.run_options]
    if expect is not None:
        argv += ["--expect", str(expect)]
    return argv + [str(script or ex.script)]


def run_exercise(
    ex: Exercise, workdir: Path, *, expect: Path | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``ex`` on a fresh copy of its configuration with its own state directory."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"{ex.name}.conf"
    shutil.copyfile(SAMPLES / ex.config, config)
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(workdir / "state"), NO_COLOR="1")
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        command(ex, config, expect=expect),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class Replay:
    """A plain long-form run (:func:`run_exercise`) and its folder: the configuration copy
    ``workdir/<name>.conf``, the lab state ``workdir/state`` (tests/labs/conftest.py keeps one
    per exercise for the tests that share it)."""

    proc: subprocess.CompletedProcess[str]
    workdir: Path


def _record_multi_part(name: str) -> None:
    """A multi-part exercise's expected transcript: the replay ``lab check`` runs (every part and
    the steps outside the device, on one fresh copy)."""
    import re
    import tempfile

    from fortishell.classroom import catalogue
    from fortishell.classroom.runner import replay
    from fortishell.shell.device import Device
    from fortishell.clock import Clock

    ex = catalogue.load(SAMPLES).get(name)
    with tempfile.TemporaryDirectory() as tmp:
        work = catalogue.scratch_copy(ex, Path(tmp))
        device = Device.open(work / "fortishell.conf", work, Clock(ex.when))
        try:
            text, outside = replay(ex, device, work)
        finally:
            device.close()
    assert all(o.rc == 0 for o in outside), outside
    # the serial on `get ... details` depends on what the lab CA issued before (a shared lab state)
    ex.expected.write_text(re.sub(r"(?m)^Serial Num:  \S+$", "Serial Num:  <*>", text), encoding="utf-8")
    print(f"recorded {ex.expected.relative_to(ROOT)}")


def _record(names: list[str]) -> int:
    import tempfile

    for name in [n for n in names if n in MULTI_PART] or ([] if names else list(MULTI_PART)):
        _record_multi_part(name)
    for name in [n for n in names if n not in MULTI_PART] or ([] if names else list(BY_NAME)):
        ex = BY_NAME[name]
        with tempfile.TemporaryDirectory() as tmp:
            proc = run_exercise(ex, Path(tmp))
        if proc.returncode != ex.expect_rc:
            print(f"{name}: exit code {proc.returncode}, expected {ex.expect_rc}\n{proc.stderr}", file=sys.stderr)
            return 1
        ex.expected.write_text(proc.stdout, encoding="utf-8")
        print(f"recorded {ex.expected.relative_to(ROOT)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="re-record the expected transcripts")
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join([*BY_NAME, *MULTI_PART]))
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BY_NAME and n not in MULTI_PART]
    if unknown:
        parser.error(f"unknown exercise: {', '.join(unknown)}")
    if not args.record:
        parser.print_help()
        return 0
    return _record(args.names)


if __name__ == "__main__":
    sys.exit(main())
