"""One long-form replay of a training-lab exercise per suite run, shared by the tests that only
need its outcome (a good transcript to grade or to match against the guide, the saved
configuration, the plain run's exit code): tests/labs, tests/fidelity.

Each replay costs a ``fortishell`` process and over a second of CPU; the transcript of
``example1-enroll`` alone was replayed by eight tests.  Under pytest-xdist the workers share
one replay per exercise (the first to need it runs it under a file lock in the run's common
temporary directory; the others read what it wrote), as pytest-xdist documents for
session-scoped data.  A test that changes what it is given works on a copy."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "labs"))

from labexercises import BY_NAME, Replay, run_exercise  # noqa: E402


def _shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's directory common to every xdist worker (each worker's base is a child of it);
    without xdist the session's own base directory."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Replay]:
    """``replayed(NAME)``: the plain long-form run of exercise NAME (once per suite run)."""
    done: dict[str, Replay] = {}
    root = _shared_root(tmp_path_factory) / "exercise-replays"
    root.mkdir(exist_ok=True)

    def get(name: str) -> Replay:
        if name not in done:
            workdir = root / name
            record = root / f"{name}.json"
            with (root / f"{name}.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not record.exists():
                    proc = run_exercise(BY_NAME[name], workdir)
                    record.write_text(json.dumps({"args": proc.args, "returncode": proc.returncode,
                                                  "stdout": proc.stdout, "stderr": proc.stderr}), "utf-8")
            data = json.loads(record.read_text("utf-8"))
            proc = subprocess.CompletedProcess(data["args"], data["returncode"], data["stdout"], data["stderr"])
            done[name] = Replay(proc, workdir)
        return done[name]

    return get
