"""``PUT /api/v2/cmdb/<path>/<name>/<mkey>?action=move&before=<key>`` (or ``after=``): the entry's
place in the table, one commit through the CMDB's own ``move`` (the CLI's ``move <a> before|after
<b>``: journaled, commit listeners, order seen by ``show`` and every GET).

As the 7.6 descriptions put it, ``action=move`` takes one of ``before`` / ``after``.  Answers:
either entry missing ``-3`` / 404; neither or both of ``before`` / ``after`` ``-651`` / 500 (both:
our choice, the descriptions ask for one); an object (no entries) 405, as the other verbs that make
no sense for the target.  The body, if any, is not read (the request changes the order only).
A move that leaves the order as it was commits nothing (``revision_changed`` false).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..cmdb.model import Cmdb
from ..cmdb.spec import TableSpec
from .envelope import RestError


def move_entry(cmdb: Cmdb, spec: TableSpec, mkey: str | None, query: Mapping[str, str]) -> str:
    """Move ``mkey``; its key for the envelope's ``mkey``.  FortiError from the CMDB propagates."""
    if not spec.is_table or mkey is None:
        raise RestError(405)
    before, after = query.get("before") or None, query.get("after") or None
    if (before is None) == (after is None):
        raise RestError(500, -651)
    where, other = ("before", str(before)) if before is not None else ("after", str(after))
    if cmdb.entry(spec.path, mkey) is None or cmdb.entry(spec.path, other) is None:
        raise RestError(404, -3)
    cmdb.move(spec.path, mkey, where, other)
    return mkey
