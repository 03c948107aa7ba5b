"""Running a REST call on a device: under the same lock and sync rules as a CLI command.

The call runs at once on the event loop when the device is free (as the SSH
door's fast lines do, :meth:`OutputHub.try_run_now`), else on a worker thread
(:meth:`OutputHub.run_for`).  Either way it holds the device lock, its commits
are group-committed to the journal and waited for before the answer, and the
command-boundary hook (renewals) runs after it.  Lines the device emits during
the call (traces of a commit listener) go to the debug log, not to SSH sessions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from ..frontend.hub import hub_for
from ..frontend.wakeups import wakeups_of
from ..shell.result import Result
from .envelope import RestError

T = TypeVar("T")
log = logging.getLogger("fortishell.rest")


class _Caller:
    """The hub member of a REST call (device lines meant for it are logged)."""

    def emit(self, line: str) -> None:
        log.debug("device line during a REST call: %s", line)


_CALLER = _Caller()


async def run_on(device: Any, work: Callable[[], T]) -> T:
    """``work()`` as one command of ``device``; its exceptions propagate unchanged."""
    hub = hub_for(device)
    box: list[T] = []

    def command() -> Result:
        box.append(work())
        device.after_command()
        return Result()

    loop = asyncio.get_running_loop()
    done = hub.try_run_now(_CALLER, command)
    if done is not None:
        _, ticket = done
        if device.take_owed_renewals():
            await loop.run_in_executor(None, hub.run_for, _CALLER, _renewals(device))
        errors: list[str] = []
        if ticket:
            durable: asyncio.Future[list[str]] = loop.create_future()
            wakeups = wakeups_of(loop)  # the commits of one journal group wake the loop once
            device.when_durable(ticket, lambda lines: wakeups.resolve(durable, lines))
            errors = await durable
    else:
        result = await loop.run_in_executor(None, hub.run_for, _CALLER, command)
        errors = list(result.lines)
    if errors:  # the change is made but the disk refused it: say so, as the CLI does after `end`
        raise RestError(500, -1, "\n".join(errors))
    return box[0]


def _renewals(device: Any) -> Callable[[], Result]:
    def work() -> Result:
        device.after_command()
        return Result()
    return work
