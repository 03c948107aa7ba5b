"""What ``fortishell serve`` tells the trainer about logins: one line each, on standard error and
in ``<devices dir>/logins.log`` (the room's folder).

    2026-12-03T09:15:02Z login ok user=alice from=192.0.2.10:50412 method=password
    2026-12-03T09:15:40Z login failed user=alice from=192.0.2.11:50433 reason=wrong-password
    2026-12-03T09:15:41Z login failed user=mallory from=192.0.2.11:50433 reason=unknown-user
    2026-12-03T09:40:12Z session end user=alice from=192.0.2.10:50412 transcript=users/alice/transcripts/...
    2026-12-03T09:41:00Z session unrecorded user=bob from=192.0.2.11:50440 reason=no-space-left-on-device

Times are UTC (the server's real time, not a device clock).  A line that cannot be written to
the file is still written to standard error (a full disk does not stop logins).
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from pathlib import Path
from typing import TextIO

log = logging.getLogger("fortishell.ssh")
LOG_NAME = "logins.log"


def peer_text(peer: object) -> str:
    """``host:port`` of a socket's peer name (``-`` when unknown)."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return "-"


class LoginLog:
    """Login lines to ``stream`` (standard error for ``serve``) and appended to ``path``."""

    def __init__(self, path: Path | None, stream: TextIO | None = None) -> None:
        self.path = path
        self.stream = stream
        self._lock = threading.Lock()

    def line(self, what: str, user: str, peer: str, **fields: str) -> str:
        when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        extra = "".join(f" {k}={v}" for k, v in fields.items())
        return f"{when} {what} user={one_word(user)} from={peer}{extra}"

    def note(self, text: str) -> None:
        """A line of its own (the users file read again), with the time."""
        when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._put(f"{when} {text}\n")

    def write(self, what: str, user: str, peer: str, **fields: str) -> None:
        self._put(self.line(what, user, peer, **fields) + "\n")

    def _put(self, text: str) -> None:
        with self._lock:
            if self.stream is not None:
                try:
                    self.stream.write(text)
                    self.stream.flush()
                except (OSError, ValueError):
                    pass  # no standard error any more: the file still has it
            if self.path is not None:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    with self.path.open("a", encoding="utf-8") as out:
                        out.write(text)
                except OSError as exc:
                    log.warning("cannot write %s: %s", self.path, exc.strerror or exc)


def one_word(name: str) -> str:
    """A login name as one printable word (a client may send anything)."""
    cleaned = "".join(c if c.isprintable() and not c.isspace() else "?" for c in name)
    return cleaned or '""'
