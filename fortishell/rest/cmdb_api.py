"""``/api/v2/cmdb/<path>/<name>[/<mkey>]``: every table and object of the schema, generically.

:func:`handle` runs under the device lock (``runner.py``) and returns the
fields of a success envelope or raises :class:`RestError`.  Writes go through the
CMDB's own edit buffers and ``commit`` (validation, commit listeners, journal),
exactly the path of ``config``/``edit``/``set``/``next``: a refused write leaves
its buffer behind and the configuration as it was.

Methods as on FortiOS 7.6: GET a table (a list, also for one entry) or an object
(an object); POST a table creates (``-5`` / 500 when the key exists;
``action=clone&nkey=`` clones the entry of the URL); PUT updates an entry or an
object (``-3`` / 404 for a missing entry; ``action=move&before|after=`` reorders the
table, ``moves.py``; a new key in the body renames the entry,
references following as with the CLI's ``rename``, ``-5`` / 500 when the new name
is taken, the envelope's ``mkey`` the new name); DELETE removes an entry (``-23`` /
500 while it is referenced).  Our choices where the device is not documented: a
method that makes no sense for the target (POST on an object, DELETE of a
whole table, PUT of a table) answers 405.  Which vdom a request may touch is
settled before it gets here (``app.py`` with ``vdoms.py``: 403 elsewhere).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..cmdb.entry import Entry
from ..cmdb.model import Cmdb
from ..cmdb.spec import AttrSpec, TableSpec
from ..cmdb.types import entry_key
from ..errors import FortiError
from .envelope import RestError
from .memo import EntryMemo
from .moves import move_entry
from .query import Clause, formatted, int_param, keep, parse_filters
from .serialize import apply_json, entry_json, redraw, secret_fields, table_schema, with_datasource

_BOOT = os.urandom(8).hex()


@dataclass(frozen=True)
class Call:
    """One CMDB request: ``method``, the URL's ``path`` (``vpn.certificate``), ``name``, ``mkey``."""

    method: str
    path: str
    name: str
    mkey: str | None
    query: Mapping[str, str]  # the query parameters (the last of a repeated one)
    filters: tuple[str, ...] = ()  # every `filter` parameter
    body: Any = None


class Fresh(dict[str, Any]):
    """A GET answer holding at least one secret, its ``ENC`` ciphertexts drawn for this answer (as
    the device's ``show`` draws a new one each time): the read cache does not keep it."""


NESTED = ("*",)  # Rows.read: a secret somewhere in a nested table


