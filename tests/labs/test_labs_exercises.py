"""The lab exercises pass ``fortishell run --expect`` through the installed binary, and
a wrong transcript fails with a readable diff and a non-zero exit."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fortishell import expect
from labexercises import (BY_NAME, EXERCISES, GUIDE_CLOCK, ROOT, SAMPLES, SECTIONS, Exercise, Replay, command,
                          fortishell_binary, run_exercise)

IDS = [e.name for e in EXERCISES]


def test_binary_is_installed() -> None:
    assert fortishell_binary().exists(), f"no fortishell console script next to the interpreter: {fortishell_binary()}"


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_exercise_matches_its_expected_transcript(ex: Exercise, replayed: Callable[[str], Replay]) -> None:
    """One replay per exercise through the installed binary (shared with the other tests of this
    folder that need a replay's outcome: conftest.py): its exit code, the transcript's shape, and
    the transcript graded as ``run --expect`` grades it (strictly, by the one grader).  ``run
    --expect`` itself runs the documented exercises in the documented-commands test below;
    ``lab check`` replays representatives and the multi-part exercises (``test_labs_catalogue``)."""
    assert ex.script.exists() and ex.expected.exists(), f"{ex.name}: script or expected transcript missing"
    proc = replayed(ex.name).proc
    assert proc.returncode == ex.expect_rc, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("FortiProxy # ")
    assert proc.stdout.endswith("FortiProxy # ")  # the final prompt, as the screen shows it
    result, _ = expect.grade(ex.expected.read_text("utf-8"), proc.stdout, strict=True)
    assert result.ok, "\n".join(result.diff_lines()[:60])


def test_exercise_starts_from_its_configuration_not_the_shipped_file(replayed: Callable[[str], Replay]) -> None:
    run = replayed("example1-enroll")
    assert run.proc.returncode == 0
    assert 'edit "est-test101"' not in (SAMPLES / "lab.conf").read_text()  # the enrollment went to the copy
    saved = (run.workdir / "example1-enroll.conf").read_text()
    assert 'edit "est-test101"' in saved and 'edit "G_CA_Cert_1"' in saved


def test_lab_conf_is_factory_plus_the_lab_root() -> None:
    from fortishell.cmdb import store
    from fortishell.cmdb.schema import CA
    from fortishell.lab.ca import LabCA

    lab = store.load(SAMPLES / "lab.conf")
    factory = store.load(SAMPLES / "factory.conf")
    root = lab.entry(CA, "G_CA_Cert_1")
    assert root is not None and root.get("ca").strip() == LabCA.shipped().cert_pem.strip()
    assert factory.entry(CA, "G_CA_Cert_1") is None


def test_a_second_student_run_with_other_serials_still_matches(tmp_path: Path,
                                                               replayed: Callable[[str], Replay]) -> None:
    """The lab's serial counter lives in the state directory: a second enrollment gets the
    next serial (and new keys, dates alike); the serial/SKI/fingerprint wildcards absorb it."""
    ex = BY_NAME["example1-enroll"]
    run = replayed(ex.name)
    first = run.proc
    shutil.copytree(run.workdir / "state", tmp_path / "state")  # the first run's lab state (a copy: it is shared)
    second = run_exercise(ex, tmp_path, expect=ex.expected)  # same lab state, fresh config copy
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr
    serial = re.compile(r"Serial Number: (\d+) \(0x")
    assert serial.findall(first.stdout) != serial.findall(second.stdout)


def _tampered(ex: Exercise, tmp_path: Path, old: str, new: str) -> Path:
    text = ex.expected.read_text()
    assert old in text
    path = tmp_path / f"tampered-{ex.name}.expected"
    path.write_text(text.replace(old, new, 1))
    return path


def test_tampered_transcript_fails_with_a_readable_diff(tmp_path: Path) -> None:
    ex = BY_NAME["example1-enroll"]
    bad = _tampered(ex, tmp_path, "Subject:     CN = firewall-portal1", "Subject:     CN = firewall-portal2")
    proc = run_exercise(ex, tmp_path / "run", expect=bad)
    assert proc.returncode == 1
    diff = proc.stderr
    assert re.search(r"^-.*\|\s+Subject:     CN = firewall-portal2$", diff, re.M), diff
    assert re.search(r"^\+.*\|\s+Subject:     CN = firewall-portal1$", diff, re.M), diff
    assert "first difference at expected line" in diff
    assert "\x1b[" not in diff  # not a terminal: no colour codes


def test_missing_trace_line_fails(tmp_path: Path, replayed: Callable[[str], Replay]) -> None:
    """The ``--expect`` hook ``run`` calls with its transcript (expect.expect_hook), on the shared
    replay: a trace line the expected file lacks is a difference (the binary's exit code and
    diff on a tampered file: the test above)."""
    ex = BY_NAME["example3-regenerate"]
    bad = _tampered(ex, tmp_path, "[2453] est_simple_reenroll: Try to use est-test101 as client cert to authenticate\n", "")
    diff = io.StringIO()
    assert expect.expect_hook(str(bad), out=diff, color=False)(replayed(ex.name).proc.stdout) == 1
    assert re.search(r"^\+.*est_simple_reenroll: Try to use est-test101", diff.getvalue(), re.M), diff.getvalue()


def test_failing_exercise_needs_keep_going(tmp_path: Path) -> None:
    """Without --keep-going the replay stops at the failed generate: the transcript is shorter
    than the expected one, so --expect reports the difference."""
    ex = BY_NAME["exercise-untrusted-ca"]
    stop = Exercise(ex.name, ex.config, (), ex.section, 1)
    proc = run_exercise(stop, tmp_path, expect=ex.expected)
    assert proc.returncode == 1
    assert "Command fail. Return code -1" in proc.stdout
    assert "diagnose debug disable" not in proc.stdout
    assert "first difference" in proc.stderr


def test_failing_exercise_shows_the_guide_error_lines(replayed: Callable[[str], Replay]) -> None:
    run = replayed("exercise-untrusted-ca")
    out = run.proc.stdout
    assert run.proc.returncode == 1  # a plain run (no --expect) of the failing exercise
    err = out.index("[1795] est_curl_req: Error buf: SSL certificate problem: self-signed certificate in certificate chain,")
    assert out.index("[2402] est_simple_enroll: Failed to get ca certs: -1.") > err
    assert 'edit "est-test101"' not in (run.workdir / "exercise-untrusted-ca.conf").read_text()


def test_grading_a_recorded_transcript(tmp_path: Path, replayed: Callable[[str], Replay]) -> None:
    """``python -m fortishell.expect EXPECTED ACTUAL`` grades a saved session (no device)."""
    ex = BY_NAME["example3-regenerate"]
    recorded = tmp_path / "student.txt"
    recorded.write_text(replayed(ex.name).proc.stdout)
    python = fortishell_binary().parent / "python"
    ok = subprocess.run([str(python), "-m", "fortishell.expect", str(ex.expected), str(recorded)],
                        capture_output=True, text=True, cwd=ROOT, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    recorded.write_text(recorded.read_text().replace("Do you want to continue? (y/n) y", "Do you want to continue? (y/n) n"))
    bad = subprocess.run([str(python), "-m", "fortishell.expect", str(ex.expected), str(recorded)],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert bad.returncode == 1 and "(y/n) n" in bad.stdout + bad.stderr


# ------------------------------------------------------------ the documented commands
def _sh_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", markdown, re.M | re.S)


def _run_documented(block: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a documented shell block as written, with ``python3 -m fortishell`` taken to be the
    installed binary (same program, already set up) and /tmp/ a test directory."""
    work = tmp_path / "tmp"
    work.mkdir(exist_ok=True)
    # /tmp/ first: the checkout itself may live under /tmp
    script = block.replace("/tmp/", f"{work}/").replace("student-transcript.txt", str(work / "student-transcript.txt"))
    script = script.replace("python3 -m fortishell.expect", f"{fortishell_binary().parent / 'python'} -m fortishell.expect")
    script = script.replace("python3 -m fortishell ", f"{fortishell_binary()} ")
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")
    return subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120, check=False)


