"""One long-form replay of a training-lab exercise per test process, shared by the tests that
only need its outcome (a good transcript to grade or to match against the guide, the saved
configuration, the plain run's exit code): tests/labs, tests/fidelity.

Each replay costs a ``fortishell`` process and over a second of CPU; the transcript of
``example1-enroll`` alone was replayed by eight tests.  A test that changes what it is given
works on a copy (the run folder is the session's, under pytest's temporary directory)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "labs"))

from labexercises import BY_NAME, Replay, run_exercise  # noqa: E402


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Replay]:
    """``replayed(NAME)``: the plain long-form run of exercise NAME (run once per process)."""
    done: dict[str, Replay] = {}

    def get(name: str) -> Replay:
        if name not in done:
            workdir = tmp_path_factory.mktemp(f"replay-{name}")
            done[name] = Replay(run_exercise(BY_NAME[name], workdir), workdir)
        return done[name]

    return get
