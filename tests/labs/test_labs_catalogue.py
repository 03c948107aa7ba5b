"""``fortishell lab`` through the installed binary: list, start (recorded), check, grade."""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from labexercises import BY_NAME, EXERCISES, MULTI_PART, ROOT, Replay, fortishell_binary

# ``lab check NAME`` replays: every multi-part exercise (its only replay on the catalogue's steps,
# outside steps included) and a single-part representative (a guide example; tests/acme's
# test_acme_e2e checks exercise-acme-1 the same way).  Every single-part exercise is replayed once
# in test_labs_exercises (the long form, graded strictly).
CHECKED = ["example1-enroll", *MULTI_PART]
# ... and these twice on one state directory: a fresh copy each time, no copying by hand
TWICE = {"example1-enroll", "exercise-crl"}


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


@pytest.mark.parametrize("name", CHECKED)
def test_check_replays_on_a_fresh_copy(name: str, tmp_path: Path) -> None:
    first = lab("check", name, tmp_path=tmp_path)
    runs = [first, lab("check", name, tmp_path=tmp_path)] if name in TWICE else [first]  # no copying by hand
    for proc in runs:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        assert proc.stdout.strip().endswith(f"{name}: PASS (the replay matches {name}.expected)")
    if name in MULTI_PART:  # the step outside the device ran (lab-ca on the run's lab state)
        assert re.search(r"outside the device: fortishell --state-dir \S+ --clock '2023-04-06 22:37:34' lab-ca ",
                         first.stderr), first.stderr
        assert re.search(r"(revoked|issued) serial 07:46:97|SCEP request [0-9A-F]{32} \(CN=[\w.]+\) approved",
                         first.stderr), first.stderr
    else:
        assert "est-test101" not in (ROOT / "sample-configs" / BY_NAME[name].config).read_text()


def test_check_grades_a_recorded_transcript(tmp_path: Path, replayed: Callable[[str], Replay]) -> None:
    ex = BY_NAME["example3-regenerate"]
    good = tmp_path / "good.txt"
    good.write_text(replayed(ex.name).proc.stdout)
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


def test_grade_a_folder(tmp_path: Path, replayed: Callable[[str], Replay]) -> None:
    ex = BY_NAME["example1-enroll"]
    room = tmp_path / "room"
    room.mkdir()
    good = replayed(ex.name).proc.stdout
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


# ------------------------------------------------------------ files where users look
def _env_path(tmp_path: Path, *, console_script: bool) -> dict[str, str]:
    """The environment of a user whose PATH has (or has not) the console script ``fortishell``."""
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1", COLUMNS="200")
    env.pop("FORCE_COLOR", None)
    venv_bin = str(fortishell_binary().parent)
    rest = [p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p and Path(p) != Path(venv_bin)]
    env["PATH"] = os.pathsep.join(([venv_bin] if console_script else []) + rest)
    return env


