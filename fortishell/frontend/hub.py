"""The output hub of one device: which session a device line belongs to."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from ..shell.result import Result

if TYPE_CHECKING:
    from ..shell.device import Device

Sink = Callable[[str], None]


class Member(Protocol):
    """A session attached to a hub: it takes the lines meant for it."""

    def emit(self, line: str) -> None: ...


class OutputHub:
    """The output sink of one device, shared by every session attached to it.

    A line emitted on a thread that is running a session's command goes to that
    session only (the trace of ``execute ... est`` belongs to whoever typed it);
    any other line (background renewals, another thread) goes to every attached
    session.  ``lock`` serialises commands of all sessions on the device: the
    CMDB sees one command at a time, as a real box's configuration daemon does.
    """

    def __init__(self, device: "Device") -> None:
        self.device = device
        self.lock = threading.RLock()
        self._members: list[Member] = []
        self._members_lock = threading.Lock()
        self._local = threading.local()
        self._previous: Sink | None = None

    def attach(self, member: Member) -> None:
        with self._members_lock:
            if not self._members:
                self._previous = self.device.set_sink(self.emit)
            self._members.append(member)

    def detach(self, member: Member) -> None:
        with self._members_lock:
            if member in self._members:
                self._members.remove(member)
            if not self._members:
                self.device.set_sink(self._previous)
                self._previous = None

    def run_for(self, member: Member, work: Callable[[], Result]) -> Result:
        """Run ``work`` (on the caller's thread) as ``member``'s command, under the device lock.

        Its commits are waited for on disk after the lock is released (group
        commit with the other sessions' commits), before the reply.
        """
        with self.device.deferred_sync():
            with self.lock:
                self._local.target = member
                try:
                    result = work()
                finally:
                    self._local.target = None
        errors = self.device.sync()
        return replace(result, lines=[*result.lines, *errors]) if errors else result

    def try_run_now(self, member: Member, work: Callable[[], Result]) -> tuple[Result, int] | None:
        """Run ``work`` on the calling (event-loop) thread if the device is free at once.

        Returns ``(result, commit ticket)``: the caller waits for the ticket
        (``device.wait_durable``) without blocking its loop; None when another
        command holds the device (run it on a worker thread then).  Renewals due
        after the command are owed (``device.take_owed_renewals``).
        """
        if not self.lock.acquire(blocking=False):
            return None
        try:
            device_lock = self.device.lock
            if not device_lock.acquire(blocking=False):
                return None
            try:
                with self.device.deferred_sync(), self.device.inline():
                    self._local.target = member
                    try:
                        result = work()
                    finally:
                        self._local.target = None
            finally:
                device_lock.release()
        finally:
            self.lock.release()
        return result, self.device.take_sync_ticket()

    def emit(self, line: str) -> None:
        target: Member | None = getattr(self._local, "target", None)
        if target is not None:
            target.emit(line)
            return
        with self._members_lock:
            members = list(self._members)
        for member in members:
            member.emit(line)


_HUBS: "weakref.WeakKeyDictionary[Device, OutputHub]" = weakref.WeakKeyDictionary()
_HUBS_LOCK = threading.Lock()


def hub_for(device: "Device") -> OutputHub:
    """The one :class:`OutputHub` of ``device``."""
    with _HUBS_LOCK:
        hub = _HUBS.get(device)
        if hub is None:
            hub = _HUBS[device] = OutputHub(device)
        return hub
