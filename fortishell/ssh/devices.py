"""The devices ``fortishell serve`` serves: options, and one device per login user (or one shared).

* default: one emulated device per login user, its configuration in
  ``<devices dir>/users/<user>/fortishell.conf`` (several sessions of one user
  share that user's device, as two SSH logins to one box do);
* ``--shared``: one device (``<devices dir>/fortishell.conf``) that every admin edits at once.

The devices dir is the state directory, or ``<state dir>/rooms/<name>`` for
devices seeded with an exercise or a configuration file (``serve --exercise`` /
``--config``): a device without a configuration file of its own starts from a
copy of the seed.  Devices persist across logins and server restarts.

Every interactive (terminal) session is recorded, as ``lab start`` records one, to
``<devices dir>/users/<user>/transcripts/<user>-<what>-<YYYYmmdd-HHMMSS>.txt`` (``what``: the
exercise, the room of a ``--config`` seed, else ``session``), so that ``fortishell lab grade
NAME <devices dir>`` grades each user's latest one.  Logins go to ``<devices dir>/logins.log``.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from prompt_toolkit.history import History

from ..clock import Clock
from ..frontend.history import MaskingFileHistory
from .logins import LOG_NAME, LoginLog
from .users import LiveUsers, UserSource, factory_users

log = logging.getLogger("fortishell.ssh")
TRANSCRIPTS = "transcripts"  # <devices dir>/users/<user>/transcripts/: the recorded sessions


@dataclass
class ServeOptions:
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 2222  # 0: any free port
    shared: bool = False
    users: UserSource = field(default_factory=factory_users)  # LiveUsers: the file read again on change
    clock_factory: Callable[[], Clock] = Clock
    lab_server_url: str | None = None
    # --acme-http-port: where the devices answer ACME http-01 (one port: with per-user devices
    # the first device that orders holds it, the others' orders fail to listen)
    acme_http_port: int | None = None
    # a device without a configuration file of its own starts from a copy of this one
    # (`serve --exercise` / `--config`); None: factory defaults
    seed_config: Path | None = None
    # where the devices live (users/<user>/, or fortishell.conf when shared); None: state_dir
    devices_dir: Path | None = None
    ssh: bool = True  # False: `serve --no-ssh` (the REST door only)
    https_port: int | None = None  # the REST API over HTTPS (fortishell.rest); None: off; 0: any free port
    # transcripts are named <user>-<session_name>-<when>.txt: the exercise (or room); None: "session"
    session_name: str | None = None
    record: bool = True  # record terminal sessions under users/<user>/transcripts/
    log_stream: TextIO | None = None  # login lines here too (serve: standard error); always logins.log

    @property
    def devices_root(self) -> Path:
        return Path(self.devices_dir if self.devices_dir is not None else self.state_dir)


class DeviceRegistry:
    """The devices being served, opened on first login and kept until the server stops."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._devices: dict[str, Any] = {}
        self._histories: dict[str, History] = {}
        self.connections: set[Any] = set()  # open SSH connections (closed with the server)
        self.logins = LoginLog(options.devices_root / LOG_NAME, options.log_stream)
        if isinstance(options.users, LiveUsers) and options.users.note is None:
            options.users.note = self.logins.note

    def user_dir(self, user: str) -> Path:
        return self.options.devices_root / "users" / _safe_name(user)

    def device_for(self, user: str) -> Any:
        from ..shell.device import Device

        key = "" if self.options.shared else user
        with self._lock:
            device = self._devices.get(key)
            if device is None:
                base = self.options.devices_root if self.options.shared else self.user_dir(user)
                _seed(base / "fortishell.conf", self.options.seed_config)
                device = Device.open(base / "fortishell.conf", base, self.options.clock_factory(),
                                     self.options.lab_server_url, journal=True)
                device.acme_http_port = self.options.acme_http_port
                start = getattr(device, "start_background", None)
                if callable(start):
                    start()
                self._devices[key] = device
            return device

    def open_shared(self) -> Any:
        """``--shared``: open the one device now (its file locked) rather than at the first login."""
        assert self.options.shared
        return self.device_for("")

    def open_transcript(self, user: str) -> tuple[Path, IO[str]]:
        """A new transcript file of ``user`` (mode 0600; never an existing one: a second session
        started in the same second is named one second later)."""
        from ..classroom.runner import session_transcript_name

        folder = self.user_dir(user) / TRANSCRIPTS
        folder.mkdir(parents=True, exist_ok=True)
        when = _dt.datetime.now().replace(microsecond=0)
        for _ in range(3600):
            path = folder / session_transcript_name(self.options.session_name or "session", when, user)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                when += _dt.timedelta(seconds=1)
                continue
            return path, os.fdopen(fd, "w", encoding="utf-8")
        raise FileExistsError(f"{folder}: no free transcript name")

    def history_for(self, user: str) -> History:
        with self._lock:
            hist = self._histories.get(user)
            if hist is None:
                path = self.user_dir(user) / "history"
                path.parent.mkdir(parents=True, exist_ok=True)
                hist = self._histories[user] = MaskingFileHistory(str(path))
            return hist

    @property
    def devices(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._devices)

    def close(self) -> None:
        with self._lock:
            devices, self._devices = list(self._devices.values()), {}
        for device in devices:
            try:
                device.close()
            except Exception:  # noqa: BLE001 - closing must go on for the others
                log.exception("closing a device")


def _seed(config: Path, seed: Path | None) -> None:
    """A first login: the device's configuration file starts as a copy of ``seed``."""
    if seed is None or config.exists():
        return
    config.parent.mkdir(parents=True, exist_ok=True)
    tmp = config.with_name(config.name + ".seed")
    shutil.copyfile(seed, tmp)
    tmp.chmod(0o600)
    tmp.replace(config)


def _safe_name(user: str) -> str:
    """A login name as a directory name (no separators, no dot-dot)."""
    cleaned = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in user)
    return cleaned.strip(".") or "_"
