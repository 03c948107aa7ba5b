"""Fixtures for the SSH tests: `fortishell serve` started in-process on 127.0.0.1 (any free port)
and a small asyncssh client that types lines and reads until the prompt."""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncssh
import pytest

from fortishell.clock import Clock
from fortishell.ssh.server import ServeOptions, ServerThread
from fortishell.ssh.users import load_users

# the classic Diffie-Hellman groups netmiko insists on are deprecated in cryptography
warnings.filterwarnings("ignore", message=".*Diffie-Hellman over finite fields.*")
pytestmark = pytest.mark.timeout(60)

PROMPT = re.compile(r"\r\n\r\n[\w~_-]+ (\([^)]*\) )?# $")
FIRST_PROMPT = re.compile(r"^[\w~_-]+ # $")  # right after login, no blank line before it


@pytest.fixture()
def serve(tmp_path: Path) -> Iterator[Callable[..., ServerThread]]:
    """serve(shared=False, users_toml=None) -> a running ServerThread (stopped at teardown)."""
    started: list[ServerThread] = []

    def start(*, shared: bool = False, users_toml: str | None = None, state_dir: Path | None = None) -> ServerThread:
        users_path = None
        if users_toml is not None:
            users_path = tmp_path / "users.toml"
            users_path.write_text(users_toml)
        opts = ServeOptions(state_dir or tmp_path / "state", port=0, shared=shared, users=load_users(users_path),
                            clock_factory=Clock)
        srv = ServerThread(opts).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


class Shell:
    """An interactive SSH shell read like expect does: send keys, read until a pattern."""

    def __init__(self, port: int, user: str = "admin", password: str | None = None, rows: int = 24) -> None:
        self.port, self.user, self.password, self.rows = port, user, password, rows
        self.loop = asyncio.new_event_loop()
        self.buf = ""
        self._run(self._open())

    def _run(self, coro):  # noqa: ANN001
        return self.loop.run_until_complete(asyncio.wait_for(coro, 20))

    async def _open(self) -> None:
        self.conn = await asyncssh.connect("127.0.0.1", self.port, username=self.user, password=self.password,
                                           known_hosts=None, client_keys=None, agent_path=None)
        self.proc = await self.conn.create_process(term_type="xterm", term_size=(120, self.rows))
        await self.expect(FIRST_PROMPT)

    async def expect(self, pattern: re.Pattern[str] | str, timeout: float = 10) -> str:
        pat = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern
        end = self.loop.time() + timeout
        while True:
            m = pat.search(self.buf)
            if m:
                out, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return out
            left = end - self.loop.time()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {pat.pattern!r}; got {self.buf!r}")
            try:
                data = await asyncio.wait_for(self.proc.stdout.read(4096), left)
            except asyncio.TimeoutError:
                continue
            if not data:
                raise EOFError(self.buf)
            self.buf += data

    def send(self, text: str) -> None:
        self.proc.stdin.write(text)

    def read_until(self, pattern: re.Pattern[str] | str, timeout: float = 10) -> str:
        return self._run(self.expect(pattern, timeout))

    def cmd(self, line: str) -> str:
        """Type a line, return what came back up to and including the next prompt."""
        self.send(line + "\r")
        return self.read_until(PROMPT)

    def closed(self, timeout: float = 5) -> bool:
        async def wait() -> bool:
            await asyncio.wait_for(self.proc.wait_closed(), timeout)
            return True

        return self._run(wait())

    def close(self) -> None:
        try:
            self.conn.close()
            self.loop.run_until_complete(self.conn.wait_closed())
        finally:
            self.loop.close()


@pytest.fixture()
def shell() -> Iterator[Callable[..., Shell]]:
    opened: list[Shell] = []

    def open_shell(port: int, user: str = "admin", password: str | None = None, rows: int = 24) -> Shell:
        sh = Shell(port, user, password, rows)
        opened.append(sh)
        return sh

    yield open_shell
    for sh in opened:
        sh.close()
