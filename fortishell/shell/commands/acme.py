"""``diagnose sys acme status-full <domain>`` and ``get system acme acc-details`` (text: acme/status.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...cli import ast
from ...errors import IncompleteCommand
from ..result import Result
from .tree import Node, extra_words

if TYPE_CHECKING:
    from ..session import Session


def do_status_full(sess: "Session", rest: list[ast.Word]) -> Result:
    from ...acme.status import status_full

    if not rest:
        raise IncompleteCommand()
    extra_words(rest, 1)
    return Result(status_full(sess.device.acme.status.get(rest[0].text.strip().lower())))


def acc_details_lines(sess: "Session") -> list[str]:
    from ...acme.status import acc_details

    return acc_details(sess.cmdb)


def _domains(sess: "Session", typed: list[str]) -> list[tuple[str, str]]:
    return [(d, "Managed domain.") for d in sorted(sess.device.acme.status)] or [("<domain>", "Domain name.")]


SYS_NODE = Node("System.", {
    "acme": Node("ACME client.", {
        "status-full": Node("Show the full status of a managed domain.", handler=do_status_full, args=_domains),
    }),
})
