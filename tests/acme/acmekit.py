"""Helpers of the ACME tests (a uniquely named module: every tests/ directory has a conftest)."""

from __future__ import annotations

import datetime as dt

from fortishell.shell.device import Device
from fortishell.shell.session import Session

LAB_TIME = dt.datetime(2026, 1, 10, 9, 0, 0, tzinfo=dt.timezone.utc)
CA = ("vpn", "certificate", "ca")
LOCAL = ("vpn", "certificate", "local")


def run(sess: Session, *lines: str) -> list[str]:
    """The output of ``lines``, without the ``new entry 'x' added`` notices of ``edit``; a (y/n)
    question takes the next line as its answer (as script replay does); its text is not output."""
    out: list[str] = []
    pending = None
    for line in lines:
        result = pending.answer(line.strip().lower() == "y") if pending is not None else sess.execute(line)
        pending = result.question
        out += [text for text in result.lines if not text.startswith("new entry '")]
    assert pending is None, f"unanswered question: {pending.text}"
    return out


def trust(device: Device, name: str, pem: str) -> None:
    with device.cmdb.transaction() as tx:
        tx.put(CA, name, {"ca": pem})
