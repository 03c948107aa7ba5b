"""Fixtures for the REST tests (helpers in rest_helpers.py): `fortishell serve` in-process with SSH
and HTTPS on 127.0.0.1 (any free ports)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_helpers import Served

from fortishell.clock import Clock
from fortishell.ssh.server import ServeOptions, ServerThread
from fortishell.ssh.users import load_users

pytestmark = pytest.mark.timeout(90)


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[ServerThread] = []

    def start(*, shared: bool = True, users_toml: str | None = None, ssh: bool = True,
              state: Path | None = None) -> Served:
        users_path = None
        if users_toml is not None:
            users_path = tmp_path / "users.toml"
            users_path.write_text(users_toml)
        state = state or tmp_path / "state"
        opts = ServeOptions(state, port=0, https_port=0, ssh=ssh, shared=shared, users=load_users(users_path),
                            clock_factory=Clock)
        srv = ServerThread(opts).start()
        started.append(srv)
        return Served(srv, state)

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture()
def box(served: Callable[..., Served]) -> Served:
    return served()


@pytest.fixture()
def api(box: Served) -> Iterator[Any]:
    """An httpx client of ``box`` with the key of a read-write API user."""
    with box.client(box.token()) as c:
        yield c
