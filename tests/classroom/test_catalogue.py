"""The exercise catalogue as data: adding an exercise needs files and one TOML table, nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fortishell.classroom import catalogue
from fortishell.classroom.grading import grade_text, without_final_exit

SAMPLES = Path(__file__).resolve().parents[2] / "sample-configs"


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "samples"
    shutil.copytree(SAMPLES, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_shipped_catalogue_is_complete() -> None:
    cat = catalogue.load(SAMPLES)
    assert cat.names[:4] == ["example1-enroll", "example2-renew", "example3-regenerate", "exercise-untrusted-ca"]
    failing = cat.get("exercise-untrusted-ca")
    assert failing.keep_going and failing.config == "factory.conf"
    assert not cat.get("example1-enroll").keep_going
    assert catalogue.samples_dir().joinpath(catalogue.CATALOGUE_FILE).is_file()


def test_adding_an_exercise_is_data_only(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / "my-exercise.cli").write_text("get system status | grep Version\n")
    (d / "my-exercise.expected").write_text("FortiProxy # get system status | grep Version\n<*>\n<*>\n\nFortiProxy # ")
    with (d / "exercises.toml").open("a") as f:
        f.write('\n[exercise.my-exercise]\ntitle = "T"\nconfig = "factory.conf"\nclock = "2024-01-02"\nteaches = "x"\n')
    ex = catalogue.load(d).get("my-exercise")
    assert ex.script == d / "my-exercise.cli" and ex.when.year == 2024
    assert ex.long_form("/tmp/c.conf")[:5] == ["--config", "/tmp/c.conf", "--clock", "2024-01-02", "run"]


@pytest.mark.parametrize("table, message", [
    ('[exercise.x]\ntitle = "T"\nconfig = "lab.conf"\nclock = "2023-04-06"\nteaches = "t"\n', "x.cli is missing"),
    ('[exercise.example1-enroll]\ntitle = "T"\nconfig = "nope.conf"\nclock = "2023-04-06"\nteaches = "t"\n',
     "nope.conf is missing"),
    ('[exercise.example1-enroll]\ntitle = "T"\nconfig = "lab.conf"\nclock = "tomorrow"\nteaches = "t"\n',
     "clock 'tomorrow'"),
    ('[exercise.example1-enroll]\ntitle = "T"\nconfig = "lab.conf"\nclock = "2023-04-06"\n', "'teaches'"),
    ('[exercise.example1-enroll]\ntitle = "T"\nconfig = "lab.conf"\nclock = "2023-04-06"\nteaches = "t"\nkeepgoing = 1\n',
     "unknown key keepgoing"),
    ("[exercise\n", "exercises.toml"),
])
def test_bad_catalogue_says_what_is_wrong(tmp_path: Path, table: str, message: str) -> None:
    d = _copy(tmp_path)
    (d / "exercises.toml").write_text(table)
    with pytest.raises(catalogue.CatalogueError) as err:
        catalogue.load(d)
    assert message in err.value.lines[0]


def test_expected_transcript_may_come_later(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / "new-one.cli").write_text("get system status\n")
    with (d / "exercises.toml").open("a") as f:
        f.write('\n[exercise.new-one]\ntitle = "T"\nconfig = "lab.conf"\nclock = "2023-04-06"\nteaches = "x"\n')
    ex = catalogue.load(d).get("new-one")  # listed (and recordable) before its transcript exists
    with pytest.raises(catalogue.CatalogueError, match="no expected transcript yet"):
        grade_text(ex, "FortiProxy # ")


def test_unknown_exercise_lists_the_names() -> None:
    with pytest.raises(catalogue.CatalogueError, match="example1-enroll"):
        catalogue.load(SAMPLES).get("nope")


def test_scratch_copy_is_fresh_each_time(tmp_path: Path) -> None:
    ex = catalogue.load(SAMPLES).get("example1-enroll")
    a, b = catalogue.scratch_copy(ex, tmp_path), catalogue.scratch_copy(ex, tmp_path)
    assert a != b
    assert (a / "fortishell.conf").read_bytes() == ex.config_path.read_bytes()
    assert (a / "fortishell.conf").stat().st_mode & 0o777 == 0o600


def test_a_final_exit_counts_as_the_last_prompt() -> None:
    assert without_final_exit("FortiProxy # get x\n\nFortiProxy # exit\n\n") == "FortiProxy # get x\n\nFortiProxy # "
    assert without_final_exit("FortiProxy # exit now") == "FortiProxy # exit now"
    ex = catalogue.load(SAMPLES).get("example1-enroll")
    grade = grade_text(ex, "FortiProxy # execute ping testrfc7030.com\n")
    assert not grade.passed and grade.first_difference is not None
    assert grade.first_difference.expected_line == 2 and grade.first_difference.actual_line is None
