"""The device services the shell uses, as typed seams (``typing.Protocol``).

Command handlers, :class:`~fortishell.shell.session.Session` and the front
ends see a device through :class:`DeviceServices` only; the concrete
:class:`~fortishell.shell.device.Device` satisfies it structurally (mypy checks
that wherever a ``Device`` is handed to a ``Session``).  A test double needs
nothing but these members.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from ..clock import Clock
from ..cmdb.model import Cmdb
from ..eventlog import EventLog
from ..trace import Tracer

if TYPE_CHECKING:  # the EST core loads on first use only
    from ..acme.service import AcmeService
    from ..scep.service import ScepService
    from cryptography import x509

    from ..est.cancel import CancelToken
    from ..est.settings import EstSettings

Sink = Callable[[str], None]


class Enrollment(Protocol):
    """The EST engine (``fortishell.est.engine.EstEngine``) as the device drives it."""

    def generate(self, settings: EstSettings, cancel: CancelToken | None = None, /) -> list[str]: ...

    def regenerate(self, name: str, cancel: CancelToken | None = None, /) -> list[str]: ...

    def renew(self, name: str, cancel: CancelToken | None = None, /) -> list[str]: ...

    def fetch_cacerts(self, settings: EstSettings, cancel: CancelToken | None = None,
                      /, *, bootstrap: bool = False) -> list[x509.Certificate]: ...


class Network(Protocol):
    """The lab network as ``execute ping`` uses it."""

    def ping(self, host: str, count: int = 5) -> list[str]: ...


class DeviceServices(Protocol):
    """What a session and its command handlers may use of a device."""

    cmdb: Cmdb
    clock: Clock
    tracer: Tracer
    eventlog: EventLog
    log: logging.Logger  # the internal debug log (tracebacks of unexpected errors)
    log_category: str  # `execute log filter category`
    lock: threading.RLock  # one command at a time on the device

    @property
    def hostname(self) -> str: ...

    @property
    def engine(self) -> Enrollment: ...

    @property
    def network(self) -> Network: ...

    @property
    def acme(self) -> AcmeService: ...

    @property
    def scep(self) -> ScepService: ...

    def attach(self, session: Any) -> None: ...

    def after_command(self) -> None: ...

    def deferred_sync(self) -> AbstractContextManager[None]: ...

    def sync(self) -> list[str]: ...

    def enroll(self, settings: EstSettings) -> list[str]: ...

    def regenerate(self, name: str) -> list[str]: ...

    def fetch_cacerts(self, settings: EstSettings, *, bootstrap: bool = False) -> list[x509.Certificate]: ...

    def cancel(self, thread: int | None = None) -> bool: ...

    def factory_reset(self) -> None: ...

    def set_sink(self, sink: Sink | None) -> Sink | None: ...

    def emit(self, line: str) -> None: ...
