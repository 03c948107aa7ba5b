"""One long-form replay of an exercise per test process, shared by the tests that only need
its outcome (a good transcript to grade, the saved configuration, the plain run's exit code).

Each replay costs a ``fortishell`` process and over a second of CPU; the transcript of
``example1-enroll`` alone was replayed by six tests.  A test that changes what it is given
works on a copy (the run folder is the session's, under pytest's temporary directory)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from labexercises import BY_NAME, Replay, run_exercise


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Replay]:
    done: dict[str, Replay] = {}

    def get(name: str) -> Replay:
        if name not in done:
            workdir = tmp_path_factory.mktemp(f"replay-{name}")
            done[name] = Replay(run_exercise(BY_NAME[name], workdir), workdir)
        return done[name]

    return get
