"""Grading by outcome on transcripts really typed at ``lab start``'s recording REPL: a newcomer's
abbreviations, a corrected typo and a ``?`` pass; a missing trace line fails; ``--strict`` is the
literal comparison; the three graders (``lab check``, ``lab grade``, ``python -m
fortishell.expect``) give one verdict on the same files."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typing_session import SAMPLES, record

from fortishell.classroom import catalogue
from fortishell.classroom.grading import grade_text

pytestmark = pytest.mark.timeout(300)

GUIDE_GENERATE = ("execute vpn certificate local generate est est-test101 ec-secp256r1 https://testrfc7030.com:8443 "
                  "CN=firewall-portal1,DC=local,DC=COM DNS:firewall-portal1.local.ca,IP:172.18.60.184 estuser estpwd "
                  "G_CA_Cert_1")
NEWCOMER = (
    "exec png testrfc7030.com\r",  # a typo: refused ...
    "exec ping testrfc7030.com\r",  # ... and retyped on the next line
    "diag debug app est -1\r",
    "diag debug en\r",
    GUIDE_GENERATE + "\r",
    "conf vpn cert ?",  # one `?`, then the word typed on
    "local\r",
    "get est-test101\r",
    "end\r",
    "exit\r",
)
FIRST_GET = "[1776] est_curl_req: HTTP GET"


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> str:
    return record("example1-enroll", NEWCOMER, tmp_path_factory.mktemp("newcomer"))


def _example1() -> catalogue.Exercise:
    return catalogue.load(SAMPLES).get("example1-enroll")


def _without_first(text: str, line: str) -> str:
    lines = text.split("\n")
    lines.remove(line)
    return "\n".join(lines)


def test_the_newcomers_session_passes_by_outcome(newcomer: str) -> None:
    assert newcomer.startswith("FortiProxy # exec png testrfc7030.com\ncommand parse error before 'png'\n")
    assert "FortiProxy # conf vpn cert ?\n" in newcomer and "local          Local keys and certificates." in newcomer
    grade = grade_text(_example1(), newcomer)
    assert grade.passed, grade.first_difference
    assert [(s.line, s.why) for s in grade.set_aside] == [
        (1, "refused, retyped"), (newcomer.split("\n").index("FortiProxy # conf vpn cert ?") + 1, "help")]


def test_an_ambiguous_word_refused_then_retyped_is_set_aside(newcomer: str) -> None:
    typo = "FortiProxy # exec png testrfc7030.com\ncommand parse error before 'png'\n"
    assert newcomer.startswith(typo)
    ambiguous = "FortiProxy # e\nambiguous command before 'e': execute exit\n" + newcomer[len(typo):]
    grade = grade_text(_example1(), ambiguous)
    assert grade.passed, grade.first_difference
    assert grade.set_aside[0].line == 1 and grade.set_aside[0].why == "refused, retyped"


def test_strict_compares_the_keystrokes(newcomer: str) -> None:
    grade = grade_text(_example1(), newcomer, strict=True)
    assert not grade.passed and grade.first_difference is not None
    assert grade.first_difference.actual == "FortiProxy # exec png testrfc7030.com"


def test_a_missing_trace_line_fails(newcomer: str) -> None:
    grade = grade_text(_example1(), _without_first(newcomer, FIRST_GET))
    assert not grade.passed and grade.first_difference is not None
    assert grade.first_difference.expected == FIRST_GET
    assert grade.first_difference.actual == "[143] __curl_ssl_ctx_finalizer: global CAs are loaded."


def test_a_refused_line_never_retyped_is_a_difference(newcomer: str) -> None:
    lines = newcomer.split("\n")
    start = lines.index("FortiProxy # exec ping testrfc7030.com")
    end = lines.index("FortiProxy # diag debug app est -1")
    grade = grade_text(_example1(), "\n".join(lines[:start] + lines[end:]))
    assert not grade.passed and grade.first_difference is not None
    assert grade.first_difference.actual_line == 1  # the refusal is back in the comparison
    assert grade.first_difference.expected == "FortiProxy # execute ping testrfc7030.com"


def test_an_extra_accepted_command_is_a_difference(newcomer: str) -> None:
    lines = newcomer.split("\n")
    at = lines.index("FortiProxy # diag debug en")
    extra = ["FortiProxy # diag debug info", "debug output:           disable", ""]  # accepted: not set aside
    grade = grade_text(_example1(), "\n".join(lines[:at] + extra + lines[at:]))
    assert not grade.passed and grade.first_difference is not None
    assert grade.first_difference.actual == "FortiProxy # diag debug info"


# ------------------------------------------------------------ one grader
def _fortishell(*args: str, tmp_path: Path) -> tuple[int, str]:
    """``fortishell ARGS`` in this process (the command line's own entry point): exit code and
    standard output.  The graders through the installed binary: test_labs_catalogue (lab check,
    lab grade), test_labs_exercises (python -m fortishell.expect)."""
    from fortishell.cli_main import run_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = run_main(["--state-dir", str(tmp_path / "state"), *args])
    return rc, out.getvalue()


def _expect(*args: str) -> tuple[int, str]:
    """``python -m fortishell.expect ARGS`` in this process."""
    from fortishell import expect

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = expect.main(list(args))
    return rc, out.getvalue()


def test_the_three_graders_agree(newcomer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    ex = _example1()
    config = tmp_path / "replay.conf"  # the shell saves to its --config: a copy
    config.write_bytes(ex.config_path.read_bytes())
    replayed = subprocess.run([sys.executable, "-m", "fortishell", "--config", str(config),
                               "--state-dir", str(tmp_path / "replay"), "--clock", ex.clock, "run", str(ex.script)],
                              capture_output=True, text=True, timeout=120, check=False, input=None,
                              env=dict(os.environ, NO_COLOR="1"))
    assert replayed.returncode == 0, replayed.stderr
    files = {
        "newcomer.txt": newcomer,  # abbreviations, a corrected typo, a `?`, closing exit
        "missing-trace.txt": _without_first(newcomer, FIRST_GET),
        "closing-exit.txt": replayed.stdout + "exit\n",  # the transcript the README's graders disagreed on
    }
    verdicts = {("newcomer.txt", False): 0, ("newcomer.txt", True): 1, ("missing-trace.txt", False): 1,
                ("missing-trace.txt", True): 1, ("closing-exit.txt", False): 0, ("closing-exit.txt", True): 0}
    folder = tmp_path / "transcripts"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    for strict in (False, True):
        flag = ["--strict"] if strict else []
        _, graded = _fortishell("lab", "grade", ex.name, str(folder), "--json", *flag, tmp_path=tmp_path)
        by_file = {Path(t["transcript"]).name: t["passed"] for t in json.loads(graded)["transcripts"]}
        asides = {Path(t["transcript"]).name: [a["why"] for a in t["set_aside"]]
                  for t in json.loads(graded)["transcripts"]}
        assert asides["newcomer.txt"] == ([] if strict else ["refused, retyped", "help"])
        for name in files:
            check, check_out = _fortishell("lab", "check", ex.name, str(folder / name), *flag, tmp_path=tmp_path)
            expect, expect_out = _expect(*flag, str(ex.expected), str(folder / name))
            want = verdicts[(name, strict)]
            assert (check, expect, 0 if by_file[name] else 1) == (want, want, want), \
                (name, strict, check_out[-1500:], expect_out[-1500:])


def test_a_transcript_is_a_file_that_starts_at_a_prompt(tmp_path: Path) -> None:
    from fortishell.classroom.grading import transcripts_in

    (tmp_path / "run" / "est-lab").mkdir(parents=True)
    (tmp_path / "run" / "alice-x.txt").write_text("\n\nFortiProxy # get system status\n")
    (tmp_path / "run" / "fortishell.conf").write_text("#config-version=FPXVM64-7.6.1\nconfig system global\n")
    (tmp_path / "run" / "est-lab" / "state.json").write_text("{}")
    (tmp_path / "run" / ".hidden.txt").write_text("FortiProxy # exit\n")
    (tmp_path / "bob (local).txt").write_text("FW-2 (local) # end\n")
    found, skipped = transcripts_in(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["bob (local).txt", "run/alice-x.txt"]
    assert skipped == 2
    # lab start's names say which exercise: another exercise's run is passed over
    (tmp_path / "run" / "carol-exercise-crl-20250301-101500.txt").write_text("FortiProxy # exit\n")
    (tmp_path / "run" / "dave-example1-enroll-20250301-101500.txt").write_text("FortiProxy # exit\n")
    names = catalogue.load(SAMPLES).names
    found, skipped = transcripts_in(tmp_path, _example1(), names)
    assert [p.name for p in found] == ["bob (local).txt", "alice-x.txt", "dave-example1-enroll-20250301-101500.txt"]
    assert skipped == 3
    assert len(transcripts_in(tmp_path)[0]) == 4


def test_a_value_over_several_lines_is_compared_whole() -> None:
    from fortishell.classroom.outcome import compare_outcome

    expected = ('FortiProxy # config vpn certificate local\n\nFortiProxy (local) # edit c1\nnew entry \'c1\' added\n\n'
                'FortiProxy (c1) # set comments "first\nsecond"\n\nFortiProxy (c1) # end\n\nFortiProxy # ')
    same = expected.replace("config vpn certificate local", "conf vpn cert loc").replace("set comments", "set comm")
    assert compare_outcome(expected, same)[0].ok
    other = same.replace('second"', 'other"')
    result, _ = compare_outcome(expected, other)
    assert not result.ok and result.first_difference is not None
    assert result.actual[result.first_difference].original == ('FortiProxy (c1) # set comm "first', 'other"')
