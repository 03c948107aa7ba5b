"""``fortishell lab`` through the installed binary: list, start (recorded), check, grade."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from labexercises import BY_NAME, EXERCISES, ROOT, fortishell_binary, run_exercise

IDS = [e.name for e in EXERCISES]


def lab(*args: str, tmp_path: Path, stdin: str | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1", COLUMNS="200")
    env.pop("FORCE_COLOR", None)
    return subprocess.run([str(fortishell_binary()), "lab", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=timeout, check=False)


def typed_lines(name: str) -> str:
    """The exercise's script as a student types it (no comments), then ``exit``."""
    lines = [ln for ln in BY_NAME[name].script.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return "\n".join([*lines, "exit"]) + "\n"


def test_list_shows_every_exercise_with_its_start(tmp_path: Path) -> None:
    proc = lab("list", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for ex in EXERCISES:
        row = next((ln for ln in proc.stdout.splitlines() if f" {ex.name} " in ln), None)
        assert row is not None, proc.stdout
        assert ex.config in row
    assert "keep-going" in proc.stdout  # the failing exercise says how it replays


@pytest.mark.parametrize("name", IDS)
def test_check_replays_on_a_fresh_copy(name: str, tmp_path: Path) -> None:
    first = lab("check", name, tmp_path=tmp_path)
    second = lab("check", name, tmp_path=tmp_path)  # no copying by hand between runs
    for proc in (first, second):
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        assert proc.stdout.strip().endswith(f"{name}: PASS (the replay matches {name}.expected)")
    shipped = ROOT / "sample-configs" / BY_NAME[name].config
    assert "est-test101" not in shipped.read_text()


def test_check_grades_a_recorded_transcript(tmp_path: Path) -> None:
    ex = BY_NAME["example3-regenerate"]
    good = tmp_path / "good.txt"
    good.write_text(run_exercise(ex, tmp_path / "run").stdout)
    proc = lab("check", ex.name, str(good), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text(good.read_text().replace("(y/n) y", "(y/n) n"))
    proc = lab("check", ex.name, str(bad), tmp_path=tmp_path)
    assert proc.returncode == 1
    verdict = proc.stdout.strip().splitlines()[-1]
    assert verdict.startswith(f"{ex.name}: FAIL (") and "Do you want to continue? (y/n) n" in verdict, verdict
    assert re.search(r"^\+.*\(y/n\) n$", proc.stdout, re.M)  # the diff is shown too


def test_start_records_a_session_that_grades(tmp_path: Path) -> None:
    name = "example1-enroll"
    transcript = tmp_path / "alice.txt"
    proc = lab("start", name, "--transcript", str(transcript), tmp_path=tmp_path, stdin=typed_lines(name))
    assert proc.returncode == 0, proc.stderr
    assert f"transcript: {transcript}" in proc.stderr and "Traceback" not in proc.stderr
    assert transcript.read_text().startswith("FortiProxy # execute ping testrfc7030.com\n")
    graded = lab("check", name, str(transcript), tmp_path=tmp_path)
    assert graded.returncode == 0, graded.stdout
    # the scratch copy took the enrollment; the shipped configuration did not
    copies = list((tmp_path / "state" / "labs").glob(f"{name}-*/fortishell.conf"))
    assert len(copies) == 1 and 'edit "est-test101"' in copies[0].read_text()


def test_start_default_transcript_path_is_printed(tmp_path: Path) -> None:
    proc = lab("start", "exercise-untrusted-ca", tmp_path=tmp_path, stdin="get system status | grep Version\n")
    assert proc.returncode == 0, proc.stderr
    path = Path(re.search(r"transcript: (\S+)", proc.stderr).group(1))  # type: ignore[union-attr]
    assert path.is_file() and path.is_relative_to(tmp_path / "state" / "labs")
    text = path.read_text()
    assert text.startswith("FortiProxy # get system status | grep Version\nVersion: FortiProxy")
    assert text.endswith("\nFortiProxy # ")  # ended by end of input: the last prompt, as `run` ends


def test_grade_a_folder(tmp_path: Path) -> None:
    ex = BY_NAME["example1-enroll"]
    room = tmp_path / "room"
    room.mkdir()
    good = run_exercise(ex, tmp_path / "run").stdout
    (room / "alice.txt").write_text(good)
    (room / "bob.txt").write_text(good + "exit\n\n")  # a session left with exit still passes
    (room / "carol.txt").write_text(good.replace("CN = firewall-portal1", "CN = firewall-portal9", 1))
    (room / ".hidden").write_text("not a transcript")
    table = lab("grade", ex.name, str(room), tmp_path=tmp_path)
    assert table.returncode == 1, table.stdout + table.stderr
    rows = {ln.split()[1]: ln for ln in table.stdout.splitlines() if re.match(r"^\W+\w+\.txt ", ln)}
    assert set(rows) == {"alice.txt", "bob.txt", "carol.txt"}, table.stdout
    assert "PASS" in rows["alice.txt"] and "PASS" in rows["bob.txt"] and "FAIL" in rows["carol.txt"]
    assert "2 of 3 passed" in table.stdout

    data = json.loads(lab("grade", ex.name, str(room), "--json", tmp_path=tmp_path).stdout)
    assert (data["passed"], data["failed"]) == (2, 1)
    carol = next(t for t in data["transcripts"] if t["transcript"].endswith("carol.txt"))
    diff = carol["first_difference"]
    assert carol["passed"] is False and diff["expected"].strip() == "Subject:     CN = firewall-portal1"
    assert diff["actual"].strip() == "Subject:     CN = firewall-portal9" and diff["expected_line"] == diff["actual_line"]

    (room / "carol.txt").unlink()
    assert lab("grade", ex.name, str(room), tmp_path=tmp_path).returncode == 0


def test_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    for args in (("check", "no-such-exercise"), ("grade", "example1-enroll", str(tmp_path / "missing")), ("frobnicate",)):
        proc = lab(*args, tmp_path=tmp_path)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
