"""Cancellation of a running EST operation (Ctrl-C, SIGINT/SIGTERM).

A :class:`CancelToken` is handed to the engine for one operation.  Any thread
may call :meth:`CancelToken.cancel`; the engine checks the token between
steps (:meth:`CancelToken.check`), waits such as ``Retry-After`` sleep on it
(:meth:`CancelToken.wait`), and the transport registers a callback that shuts
the connection's socket down, so a blocked read or write returns at once.
No thread is ever killed: the operation ends itself, trace and all, and the
engine stores nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fortishell import errors

Callback = Callable[[], None]


class Cancelled(errors.EstError):
    """The operation was cancelled; nothing was stored (``Command fail. Return code -1``)."""


class CancelToken:
    """A one-shot, thread-safe cancellation flag with callbacks."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: dict[int, Callback] = {}
        self._next = 0

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        """Cancel (idempotent); runs the registered callbacks in the calling thread."""
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callback) -> Callback:
        """Run ``callback`` on cancellation (at once when already cancelled); returns an unregister function."""
        with self._lock:
            if not self._event.is_set():
                key = self._next
                self._next += 1
                self._callbacks[key] = callback

                def unregister() -> None:
                    with self._lock:
                        self._callbacks.pop(key, None)

                return unregister
        callback()
        return lambda: None

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when cancelled (at once or meanwhile)."""
        return self._event.wait(max(0.0, seconds))

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")

