"""Helpers of the REST tests: `fortishell serve` in-process with SSH and HTTPS on 127.0.0.1
(any free ports), an httpx client that verifies the device's admin certificate, API keys made
with the real `execute api-user generate-key`, and the configuration as text."""

from __future__ import annotations

import asyncio
import re
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import httpx

from fortishell.cmdb import secrets
from fortishell.cmdb.render import show_configuration
from fortishell.frontend.hub import hub_for
from fortishell.shell.result import Result
from fortishell.shell.session import Session
from fortishell.ssh.server import ServerThread

warnings.filterwarnings("ignore", message=".*Diffie-Hellman over finite fields.*")

LOCAL = "/api/v2/cmdb/vpn.certificate/local"
RW_PROFILE = ["config system accprofile", "edit rw", "set sysgrp read-write", "set vpngrp read-write", "next",
              "edit ro", "set sysgrp read", "set vpngrp read", "next", "end"]


@dataclass
class Served:
    server: ServerThread
    state: Path

    @property
    def device(self) -> Any:
        return self.server.registry.device_for("admin")

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.server.https_port}"

    @property
    def cert(self) -> Path:
        return self.state / "rest_admin.crt"

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, verify=ssl.create_default_context(cafile=str(self.cert)), headers=headers, timeout=20, **kw)

    def cli(self, *lines: str) -> list[str]:
        """Lines typed into a session of the device (in-process, under the device's hub lock)."""
        sess = Session(self.device)
        out: list[str] = []
        for line in lines:
            box: list[Result] = []

            def work(line: str = line) -> Result:
                box.append(sess.execute(line))
                return box[0]

            hub_for(self.device).run_for(_Quiet(), work)
            out.extend(box[0].lines)
        return out

    def token(self, user: str = "bot", profile: str = "rw") -> str:
        self.cli(*RW_PROFILE, "config system api-user", f"edit {user}", f"set accprofile {profile}", "next", "end")
        lines = self.cli(f"execute api-user generate-key {user}")
        assert lines[0].startswith("New API key: "), lines
        return lines[0].split(": ", 1)[1]

    def config_text(self) -> str:
        """``show full-configuration`` with each ``ENC`` value in clear (fresh ciphertexts every time)."""
        dev = self.device
        with dev.lock:
            text = "\n".join(show_configuration(dev.cmdb, full=True, header=False))
        return re.sub(r"ENC (\S+)", lambda m: f"CLEAR[{secrets.decrypt(m.group(1))}]", text)

    def files(self) -> dict[str, bytes]:
        """Every file of the state directory (configuration, journal ...) by name, as bytes; not the
        logs (debug.log, logins.log: a refused API key is a line there)."""
        return {str(p.relative_to(self.state)): p.read_bytes() for p in sorted(self.state.rglob("*"))
                if p.is_file() and p.name not in ("debug.log", "logins.log")}

    def ssh(self, command: str, user: str = "admin", password: str | None = None) -> str:
        """Run ``command`` (lines) as an SSH exec request; its output."""
        async def go() -> str:
            async with asyncssh.connect("127.0.0.1", self.server.port, username=user, password=password,
                                        known_hosts=None, client_keys=None, agent_path=None) as conn:
                result = await conn.run(command, check=False)
                return str(result.stdout)

        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(asyncio.wait_for(go(), 30))
        finally:
            loop.close()


class _Quiet:
    def emit(self, line: str) -> None:
        pass