@pytest.mark.parametrize("console_script", [False, True], ids=["python3-m", "console-script"])
def test_start_names_the_transcript_and_prints_a_check_command_that_runs(console_script: bool,
                                                                          tmp_path: Path) -> None:
    """The printed command runs as printed, in the shell ``lab start`` ran in, and grades the
    session just recorded: a short one, so a FAIL naming the exercise (a whole typed session
    that passes: test_start_records_a_session_that_grades, tests/labs/test_labs_teaching)."""
    name = "example1-enroll"
    env = _env_path(tmp_path, console_script=console_script)
    proc = subprocess.run([str(fortishell_binary()), "lab", "start", name], input="get system status\nexit\n",
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    path = Path(re.search(r"^transcript saved: (.+)$", proc.stderr, re.M).group(1))  # type: ignore[union-attr]
    assert re.fullmatch(rf"{re.escape(getpass.getuser())}-{name}-\d{{8}}-\d{{6}}\.txt", path.name), path.name
    assert path.is_file() and path.is_relative_to(tmp_path / "state" / "labs")
    check = re.search(r"^check it: (.+)$", proc.stderr, re.M).group(1)  # type: ignore[union-attr]
    assert re.search(r"then: (.+)$", proc.stderr, re.M).group(1) == check  # type: ignore[union-attr]
    assert check.startswith("fortishell lab check " if console_script else "python3 -m fortishell lab check ")
    ran = subprocess.run(["bash", "-c", check], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
                         check=False)  # as printed, in the shell the user typed `lab start` in
    assert ran.returncode == 1 and f"{name}: FAIL" in ran.stdout, ran.stdout + ran.stderr
    assert "FortiProxy # get system status" in ran.stdout  # the diff shows this session's first line


def test_start_of_a_multi_part_exercise_prints_the_step_outside(tmp_path: Path) -> None:
    """``lab start exercise-crl``: part 1 typed, the printed lab-ca command run in another shell as
    printed, part 2 typed; the printed check command then passes."""
    env = _env_path(tmp_path, console_script=False)
    proc = subprocess.Popen([str(fortishell_binary()), "lab", "start", "exercise-crl"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert proc.stdin is not None and proc.stderr is not None
    try:
        banner = []
        while not banner or "leave with 'exit'" not in banner[-1]:
            banner.append(proc.stderr.readline())
            assert banner[-1], banner
        text = "".join(banner)
        outside = re.search(r"outside the device, in another terminal: (.+)$", text, re.M).group(1)  # type: ignore[union-attr]
        transcript = Path(re.search(r"^  transcript: (.+)$", text, re.M).group(1))  # type: ignore[union-attr]
        # another terminal may be anywhere with any PATH: the command names this installation in full
        assert outside.startswith(f"{fortishell_binary()} --state-dir "), outside
        proc.stdin.write("\n".join(_part("exercise-crl-1")) + "\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while "X509v3 Authority Key Identifier" not in transcript.read_text():
            assert time.monotonic() < deadline, transcript.read_text()
            time.sleep(0.1)
        revoked = subprocess.run(["bash", "-c", outside], capture_output=True, text=True, env=env, cwd=tmp_path,
                                 timeout=120, check=False)
        assert revoked.returncode == 0 and "revoked serial 07:46:97" in revoked.stdout, revoked.stdout + revoked.stderr
        proc.stdin.write("\n".join([*_part("exercise-crl-2"), "exit"]) + "\n")
        proc.stdin.close()
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 0, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check = re.search(r"^check it: (.+)$", rest, re.M).group(1)  # type: ignore[union-attr]
    ran = subprocess.run(["bash", "-c", check], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
                         check=False)
    assert ran.returncode == 0 and "exercise-crl: PASS" in ran.stdout, ran.stdout + ran.stderr


def _part(stem: str) -> list[str]:
    text = (ROOT / "sample-configs" / f"{stem}.cli").read_text()
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def test_grade_walks_subfolders_for_transcripts_only(tmp_path: Path) -> None:
    """The run folders of ``lab start`` (configuration, lab state, transcript) graded as they are,
    and a trainer's folder of folders: transcripts only, wherever they are below DIR."""
    name = "example1-enroll"
    assert lab("start", name, tmp_path=tmp_path, stdin=typed_lines(name)).returncode == 0
    assert lab("start", name, tmp_path=tmp_path, stdin="get system status\nexit\n").returncode == 0
    runs = tmp_path / "state" / "labs"
    assert len(list(runs.glob("*/fortishell.conf"))) == 2
    table = lab("grade", name, str(runs), "--json", tmp_path=tmp_path)
    data = json.loads(table.stdout)
    graded = sorted((Path(t["transcript"]).parent.parent, t["passed"]) for t in data["transcripts"])
    assert [p for _, p in graded] == [False, True] or [p for _, p in graded] == [True, False]
    assert all(Path(t["transcript"]).name.endswith(".txt") and Path(t["transcript"]).name != "fortishell.conf"
               for t in data["transcripts"])
    assert (data["passed"], data["failed"]) == (1, 1) and "skipped (not transcripts of example1-enroll)" in table.stderr

    room = tmp_path / "room"
    for student, run in zip(("alice", "bob"), sorted(runs.iterdir())):
        (room / student).mkdir(parents=True)
        for f in run.glob("*.txt"):
            shutil.copyfile(f, room / student / f.name)
        shutil.copyfile(run / "fortishell.conf", room / student / "fortishell.conf")
    rows = lab("grade", name, str(room), tmp_path=tmp_path)
    assert rows.returncode == 1 and "1 of 2 passed" in rows.stdout, rows.stdout
    assert "alice/" in rows.stdout and "bob/" in rows.stdout and "fortishell.conf" not in rows.stdout
