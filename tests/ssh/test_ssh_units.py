"""Pieces of the SSH front end without a network: the pager, the plain echo, the users file,
and `fortishell serve` as a real subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

from fortishell.frontend.echo import PlainEcho
from fortishell.frontend.pager import Pager
from fortishell.ssh.users import FACTORY_ADMIN, UsersFileError, hash_password, load_users, verify_password


def test_pager_pages_lines_and_quits() -> None:
    pager = Pager([f"l{i}" for i in range(10)], rows=4)
    assert pager.first() == ["l0", "l1", "l2"]
    assert pager.key(" ") == ["l3", "l4", "l5"]
    assert pager.key("\r") == ["l6"]
    assert pager.key("x") == []  # unknown keys do nothing
    assert pager.key("q") is None and pager.done
    short = Pager(["a", "b"], rows=24)
    assert short.first() == ["a", "b"] and short.done


def test_plain_echo_renders_edits() -> None:
    out: list[str] = []
    echo = PlainEcho(out.append)
    assert echo.render("conf", 4) == "conf"
    assert echo.render("config", 6) == "ig"  # Tab completion appends the rest of the word
    assert echo.render("confi", 5) == "\b \b"  # Backspace
    assert echo.render("confi", 3) == "\b\b"  # cursor left
    assert echo.render("conXfi", 4) == "Xfi\b\b"  # insert in the middle
    assert echo.render("", 0) == "\b" * 4 + " " * 6 + "\b" * 6  # Ctrl-U style clear


def test_users_file(tmp_path: Path) -> None:
    assert load_users(None).get(FACTORY_ADMIN).needs_auth is False
    stored = hash_password("pw", rounds=1000)
    assert verify_password("pw", stored) and not verify_password("px", stored)
    (tmp_path / "k.pub").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7 k\n")
    path = tmp_path / "users.toml"
    path.write_text(f'factory-admin = true\n[users.a]\npassword = "x"\n[users.b]\npassword-hash = "{stored}"\n'
                    '[users.c]\nauthorized-keys-file = "k.pub"\n')
    users = load_users(path)
    assert users.names == ["a", "admin", "b", "c"]
    assert users.get("a").check_password("x") and not users.get("a").check_password("")
    assert users.get("b").check_password("pw")
    assert users.get("c").authorized_keys == ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE7 k",)
    path.write_text('factory-admin = false\n[users.admin]\npassword = "new"\n')
    assert load_users(path).get("admin").check_password("new")
    path.write_text("[users.a]\npasword = 'typo'\n")
    with pytest.raises(UsersFileError, match="unknown setting"):
        load_users(path)


@pytest.mark.timeout(60)
def test_serve_subcommand(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen([sys.executable, "-m", "fortishell", "--clock", "2023-04-06 22:37:34", "serve",
                             "--port", "0", "--state-dir", str(tmp_path / "st")],
                            stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parents[2])
    try:
        line = proc.stderr.readline()
        port = int(re.search(r"SSH on 127\.0\.0\.1:(\d+)", line).group(1))

        async def session() -> str:
            async with asyncssh.connect("127.0.0.1", port, username="admin", password="", known_hosts=None,
                                        client_keys=None, agent_path=None) as conn:
                p = await conn.create_process(term_type="vt100")
                p.stdin.write("get system status | grep System\rexit\r")
                return await asyncio.wait_for(p.stdout.read(), 15)

        out = asyncio.run(session())
        assert "System time: Thu Apr  6 22:37:34 2023" in out or "System time:" in out
        assert (tmp_path / "st" / "ssh_host_ed25519_key").exists()
        assert (tmp_path / "st" / "users" / "admin" / "fortishell.conf").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
