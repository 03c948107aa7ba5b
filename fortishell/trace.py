"""Debug applications, levels and the bracketed trace lines.

FortiOS daemons print debug output as ``[<source line>] <function>: <text>``
once ``diagnose debug application <app> <level>`` and ``diagnose debug enable``
are set.  Producers (the EST engine) emit *events*: a :class:`TracePoint` from
a catalogue (data, never scattered literals) plus values; the tracer turns
them into text only when that application is switched on, and hands the lines
to its sink as they happen (streaming).

This module owns the debug *state* of one emulated device; ``diagnose debug``
handlers change it, nothing here prints.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock

Sink = Callable[[str], None]


@dataclass(frozen=True)
class TracePoint:
    """One kind of debug line: source line number, function name, message template.

    The template uses ``str.format`` fields: ``TracePoint(1728, "est_curl_req",
    "URL: {url}")``.  A template may contain newlines: the continuation lines
    are printed without a bracket prefix, as FortiOS does for its dumps.
    """

    line: int
    func: str
    template: str
    # How the daemon prints it: ``bracket`` ``[1728] func: text`` (EST, ACME); ``plain`` ``func: text``
    # and ``func_line`` ``func:1120 text`` (the SCEP daemon, after sscep: KB 262267).
    form: str = "bracket"

    def render(self, values: Mapping[str, Any]) -> str:
        text = self.template.format(**values)
        if self.form == "plain":
            return f"{self.func}: {text}"
        if self.form == "func_line":
            return f"{self.func}:{self.line} {text}"
        return f"[{self.line}] {self.func}: {text}"


@dataclass(frozen=True)
class TraceEvent:
    app: str
    point: TracePoint | None  # None: a raw block without the bracket prefix
    values: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""  # for raw blocks

    def render(self) -> str:
        if self.point is None:
            return self.text
        return self.point.render(self.values)


# Applications ``diagnose debug application`` accepts, with their help text.
APPLICATIONS: dict[str, str] = {
    "est": "EST (RFC 7030) certificate enrollment daemon",
    "scep": "SCEP certificate enrollment",
    "cmpv2": "CMPv2 certificate enrollment",
    "acme": "ACME certificate enrollment",
    "sslvpn": "SSL-VPN daemon",
    "httpsd": "HTTPS daemon",
}


class Tracer:
    """Debug state of one device and the place trace events go.

    ``levels`` maps application -> level (0 = off, -1 = everything).  Lines
    reach the sink only while ``enabled`` and the application's level is
    non-zero.  Thread-safe: the EST engine may emit from a worker thread.

    ``diagnose debug duration <minutes>`` (default 30, 0 = no limit) runs on the
    device clock: output stops once the clock is ``duration_minutes`` past the
    later of ``diagnose debug enable`` and the last duration change; debug is
    then disabled, as on the device (``diagnose debug info`` shows
    ``disable``; the application levels are kept).  Moving the clock with
    ``execute date``/``time`` counts as time passing.
    """

    def __init__(self, clock: Clock | None = None, sink: Sink | None = None) -> None:
        self._lock = threading.RLock()
        self.clock = clock or Clock()
        self.timestamps = False
        self.levels: dict[str, int] = {}
        self._sink = sink
        self._enabled = False
        self._duration = 30
        self._since = self.clock.now()

    # --------------------------------------------------------------- state
    @property
    def enabled(self) -> bool:
        """Debug output on (``diagnose debug enable``) and its duration not yet over."""
        with self._lock:
            if self._enabled and self._duration and \
                    (self.clock.now() - self._since).total_seconds() >= self._duration * 60:
                self._enabled = False
            return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        with self._lock:
            self._enabled = value
            if value:
                self._since = self.clock.now()

    @property
    def duration_minutes(self) -> int:
        return self._duration

    @duration_minutes.setter
    def duration_minutes(self, minutes: int) -> None:
        with self._lock:
            _ = self.enabled  # an expired period ends before the new one starts
            self._duration = minutes
            self._since = self.clock.now()

    def set_sink(self, sink: Sink | None) -> None:
        with self._lock:
            self._sink = sink

    def set_level(self, app: str, level: int) -> None:
        with self._lock:
            self.levels[app] = level

    def reset(self) -> None:
        """``diagnose debug reset``: every application off, timestamps off, debug disabled."""
        with self._lock:
            self.levels.clear()
            self._enabled = False
            self.timestamps = False

    def active(self, app: str) -> bool:
        with self._lock:
            return self.levels.get(app, 0) != 0 and self._sink is not None and self.enabled

    # --------------------------------------------------------------- output
    def emit(self, app: str, point: TracePoint, **values: Any) -> None:
        """Emit one bracketed line (rendered only when ``app`` is active)."""
        if self.active(app):
            self._write(TraceEvent(app, point, values).render())

    def raw(self, app: str, text: str) -> None:
        """Emit a block printed without a bracket prefix (``est_ctx:`` dumps, ``Done.``-less)."""
        if self.active(app):
            self._write(text)

    def _write(self, text: str) -> None:
        with self._lock:
            sink = self._sink
            stamp = self.clock.now().strftime("%Y-%m-%d %H:%M:%S ") if self.timestamps else ""
        if sink is None:
            return
        for line in text.split("\n"):
            sink(stamp + line if stamp and line else line)
