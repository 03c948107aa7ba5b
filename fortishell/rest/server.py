"""Serving the REST door over HTTPS on the SSH server's event loop, for its devices.

:func:`start_rest` listens with aiohttp's public runner API (``AppRunner`` +
``TCPSite``) on ``host``/``port`` with the admin certificate of :mod:`.tls`.  The
devices are the SSH server's :class:`~fortishell.ssh.devices.DeviceRegistry`: a
session login gets the device of that user (the shared one with ``--shared``);
an API key is looked up in the devices of the users of the users file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .app import make_app
from .auth import Keys, Sessions
from .tls import server_context

log = logging.getLogger("fortishell.rest")


@dataclass
class RestServer:
    runner: web.AppRunner
    site: web.TCPSite

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when asked for port 0)."""
        return int(self.runner.addresses[0][1])

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_rest(registry: Any, users: Any, *, host: str, port: int, state_dir: Path) -> RestServer:
    """Listen for HTTPS (port 0: any free port)."""

    def devices() -> list[Any]:
        if registry.options.shared:
            return [registry.device_for("")]
        return [registry.device_for(name) for name in users.names]

    def check_login(username: str, password: str) -> str | None:
        user = users.get(username)
        if user is None:
            return "unknown-user"
        return None if user.check_password(password) else "wrong-password"

    app = make_app(Keys(devices), Sessions(), registry.device_for, check_login, logins=registry.logins)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=server_context(state_dir), reuse_address=True)
    await site.start()
    return RestServer(runner, site)