class Rows:
    """``entry_json`` of committed entries, kept by entry (``memo.EntryMemo``): a table read after
    one commit serializes the changed entry again, not the table; at most ``size`` rows.  The
    rows handed out are shared: callers must not change them.  A row holding a secret is kept
    too, but each answer gets a copy with fresh ``ENC`` ciphertexts (:meth:`read`)."""

    def __init__(self, size: int = 1024) -> None:
        self._rows: EntryMemo[tuple[dict[str, Any], tuple[AttrSpec, ...] | None]] = EntryMemo(size)

    def row(self, entry: Entry, *, defaults: bool, skip: bool) -> dict[str, Any]:
        return self.read(entry, defaults=defaults, skip=skip)[0]

    def read(self, entry: Entry, *, defaults: bool, skip: bool) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The entry's row and the names of its fields holding a secret (drawn anew for this
        answer; ``("*",)``: somewhere in a nested table)."""
        key = (id(entry), defaults, skip)
        hit = self._rows.get(key, (entry,))
        if hit is None:
            row = entry_json(entry, defaults=defaults, skip=skip)
            hit = (row, secret_fields(entry, row))
            self._rows.put(key, (entry,), hit)
            if hit[1] is None:
                return row, NESTED  # a nested table may hold a secret: this row was made for this answer
        row, fields = hit
        if fields is None:
            return entry_json(entry, defaults=defaults, skip=skip), NESTED
        if not fields:
            return row, ()
        return redraw(entry, row, fields), tuple(a.name for a in fields)


def _shows(secret: tuple[str, ...], fields: list[str]) -> bool:
    """Whether an answer limited to ``fields`` (``format``; all when empty) shows one of ``secret``."""
    return bool(secret) and (not fields or secret is NESTED or any(f in secret for f in fields))


ROWS = Rows()


def revision(cmdb: Cmdb) -> str:
    """The configuration revision (changes with every commit of the device)."""
    return _revision(id(cmdb), cmdb.version)


@functools.lru_cache(maxsize=64)
def _revision(ident: int, version: int) -> str:  # a write asks before and after, a GET once: each hashed once
    return hashlib.md5(f"{_BOOT}:{ident}:{version}".encode(), usedforsecurity=False).hexdigest()


def table_for(cmdb: Cmdb, path: str, name: str) -> TableSpec:
    spec = cmdb.schema.table(tuple(path.split(".")) + (name,))
    if spec is None:
        raise RestError(404)
    return spec


def handle(cmdb: Cmdb, call: Call) -> dict[str, Any]:
    spec = table_for(cmdb, call.path, call.name)
    if not spec.is_table and call.mkey is not None:
        raise RestError(404, -3)  # an object has no entries
    try:
        if call.method == "GET":
            return _get(cmdb, spec, call)
    except FortiError as exc:
        raise RestError.from_cli(exc, 404 if exc.return_code == -3 else 500) from None
    before = revision(cmdb)
    try:
        mkey = _write(cmdb, spec, call)
    except FortiError as exc:  # a CLI check outside the body (key length, references ...)
        raise _unchanged(RestError.from_cli(exc, 404 if exc.return_code == -3 else 500), before) from None
    except RestError as err:
        raise _unchanged(err, before) from None
    after = revision(cmdb)
    fields: dict[str, Any] = {}
    if mkey is not None:
        fields["mkey"] = mkey
    fields.update(revision=after, old_revision=before, revision_changed=after != before)
    return fields


def _unchanged(err: RestError, rev: str) -> RestError:
    """A refused write says the configuration did not change, as the device's write answers do
    (Ansible's ``state: absent`` of a missing entry reads ``revision_changed`` to report ok)."""
    err.extra.update(revision=rev, old_revision=rev, revision_changed=False)
    return err


# ------------------------------------------------------------------ reads
def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name) not in (None, "", "0", "false")


def _meta(cmdb: Cmdb, spec: TableSpec, row: dict[str, Any], key: str | None) -> dict[str, Any]:
    refs = cmdb.references(spec.path, key) if key is not None else 0
    return {**row, "q_ref": refs, "q_static": False, "q_no_rename": False, "q_global_entry": False,
            "q_type": 0, "q_path": ".".join(spec.path[:-1]), "q_name": spec.name,
            "q_mkey_type": "string" if spec.key else "", "q_no_edit": False}


def _get(cmdb: Cmdb, spec: TableSpec, call: Call) -> dict[str, Any]:
    q = call.query
    action = q.get("action")
    if action == "schema":
        return {"revision": revision(cmdb), "results": table_schema(spec)}
    if action == "default":
        return {"revision": revision(cmdb), "results": {a.name: a.default for a in spec.attrs if not a.hidden
                                                        and a.type != "password"}}
    if action == "revision":  # "the CMDB revision for this object type": results as an object (choice)
        return {"revision": revision(cmdb), "results": {"revision": revision(cmdb)}}
    fields = [f for f in (q.get("format") or "").split("|") if f]
    meta = _flag(q, "with_meta")
    sources = _flag(q, "datasource")
    defaults = not _flag(q, "exclude-default-values")
    skip = _flag(q, "skip")
    if not spec.is_table:
        entry = cmdb.entry(spec.path)
        assert entry is not None
        row, secret = ROWS.read(entry, defaults=defaults, skip=skip)
        fresh = _shows(secret, fields)
        if sources:
            row = with_datasource(spec, row, cmdb)
        row = formatted(row, fields, None)
        out: dict[str, Any] = {"revision": revision(cmdb), "results": _meta(cmdb, spec, row, None) if meta else row}
        return Fresh(out) if fresh else out
    if call.mkey is not None:
        entry = cmdb.entry(spec.path, call.mkey)
        if entry is None:
            raise RestError(404, -3)
        entries = [entry]
    else:
        entries = cmdb.entries(spec.path)
    filters = parse_filters(call.filters)
    if q.get("key") and "pattern" in q:  # key=<field>&pattern=<value>: filter=<field>==<value>
        filters.append([Clause(str(q["key"]), "==", str(q["pattern"]))])
    start, count = int_param(q, "start") or 0, int_param(q, "count")
    scanned = int_param(q, "unfiltered_count")  # at most this many entries looked at, filters aside
    rows = []
    fresh = False
    for entry in entries if scanned is None else entries[:scanned]:
        row, secret = ROWS.read(entry, defaults=defaults, skip=skip)
        if filters and not keep(row, filters):
            continue
        fresh = fresh or _shows(secret, fields)
        rows.append((entry.key, row))
    matched = len(rows)
    rows = rows[start:] if count is None else rows[start:start + count]
    results = []
    for k, r in rows:
        if sources:
            r = with_datasource(spec, r, cmdb)
        r = formatted(r, fields, spec.key)
        results.append(_meta(cmdb, spec, r, k) if meta else r)
    out = {"revision": revision(cmdb), "size": len(entries), "matched_count": matched,
           "next_idx": start + len(results) - 1, "results": results}
    return Fresh(out) if fresh else out


