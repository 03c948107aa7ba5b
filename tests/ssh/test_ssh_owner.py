"""A login whose device's configuration file another process owns (cmdb/owner.py): one line, exit 1.

The other process is the real ``fortishell run -`` on that user's file, holding it while its
standard input stays open; the SSH session must neither boot a second device on the file
(the owner's journal replayed behind its back) nor show a traceback.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import asyncssh

from fortishell.cmdb import store

EXE = Path(sys.executable).parent / "fortishell"


async def _exec(port: int, command: str) -> tuple[int | None, str]:
    async with asyncssh.connect("127.0.0.1", port, username="admin", password="", known_hosts=None,
                                client_keys=None, agent_path=None) as conn:
        result = await conn.run(command, timeout=30)
        return result.exit_status, str(result.stdout) + str(result.stderr)


def test_a_login_to_a_device_open_elsewhere_is_refused(serve, tmp_path: Path) -> None:  # noqa: ANN001
    srv = serve()
    conf = tmp_path / "state" / "users" / "admin" / "fortishell.conf"
    conf.parent.mkdir(parents=True)
    owner = subprocess.Popen([str(EXE), "--state-dir", str(tmp_path / "other"), "--config", str(conf), "run", "-"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not conf.exists():  # the owner booted (factory defaults written, under its lock)
            assert owner.poll() is None and time.monotonic() < deadline, "the owner did not start"
            time.sleep(0.05)
        status, out = asyncio.run(_exec(srv.port, "config vpn certificate local\nedit ssh1\nend"))
        assert status == 1
        assert out == (f"Configuration file {conf} is in use by another fortishell process (PID {owner.pid}); "
                       "use --config FILE for another configuration\n")
        stdout, stderr = owner.communicate("config vpn certificate local\nedit own1\nend\n", timeout=60)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait(10)
    assert owner.returncode == 0, stdout + stderr
    names = set(store.load(conf).keys(("vpn", "certificate", "local")))
    assert "own1" in names and "ssh1" not in names
    assert "admin" not in srv.registry.devices
