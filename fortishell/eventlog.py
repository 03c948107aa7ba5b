"""The device's event log (what ``execute log display`` shows).

FortiOS writes certificate expiry warnings and renewal results to its event
log.  The emulator keeps a bounded in-memory log per device; entries are
key=value lines in the FortiOS log style.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from .clock import Clock

# logid values: undocumented for EST; chosen in the range FortiOS uses for
# system events concerning certificates.
LOGID_CERT_EXPIRE_WARNING = "0100022600"
LOGID_CERT_RENEWED = "0100022601"
LOGID_CERT_RENEW_FAILED = "0100022602"


@dataclass(frozen=True)
class LogEntry:
    when: str  # "YYYY-MM-DD HH:MM:SS"
    logid: str
    level: str  # information | warning | error
    logdesc: str
    msg: str

    def render(self) -> str:
        date, time = self.when.split(" ")
        return (
            f'date={date} time={time} logid="{self.logid}" type="event" subtype="system" '
            f'level="{self.level}" vd="root" logdesc="{self.logdesc}" msg="{self.msg}"'
        )


class EventLog:
    """A bounded, thread-safe event log."""

    def __init__(self, clock: Clock, capacity: int = 1000) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: deque[LogEntry] = deque(maxlen=capacity)

    def write(self, logid: str, level: str, logdesc: str, msg: str) -> LogEntry:
        entry = LogEntry(self._clock.now().strftime("%Y-%m-%d %H:%M:%S"), logid, level, logdesc, msg)
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self) -> list[LogEntry]:
        with self._lock:
            return list(self._entries)

    def display(self) -> list[str]:
        """``execute log display``: newest first, numbered, with the FortiOS count line."""
        entries = self.entries()[::-1]
        lines = [f"{len(entries)} logs found.", f"{len(entries)} logs returned.", ""]
        for i, entry in enumerate(entries, 1):
            lines += [f"{i}: {entry.render()}", ""]
        return lines[:-1] if entries else lines[:2]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
