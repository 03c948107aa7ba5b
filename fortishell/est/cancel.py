"""Cancellation of a running enrollment (Ctrl-C, SIGINT/SIGTERM) and the one driver loop of the flows.

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
from collections.abc import Callable, Generator
from typing import TypeVar

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



E = TypeVar("E")
R = TypeVar("R")
T = TypeVar("T")


def drive(flow: Generator[E, R | None, T], perform: Callable[[E], R | None], token: CancelToken, *,
          thrown: tuple[type[BaseException], ...], recheck: bool = False) -> T:
    """Perform a sans-IO flow's events until it returns: the one driver loop of the enrollment
    protocols (``est/engine.py``, ``acme/driver.py``).

    ``perform`` turns an event into the flow's reply (a request into a response, a store into its
    result, a wait into a sleep on ``token``).  An exception of ``thrown`` (a cancellation, a
    failure the flow must see) is thrown into the flow, which ends its trace and undoes what it
    must; anything else propagates.  ``recheck``: a reply that arrives after a cancellation (a
    request cut short) counts as cancelled.  The flow is always closed."""
    reply: R | None = None
    pending: BaseException | None = None
    try:
        while True:
            try:
                event = flow.throw(pending) if pending is not None else flow.send(reply)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            pending, reply = None, None
            try:
                reply = perform(event)
                if recheck and token.cancelled:
                    raise Cancelled("cancelled")
            except thrown as exc:
                pending = exc
    finally:
        flow.close()
