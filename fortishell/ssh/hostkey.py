"""The server's SSH host key: generated once, kept in the state directory.

``<state dir>/ssh_host_ed25519_key`` (OpenSSH private key format, mode 0600),
so a client's ``known_hosts`` entry stays valid across restarts.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh

HOST_KEY_NAME = "ssh_host_ed25519_key"


def load_or_create_host_key(state_dir: Path) -> asyncssh.SSHKey:
    """The host key under ``state_dir``, created (atomically, 0600) on first use."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / HOST_KEY_NAME
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519", comment="fortishell")
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.export_private_key())
    os.replace(tmp, path)
    key.write_public_key(str(path) + ".pub")
    return key
