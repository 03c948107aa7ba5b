"""Multi-part exercises: parts on one device with ``lab-ca`` steps outside it, one catalogued
exercise whose replay runs the outside steps and whose expected transcript is the whole session."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typing_session import SAMPLES, record, script_lines

from fortishell.classroom import catalogue
from fortishell.classroom.grading import grade_text
from fortishell.classroom.runner import outside_argv, replay, run_outside
from fortishell.clock import Clock
from fortishell.expect import grade
from fortishell.shell.device import Device

pytestmark = pytest.mark.timeout(300)
MULTI = ("exercise-csr-tftp", "exercise-crl")


def _replay(ex: catalogue.Exercise, tmp_path: Path) -> tuple[str, list[int]]:
    work = catalogue.scratch_copy(ex, tmp_path)
    device = Device.open(work / "fortishell.conf", work, Clock(ex.when))
    try:
        text, outside = replay(ex, device, work)
    finally:
        device.close()
    return text, [o.rc for o in outside]


@pytest.mark.parametrize("name", MULTI)
def test_the_catalogue_runs_the_steps_outside_the_device(name: str, tmp_path: Path) -> None:
    ex = catalogue.load(SAMPLES).get(name)
    assert ex.multi_part and [type(s).__name__ for s in ex.parts] == ["Part", "Outside", "Part"]
    text, rcs = _replay(ex, tmp_path)
    assert rcs == [0]
    grade = grade_text(ex, text)
    assert grade.passed, grade.first_difference


def test_without_the_outside_step_the_exercise_fails(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES, samples, ignore=shutil.ignore_patterns("__pycache__"))
    toml = samples / "exercises.toml"
    toml.write_text(toml.read_text().replace('  { outside = "lab-ca revoke 07:46:97" },\n', ""))
    ex = catalogue.load(samples).get("exercise-crl")
    assert not any(isinstance(s, catalogue.Outside) for s in ex.parts)
    text, _ = _replay(ex, tmp_path / "run")
    grade = grade_text(ex, text)
    assert not grade.passed and grade.first_difference is not None
    assert grade.first_difference.expected.strip() == "Revoked:     1"


@pytest.mark.parametrize("name", MULTI)
def test_the_whole_session_is_the_parts_in_one(name: str) -> None:
    """NAME.expected is the parts' expected transcripts (the long form of sample-configs/README.md)
    as one session: each part goes on at the previous one's final prompt."""
    ex = catalogue.load(SAMPLES).get(name)
    parts = [(SAMPLES / f"{p.stem}.expected").read_text() for p in ex.parts if isinstance(p, catalogue.Part)]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined[: joined.rfind("\n") + 1] + part
    same, _ = grade(joined, ex.expected.read_text(), strict=True)  # keys, fingerprints: each run its own
    assert same.ok, same.diff_lines()
    assert len(joined.splitlines()) == len(ex.expected.read_text().splitlines())


def test_a_student_session_with_the_step_in_another_terminal(tmp_path: Path) -> None:
    """Part 1 typed at the recording REPL, ``lab-ca revoke`` run outside it (the fortishell command
    line ``lab start`` prints, in this process), part 2 typed: the transcript passes."""
    ex = catalogue.load(SAMPLES).get("exercise-crl")
    (step,) = [s for s in ex.parts if isinstance(s, catalogue.Outside)]
    outside_runs = []

    def other_terminal(work: Path) -> None:
        assert outside_argv(step, ex, work)[-2:] == ["revoke", "07:46:97"]
        outside_runs.append(run_outside(step, ex, work))

    keys = [*(ln + "\r" for ln in script_lines("exercise-crl-1")), other_terminal,
            *(ln + "\r" for ln in script_lines("exercise-crl-2")), "exit\r"]
    text = record("exercise-crl", keys, tmp_path)
    assert [r.rc for r in outside_runs] == [0] and "revoked serial 07:46:97" in outside_runs[0].output
    assert re.search(r"(?m)^\s+Serial Num: 07:46:97$", text)
    grade = grade_text(ex, text)
    assert grade.passed, grade.first_difference


@pytest.mark.parametrize("steps, message", [
    ('steps = [{ script = "exercise-crl-1" }, { outside = "" }]', "a step is"),
    ('steps = [{ script = "exercise-crl-1", when = 1 }]', "a step is"),
    ('steps = "exercise-crl-1"', "'steps' is a list"),
    ('steps = [{ script = "no-such-part" }]', "no-such-part.cli is missing"),
])
def test_bad_steps_say_what_is_wrong(steps: str, message: str, tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES, samples, ignore=shutil.ignore_patterns("__pycache__"))
    (samples / "exercises.toml").write_text('[exercise.x]\ntitle = "T"\nconfig = "lab.conf"\nclock = "2023-04-06"\n'
                                            f'teaches = "t"\n{steps}\n')
    with pytest.raises(catalogue.CatalogueError) as err:
        catalogue.load(samples)
    assert message in err.value.lines[0]