# ------------------------------------------------------------------ writes
def _body(call: Call) -> Mapping[str, Any]:
    body = {} if call.body is None else call.body
    if not isinstance(body, dict):
        raise RestError(500, -651, "JSON object expected")
    return body


def _write(cmdb: Cmdb, spec: TableSpec, call: Call) -> str | None:
    method, mkey = call.method, call.mkey
    if method == "POST":
        if not spec.is_table:
            raise RestError(405)
        if call.query.get("action") == "clone":
            nkey = call.query.get("nkey")
            if mkey is None or not nkey:
                raise RestError(500, -651)
            if cmdb.entry(spec.path, mkey) is None:
                raise RestError(404, -3)
            cmdb.clone(spec.path, mkey, str(nkey))
            return str(nkey)
        if mkey is not None:
            raise RestError(405)
        body = _body(call)
        key = body.get(spec.key) if spec.key else None
        if isinstance(key, int) and not isinstance(key, bool):
            key = str(key)
        if not isinstance(key, str) or not key:
            raise RestError(500, -651, f"Attribute '{spec.key}' MUST be set.")
        if cmdb.entry(spec.path, key) is not None:
            raise RestError(500, -5)
        _edit(cmdb, spec, key, body)
        return key
    if method == "PUT":
        if call.query.get("action") == "move":
            return move_entry(cmdb, spec, mkey, call.query)
        body = _body(call)
        if spec.is_table:
            if mkey is None:
                raise RestError(405)
            if cmdb.entry(spec.path, mkey) is None:
                raise RestError(404, -3)
            if spec.key and spec.key in body and body[spec.key] is not None:
                new = entry_key(spec, str(body[spec.key]))
                if new != mkey:
                    return _renamed(cmdb, spec, mkey, new, body)
        _edit(cmdb, spec, mkey, body)
        return mkey
    if method == "DELETE":
        if not spec.is_table or mkey is None:
            raise RestError(405)
        if cmdb.entry(spec.path, mkey) is None:
            raise RestError(404, -3)
        cmdb.delete(spec.path, mkey)
        return mkey
    raise RestError(405)


def _renamed(cmdb: Cmdb, spec: TableSpec, old: str, new: str, body: Mapping[str, Any]) -> str:
    """PUT naming a new key: the entry renamed with the body's values, in one commit, as the
    device renames (references follow, as the CLI's ``rename``); ``-5`` when ``new`` exists."""
    buf = cmdb.begin_edit(spec.path, old)
    apply_json(buf, {k: v for k, v in body.items() if k != spec.key})
    try:
        cmdb.commit_renamed(buf, new)
    except FortiError as exc:
        raise RestError.from_cli(exc) from None
    return new


def _edit(cmdb: Cmdb, spec: TableSpec, key: str | None, body: Mapping[str, Any]) -> None:
    """One ``edit``: a fresh buffer, the body's values, one commit (all or nothing)."""
    buf = cmdb.begin_edit(spec.path, key)
    apply_json(buf, dict(body))
    if not buf.is_new and buf.to_entry() == cmdb.entry(spec.path, key):
        return  # nothing changes: no commit, the revision stays (Ansible's second run: changed=false)
    try:
        cmdb.commit(buf)
    except FortiError as exc:
        raise RestError.from_cli(exc) from None
