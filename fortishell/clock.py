"""The shell's settable system clock.

FortiOS has a system time that ``execute date`` / ``execute time`` change.  The
emulator keeps a *virtual* clock: an offset from the real time (``running``),
or a frozen instant (``fixed``, for deterministic lab transcripts) that only
moves when set or advanced.  Everything that needs "now" (certificate validity,
renewal, the lab responder in-process) takes a :class:`Clock`.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable

UTC = _dt.timezone.utc


class Clock:
    """A virtual UTC clock.

    ``Clock()`` follows real time; ``Clock(fixed=dt)`` stands still at ``dt``
    until ``set``/``advance``.  Listeners are called with ``(old, new)`` after a
    jump made by ``set`` or ``advance`` (the renewal service checks then).
    """

    def __init__(self, fixed: _dt.datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._fixed: _dt.datetime | None = _aware(fixed) if fixed else None
        self._offset = _dt.timedelta(0)
        self._listeners: list[Callable[[_dt.datetime, _dt.datetime], None]] = []

    @property
    def is_fixed(self) -> bool:
        return self._fixed is not None

    def now(self) -> _dt.datetime:
        with self._lock:
            if self._fixed is not None:
                return self._fixed
            return _dt.datetime.now(UTC) + self._offset

    def set(self, when: _dt.datetime) -> None:
        """Jump to ``when`` (naive values are taken as UTC)."""
        when = _aware(when)
        old = self.now()
        with self._lock:
            if self._fixed is not None:
                self._fixed = when
            else:
                self._offset = when - _dt.datetime.now(UTC)
        self._notify(old, when)

    def advance(self, delta: _dt.timedelta) -> None:
        self.set(self.now() + delta)

    def on_change(self, listener: Callable[[_dt.datetime, _dt.datetime], None]) -> None:
        self._listeners.append(listener)

    def _notify(self, old: _dt.datetime, new: _dt.datetime) -> None:
        for listener in list(self._listeners):
            listener(old, new)


def _aware(when: _dt.datetime) -> _dt.datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_clock_option(text: str) -> _dt.datetime:
    """Parse ``--clock`` values: ``2023-04-06``, ``2023-04-06 22:37:34`` or ISO 8601."""
    text = text.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return _dt.datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return _aware(_dt.datetime.fromisoformat(text))