def _documented_runs(path: Path) -> list[str]:
    text = path.read_text()
    if path.name == "README.md" and path.parent == ROOT:
        text = text[text.index("## Training labs"):]
    return [b for b in _sh_blocks(text) if "run " in b and "--expect" in b]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("doc", ["sample-configs/README.md", "README.md"])
def test_documented_commands_work_as_written(doc: str, tmp_path: Path) -> None:
    blocks = _documented_runs(ROOT / doc)
    scripts = {Path(m).stem for b in blocks for m in re.findall(r"sample-configs/\S+\.cli", b)}
    # the long form of the guide's examples and the failing exercise; sample-configs/README.md also
    # documents the certificate-workflow exercises (tests/labs/certexercises.py runs them)
    from certexercises import CERT_EXERCISES, Script

    cert_scripts = {s.name for e in CERT_EXERCISES for s in e.steps if isinstance(s, Script)}
    assert scripts == set(SECTIONS) | (cert_scripts if doc.startswith("sample-configs") else set()), \
        f"{doc} documents {sorted(scripts)}"
    for block in blocks:
        proc = _run_documented(block, tmp_path)
        assert proc.returncode == 0, f"{doc}:\n{block}\n{proc.stdout[-2000:]}{proc.stderr}"
        assert "expect: transcript matches" in proc.stdout + proc.stderr
    assert GUIDE_CLOCK in "".join(blocks)


def test_command_line_helper_matches_the_documented_form() -> None:
    argv = command(BY_NAME["exercise-untrusted-ca"], Path("/tmp/untrusted.conf"), expect=Path("E"))
    assert argv[1:] == ["--config", "/tmp/untrusted.conf", "--clock", GUIDE_CLOCK, "run", "--keep-going",
                        "--expect", "E", str(SAMPLES / "exercise-untrusted-ca.cli")]
