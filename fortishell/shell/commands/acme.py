"""``diagnose sys acme status-full <domain>`` and ``get system acme acc-details`` (text: acme/status.py);
``set enroll-protocol acme2``'s terms question; :func:`create_acme_entry` (the REST door's ACME import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...cli import ast
from ...cmdb.entry import EditBuffer
from ...errors import IncompleteCommand
from ..result import Question, Result
from .tree import Node, extra_words

if TYPE_CHECKING:
    from ..session import Session

LOCAL = ("vpn", "certificate", "local")
ATTR = "enroll-protocol"


def set_with_terms(sess: "Session", buf: EditBuffer, attr_word: str, values: list[str]) -> Result:
    """``set`` in an edit buffer; ``set enroll-protocol acme2`` on a local certificate first asks the
    terms-of-service question (the text seen in public configuration scripts; no Fortinet document
    shows it).  ``n`` leaves the buffer as it was."""
    was_set, before = buf.is_set(ATTR), buf.get(ATTR) if buf.spec.attr(ATTR) is not None else None
    spec = buf.set(attr_word, values)
    if tuple(buf.path) != LOCAL or spec.name != ATTR or buf.get(ATTR) != "acme2" or before == "acme2":
        return Result()
    if was_set:
        buf.set_value(ATTR, before)
    else:
        buf.unset(ATTR)

    def answer(yes: bool) -> Result:
        if yes:
            buf.set(attr_word, values)
        return Result()

    directory = buf.get("acme-ca-url") or "https://acme-v02.api.letsencrypt.org/directory"
    return Result(question=Question([f"By enabling this feature you declare that you agree to the Terms of Service "
                                     f"at {directory}", "Do you want to continue? (y/n)"], sess.guard(answer)))


# the acme-* attributes an ACME entry is created with, in the order `set` takes them
ACME_ATTRS = ("acme-ca-url", "acme-domain", "acme-email", "acme-rsa-key-size", "acme-renew-window")


def create_acme_entry(sess: "Session", name: str, values: dict[str, str]) -> list[str]:
    """A new ``enroll-protocol acme2`` local certificate ``name`` with ``values`` (``acme-domain``
    ...), made as ``config vpn certificate local`` / ``edit`` / ``set ...`` / ``end`` makes it: the
    CLI's parsers and checks, one commit, whose ACME listener orders the certificate (acme/service.py).
    The caller is the operator's ``y`` to the terms question.  Returns the commit's lines (an
    order's failure line; the entry stays, as after ``end``); a refused value changes nothing."""
    from .certs import check_new_name

    check_new_name(sess, name)
    buf = sess.cmdb.begin_edit(LOCAL, name)
    buf.set(ATTR, ["acme2"])
    for attr in ACME_ATTRS:
        if values.get(attr):
            buf.set(attr, [values[attr]])
    return sess.cmdb.commit(buf)


def do_status_full(sess: "Session", rest: list[ast.Word]) -> Result:
    from ...acme.status import status_full

    if not rest:
        raise IncompleteCommand()
    extra_words(rest, 1)
    return Result(status_full(sess.device.acme.status_for(rest[0].text)))


def acc_details_lines(sess: "Session") -> list[str]:
    from ...acme.status import acc_details

    return acc_details(sess.cmdb)


def details_with_acme(sess: "Session", path: tuple[str, ...], names: list[str]) -> list[str]:
    """``get vpn certificate local details [name]``: each acme2 entry's block gains the ``ACME
    details:`` lines KB 211315 shows (acme/status.py), before the block's closing blank line."""
    from ...acme.status import acme_details
    from ...cmdb import certdetails

    out: list[str] = []
    for name in names:
        block = certdetails.details_listing(sess.cmdb, path, name)
        entry = sess.cmdb.entry(path, name)
        if path == LOCAL and entry is not None and entry.get(ATTR) == "acme2":
            domain = str(entry.get("acme-domain") or "").lower()
            extra = acme_details(sess.device.acme.status_for(domain), entry.get("certificate"))
            block = (block[:-1] if block and block[-1] == "" else block) + extra + [""]
        out += block
    return out


def _domains(sess: "Session", typed: list[str]) -> list[tuple[str, str]]:
    return [(d, "Managed domain.") for d in sorted(sess.device.acme.status)] or [("<domain>", "Domain name.")]


SYS_NODE = Node("System.", {
    "acme": Node("ACME client.", {
        "status-full": Node("Show the full status of a managed domain.", handler=do_status_full, args=_domains),
    }),
})
