"""One emulated box: configuration, clock, debug state, lab network, EST engine.

The :class:`Device` owns the CMDB and keeps the configuration file in step
with it (every committed change is saved atomically through ``cmdb.store``).
Streaming output (debug trace lines, background renewals) goes through
:meth:`Device.emit` to whatever sink the front end installed; the device itself
never prints.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..errors import ConfigFileError, FortiError
from ..trace import Tracer

SYSTEM_GLOBAL = ("system", "global")
DEFAULT_HOSTNAME = "FortiProxy"

Sink = Callable[[str], None]


class Device:
    """An emulated FortiProxy.  Create with :meth:`open` (or directly for tests)."""

    def __init__(
        self,
        cmdb: Any,
        clock: Clock,
        *,
        config_path: Path | None = None,
        state_dir: Path | None = None,
        lab_server_url: str | None = None,
    ) -> None:
        self.clock = clock
        self.config_path = config_path
        self.state_dir = state_dir
        self.lab_server_url = lab_server_url
        self._sink_lock = threading.RLock()
        self._sink: Sink | None = None
        self.tracer = Tracer(clock, sink=self.emit)
        self._network: Any = None
        self._engine: Any = None
        self.log = _debug_logger(state_dir)
        self.cmdb = cmdb
        self._wire(cmdb)

    # ------------------------------------------------------------ creation
    @classmethod
    def open(
        cls,
        config_path: Path | None,
        state_dir: Path,
        clock: Clock,
        lab_server_url: str | None = None,
    ) -> "Device":
        """Boot from ``config_path`` when it exists, else from factory defaults (and write it)."""
        from ..cmdb import factory, store

        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        if config_path is not None and Path(config_path).exists():
            cmdb = store.load(Path(config_path))
            fresh = False
        else:
            cmdb = factory.factory_cmdb()
            fresh = True
        dev = cls(cmdb, clock, config_path=Path(config_path) if config_path else None,
                  state_dir=state_dir, lab_server_url=lab_server_url)
        if fresh:
            dev.save()
        return dev

    def _wire(self, cmdb: Any) -> None:
        cmdb.on_commit(lambda changes, _c=cmdb: self._on_commit(_c))

    def _on_commit(self, cmdb: Any) -> None:
        if cmdb is self.cmdb:
            self.save()

    # ------------------------------------------------------------ state
    @property
    def hostname(self) -> str:
        entry = self.cmdb.entry(SYSTEM_GLOBAL)
        name = entry.get("hostname") if entry is not None else None
        return str(name) if name else DEFAULT_HOSTNAME

    def save(self) -> None:
        """Write the configuration file (atomic); no-op without a path."""
        if self.config_path is None:
            return
        from ..cmdb import store

        try:
            store.save(self.cmdb, self.config_path)
        except FortiError:
            raise
        except OSError as exc:  # translated at the boundary
            raise ConfigFileError(f"Failed to save configuration: {exc.strerror or exc}") from exc

    def factory_reset(self) -> None:
        """Restore the factory-default configuration, debug state and engine."""
        from ..cmdb import factory

        self.cmdb = factory.factory_cmdb()
        self._wire(self.cmdb)
        self.tracer.reset()
        self._engine = None
        self.save()

    # ------------------------------------------------------------ output
    def set_sink(self, sink: Sink | None) -> Sink | None:
        """Install the front end's line sink; returns the previous one."""
        with self._sink_lock:
            old, self._sink = self._sink, sink
            return old

    def emit(self, line: str) -> None:
        """Stream one line to the front end (thread-safe; dropped when none is attached)."""
        with self._sink_lock:
            sink = self._sink
            if sink is not None:
                sink(line)

    # ------------------------------------------------------------ services
    @property
    def network(self) -> Any:
        if self._network is None:
            from ..lab.network import LabNetwork

            self._network = LabNetwork(
                lab_server_url=self.lab_server_url, state_dir=self.state_dir, clock=self.clock
            )
        return self._network

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from ..est.engine import EstEngine

            self._engine = EstEngine(self.cmdb, self.clock, self.tracer, self.network)
        return self._engine

    def close(self) -> None:
        if self._network is not None:
            try:
                self._network.close()
            finally:
                self._network = None
        self.set_sink(None)


def _debug_logger(state_dir: Path | None) -> logging.Logger:
    """A per-state-dir logger writing internal errors to ``<state_dir>/debug.log``."""
    name = f"fortishell.device.{state_dir}" if state_dir else "fortishell.device"
    log = logging.getLogger(name)
    log.propagate = False
    if state_dir is not None and not log.handlers:
        try:
            Path(state_dir).mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(Path(state_dir) / "debug.log", encoding="utf-8", delay=True)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
        except OSError:
            pass
    return log
