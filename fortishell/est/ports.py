"""The device services the EST engine and the renewal service use, as typing Protocols.

The engine is given a CMDB, a clock, a tracer and a lab network; these are
exactly the methods it calls (``fortishell.cmdb.model.Cmdb``,
``fortishell.clock.Clock``, ``fortishell.trace.Tracer`` and
``fortishell.lab.network.LabNetwork`` satisfy them; tests pass small fakes).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from fortishell.trace import TracePoint

if TYPE_CHECKING:
    import fortishell.trace

T = TypeVar("T")

TablePath = tuple[str, ...]


class Entry(Protocol):
    def get(self, attr: str) -> Any: ...


class Transaction(Protocol):
    def get(self, path: TablePath, key: str | None = None) -> Any: ...
    def put(self, path: TablePath, key: str | None, values: Mapping[str, Any]) -> Any: ...


class Change(Protocol):
    path: TablePath
    key: Any
    old: Any
    new: Any
    touched: frozenset[str]  # the attributes whose stored value differs (cmdb/entry.py)


class Cmdb(Protocol):
    def entry(self, path: TablePath, key: str | None = None) -> Any: ...
    def entries(self, path: TablePath) -> Iterable[Any]: ...
    def keys(self, path: TablePath) -> Iterable[str]: ...
    def transaction(self) -> AbstractContextManager[Any]: ...
    def on_commit(self, listener: Callable[[Any], None]) -> Any: ...


class Clock(Protocol):
    def now(self) -> dt.datetime: ...
    def on_change(self, listener: Callable[[dt.datetime, dt.datetime], None]) -> None: ...


class Tracer(Protocol):
    def emit(self, app: str, point: TracePoint, **values: Any) -> None: ...
    def raw(self, app: str, text: str) -> None: ...


class Network(Protocol):
    def resolve(self, host: str, port: int) -> tuple[str, int] | None: ...


class EventLog(Protocol):
    def write(self, logid: Any, level: str, action: str, message: str) -> Any: ...


class ServiceHost(Protocol):
    """What the SCEP and ACME client services (``scep/service.py``, ``acme/service.py``) use of
    their device (``fortishell.shell.device.Device``); each adds its own few members."""

    cmdb: Any
    clock: Any
    tracer: "fortishell.trace.Tracer"
    eventlog: Any
    log: logging.Logger

    @property
    def network(self) -> Any: ...

    def run_cancellable(self, work: Callable[[Any], T]) -> T: ...
