"""The certificate-workflow exercises of ``sample-configs/`` (multi-part ones included), and how to run them.

An exercise is a list of steps (from the catalogue, ``sample-configs/exercises.toml``)
on one fresh copy of its configuration and one state directory: ``Script`` steps replay ``sample-configs/<name>.cli`` through
the installed ``fortishell`` (compared with ``<name>.expected``), ``Outside``
steps run what a student runs outside the device between two parts
(``fortishell lab-ca sign|revoke``), with ``{tftp}`` standing for the lab TFTP
directory.

    .venv/bin/python tests/labs/certexercises.py --record [NAME...]

re-records the expected transcripts (review the diff!).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labexercises import GUIDE_CLOCK, ROOT, SAMPLES, fortishell_binary  # noqa: E402


@dataclass(frozen=True)
class Script:
    name: str
    keep_going: bool = False


@dataclass(frozen=True)
class Outside:
    args: tuple[str, ...]  # fortishell arguments; "{tftp}" = <state-dir>/tftp


@dataclass(frozen=True)
class CertExercise:
    name: str
    config: str
    steps: tuple[Script | Outside, ...]


def _from_catalogue(names: tuple[str, ...]) -> tuple[CertExercise, ...]:
    """The exercises' steps as the catalogue (sample-configs/exercises.toml) lists them."""
    import shlex

    from fortishell.classroom import catalogue

    cat = catalogue.load(SAMPLES)
    out = []
    for name in names:
        ex = cat.get(name)
        steps: list[Script | Outside] = [
            Script(p.stem, p.keep_going) if isinstance(p, catalogue.Part) else Outside(tuple(shlex.split(p.command)))
            for p in ex.parts]
        out.append(CertExercise(name, ex.config, tuple(steps)))
    return tuple(out)


CERT_EXERCISES: tuple[CertExercise, ...] = _from_catalogue(
    ("exercise-ca-import-est", "exercise-csr-tftp", "exercise-pkcs12", "exercise-crl"))
BY_NAME = {e.name: e for e in CERT_EXERCISES}


def _wildcards(transcript: str) -> str:
    """The serial number on the ``Serial Num:`` line of ``get ... details`` depends on what the
    lab CA issued before (the exercises may share one lab state): ``<*>`` there."""
    return re.sub(r"(?m)^Serial Num:  \S+$", "Serial Num:  <*>", transcript)


def run(ex: CertExercise, workdir: Path, *, record: bool = False) -> list[tuple[str, subprocess.CompletedProcess[str]]]:
    """Run every step; with ``record`` the scripts' transcripts become their expected files."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"{ex.name}.conf"
    shutil.copyfile(SAMPLES / ex.config, config)
    state = workdir / "state"
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(state), NO_COLOR="1")
    env.pop("FORCE_COLOR", None)
    exe = str(fortishell_binary())
    results = []
    for step in ex.steps:
        if isinstance(step, Script):
            argv = [exe, "--config", str(config), "--clock", GUIDE_CLOCK, "run"]
            argv += ["--keep-going"] if step.keep_going else []
            expected = SAMPLES / f"{step.name}.expected"
            argv += [] if record else ["--expect", str(expected)]
            argv.append(str(SAMPLES / f"{step.name}.cli"))
            label = step.name
        else:
            argv = [exe, "--clock", GUIDE_CLOCK] + [a.replace("{tftp}", str(state / "tftp")) for a in step.args]
            label = " ".join(step.args)
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
        if record and isinstance(step, Script):
            expected.write_text(_wildcards(proc.stdout), encoding="utf-8")
            print(f"recorded {expected.relative_to(ROOT)}")
        results.append((label, proc))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="re-record the expected transcripts")
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BY_NAME))
    args = parser.parse_args(argv)
    if not args.record:
        parser.print_help()
        return 0
    import tempfile

    for name in args.names or list(BY_NAME):
        with tempfile.TemporaryDirectory() as tmp:
            run(BY_NAME[name], Path(tmp), record=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
