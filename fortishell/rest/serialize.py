"""Schema specs <-> JSON: the one serializer of the REST door (no per-table code).

* :func:`entry_json` — a committed entry as the device returns it: every
  attribute (``skip``: those the CLI shows), integers as numbers, multi-value options as one space-separated
  string, secrets as ``ENC ...``, nested tables as lists, ``q_origin_key``.
* :func:`apply_json` — a request body onto an :class:`EditBuffer` through the very
  parsers ``set`` uses (``EditBuffer.set``), in schema order so that conditional
  attributes see their parent's new value; nested tables through nested buffers.
  Names must be exact (the CLI's abbreviations are a shell convenience).
* :func:`schema_json` — ``?action=schema``.

Choices (FortiOS does not document them): an unknown attribute is refused as the
CLI refuses it (``command parse error``, -61, 500); ``q_*`` fields and read-only
fields sent back unchanged (a GET-modify-PUT round trip) are ignored; ``null``
unsets an attribute; a secret sent back in its ``ENC`` form keeps its value.
"""

from __future__ import annotations

from typing import Any

from ..cmdb import secrets
from ..cmdb.entry import EditBuffer, Entry
from ..cmdb.types import numeric_key
from ..cmdb.spec import INTEGER, EPOCH, MULTI_OPTION, PASSWORD, VDOM_LIST, AttrSpec, TableSpec
from ..errors import ConfigFileError, FortiError, ParseError, ValueParseError
from .envelope import RestError

_NUMERIC = (INTEGER, EPOCH)


# ------------------------------------------------------------------ out
def value_json(spec: AttrSpec, value: Any) -> Any:
    if spec.type in _NUMERIC:
        return int(value) if value != "" else 0
    if spec.type == MULTI_OPTION:
        return " ".join(value)
    if spec.type == VDOM_LIST:  # a member table on the device: references as [{"name": ...}]
        return [{"name": v, "q_origin_key": v} for v in value]
    if spec.type == PASSWORD:
        return secrets.encrypt(value) if value else ""
    return "" if value is None else str(value)


# The attributes entry_json writes of a table, the key and hidden attributes left out; made once
# per spec.  Keyed by id() with the spec kept in the value: a spec is not hashable (a default may
# be a list), and the schema's specs live as long as the process.
_PLANS: dict[int, tuple[TableSpec, tuple[AttrSpec, ...]]] = {}


def _plan(spec: TableSpec) -> tuple[AttrSpec, ...]:
    hit = _PLANS.get(id(spec))
    if hit is None or hit[0] is not spec:
        hit = (spec, tuple(a for a in spec.attrs if a.name != spec.key and not a.hidden))
        _PLANS[id(spec)] = hit
    return hit[1]


def entry_json(entry: Entry, *, defaults: bool = True, skip: bool = False) -> dict[str, Any]:
    """``defaults=False``: attributes at their default are left out (``exclude-default-values``).
    ``skip``: attributes the CLI skips under the entry's values (their ``when`` condition does not
    hold: ``scep-url`` of an ``enroll-protocol none`` entry) are left out, as ``skip=1`` does on the
    device; without it every attribute is there, as the device answers."""
    spec = entry.spec
    out: dict[str, Any] = {}
    if spec.key is not None:  # an integer key is a number, as every integer (a text key a file kept: text)
        key = str(entry.key)
        out[spec.key] = out["q_origin_key"] = int(key) if numeric_key(spec, key) else key
    values = entry.values
    for attr in _plan(spec):
        if skip and not entry.visible(attr):
            continue
        value = values.get(attr.name, attr.default)  # what Entry.get answers (not copied: only read)
        if not defaults and value == attr.default:
            continue
        out[attr.name] = value_json(attr, value)
    for sub in spec.subtables:
        nested = entry.sub(sub.name)
        if isinstance(nested, dict):
            out[sub.name] = [entry_json(e, defaults=defaults, skip=skip) for e in nested.values()]
        else:
            out[sub.name] = entry_json(nested, defaults=defaults, skip=skip)
    return out


# ------------------------------------------------------------------ secrets
# The password attributes of a table, and whether a nested table may hold one; made once per spec
# (keyed as _PLANS).  A row holding a secret must not be handed out twice with one ciphertext: the
# device's `show` and REST GET draw a new ``ENC`` value on every answer (Rows in cmdb_api.py).
_SECRETS: dict[int, tuple[TableSpec, tuple[AttrSpec, ...], bool]] = {}


def _secret_plan(spec: TableSpec) -> tuple[tuple[AttrSpec, ...], bool]:
    hit = _SECRETS.get(id(spec))
    if hit is None or hit[0] is not spec:
        nested = any(top or deeper for top, deeper in map(_secret_plan, spec.subtables))
        hit = (spec, tuple(a for a in _plan(spec) if a.type == PASSWORD), nested)
        _SECRETS[id(spec)] = hit
    return hit[1], hit[2]


def secret_fields(entry: Entry, row: dict[str, Any]) -> tuple[AttrSpec, ...] | None:
    """The attributes of ``row`` (``entry_json(entry)``) holding a secret, to be drawn again for
    each answer (:func:`redraw`); ``()`` when it holds none; None when a nested table of the spec
    may hold one (the row is then serialized anew for each answer: the acme object only)."""
    top, nested = _secret_plan(entry.spec)
    if nested:
        return None
    if not top:
        return ()
    return tuple(a for a in top if row.get(a.name))


def redraw(entry: Entry, row: dict[str, Any], fields: tuple[AttrSpec, ...]) -> dict[str, Any]:
    """``row`` with a fresh ``ENC`` ciphertext for each of ``fields`` (a new dict; ``row`` is kept)."""
    out = dict(row)
    values = entry.values
    for attr in fields:
        out[attr.name] = value_json(attr, values.get(attr.name, attr.default))
    return out


# ------------------------------------------------------------------ datasource=1
VDOM_TABLE = "system.vdom"  # the table a vdom member names (not in our schema: the device's one vdom)


def with_datasource(spec: TableSpec, row: dict[str, Any], cmdb: Any) -> dict[str, Any]:
    """``datasource=1``: each member of a reference list names the table it comes from, as the
    device writes it (``{"name": "root", "q_origin_key": "root", "datasource": "system.vdom"}``).
    Our choice where unpublished: a single-value reference stays a plain string (the device's
    answer for those carries no datasource field), and a member found in none of its tables names
    the first one.  Nested tables are annotated alike.  A new dict; ``row`` is not changed."""
    out = dict(row)
    for attr in _plan(spec):
        value = out.get(attr.name)
        if not isinstance(value, list):
            continue
        if attr.type == VDOM_LIST:
            out[attr.name] = [{**m, "datasource": VDOM_TABLE} for m in value]
        elif attr.datasource:
            out[attr.name] = [{**m, "datasource": _source(cmdb, attr, m.get("name"))} for m in value]
    for sub in spec.subtables:
        nested = out.get(sub.name)
        if isinstance(nested, list):
            out[sub.name] = [with_datasource(sub, m, cmdb) for m in nested]
        elif isinstance(nested, dict):
            out[sub.name] = with_datasource(sub, nested, cmdb)
    return out


def _source(cmdb: Any, attr: AttrSpec, name: Any) -> str:
    for path in attr.datasource:
        if cmdb.entry(path, str(name)) is not None:
            return ".".join(path)
    return ".".join(attr.datasource[0])


# ------------------------------------------------------------------ in
def _invalid(name: str, value: Any) -> RestError:
    text = str(value)[:64]
    return RestError.from_cli(ValueParseError(f"invalid value for {name}: {text}", text, -651))


def _words(spec: AttrSpec, value: Any) -> list[str]:
    """The CLI words a JSON value stands for (``set <attr> <words>``); RestError when it cannot."""
    if isinstance(value, bool):
        raise _invalid(spec.name, value)
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, str):
        if spec.multi:
            return value.split()
        return [value]
    if isinstance(value, list):
        words: list[str] = []
        for item in value:  # references / multi-values as [{"name": ...}] or ["a", "b"]
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                words.append(item["name"])
            elif isinstance(item, str):
                words.append(item)
            else:
                raise _invalid(spec.name, value)
        if not spec.multi and len(words) > 1:
            raise _invalid(spec.name, value)
        return words
    raise _invalid(spec.name, value)


def _unchanged(buf: EditBuffer, spec: AttrSpec, value: Any) -> bool:
    """A read-only or secret field sent back as a GET returned it."""
    current = buf.get(spec.name)
    if spec.secret and isinstance(value, str) and secrets.is_encrypted(value):
        try:
            return bool(secrets.decrypt(value) == current)
        except ConfigFileError:
            return False
    return bool(value == value_json(spec, current))


def apply_json(buf: EditBuffer, body: dict[str, Any]) -> None:
    """Set the attributes of ``body`` on ``buf``; a :class:`RestError` leaves the caller's
    buffer to be dropped (nothing is committed)."""
    spec = buf.spec
    for name in body:
        if spec.attr(name) is not None or name.startswith("q_") or name == spec.key \
                or spec.subtable(name) is not None:
            continue
        raise RestError.from_cli(ParseError(name))
    try:
        for attr in spec.in_order(body):  # the body's attributes in the schema's order, as before
            if attr.name == spec.key:
                continue
            value = body[attr.name]
            if (attr.readonly or attr.hidden or attr.volatile) and _unchanged(buf, attr, value):
                continue
            if value is None:
                buf.unset(attr.name)
                continue
            if attr.secret and isinstance(value, str) and secrets.is_encrypted(value) \
                    and _unchanged(buf, attr, value):
                continue
            if not buf.may_set(attr):
                if not buf.visible(attr) and _unchanged(buf, attr, value):
                    continue  # skipped under the entry's values, sent back as a GET without skip gave it
                raise ParseError(attr.name)  # read-only, or absent under the current values
            buf.set(attr.name, _words(attr, value))
        for sub in spec.subtables:
            if sub.name in body:
                _apply_sub(buf, sub, body[sub.name])
    except FortiError as exc:
        raise RestError.from_cli(exc) from None


def _apply_sub(buf: EditBuffer, sub: TableSpec, value: Any) -> None:
    if not sub.is_table:
        if not isinstance(value, dict):
            raise _invalid(sub.name, value)
        child = buf.begin_edit(sub.name)
        apply_json(child, value)
        buf.cmdb.commit(child)  # into the parent buffer: committed with it
        return
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _invalid(sub.name, value)
    for item in value:
        key = item.get(sub.key) if sub.key else None
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise _invalid(sub.name, item)
        child = buf.begin_edit(sub.name, str(key))
        apply_json(child, item)
        buf.cmdb.commit(child)


# ------------------------------------------------------------------ schema
_TYPE_NAMES = {"string": "string", "password": "password", "integer": "integer", "epoch": "integer",
               "option": "option", "multi-option": "option", "ipv4": "ipv4-address",
               "datasource": "string", "pem": "user", "ipv4-classnet": "ipv4-classnet-any",
               "ipv6-prefix": "ipv6-prefix", "vdom-list": "string"}


def attr_schema(attr: AttrSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": attr.name, "category": "unitary", "type": _TYPE_NAMES.get(attr.type, attr.type),
                           "help": attr.help}
    if attr.size is not None:
        out["size"] = attr.size
    if attr.range is not None:
        out["min-value"], out["max-value"] = attr.range
    if attr.type in _NUMERIC:
        out["default"] = attr.default
    elif attr.type != PASSWORD and attr.default not in ("", None):
        out["default"] = value_json(attr, attr.default)
    if attr.options:
        out["options"] = [{"name": o.value, "help": o.help} for o in attr.options]
    if attr.multi:
        out["multiple_values"] = True
    if attr.required:
        out["required"] = True
    if attr.readonly:
        out["readonly"] = True
    if attr.datasource:
        out["datasource"] = [".".join(p) for p in attr.datasource]
    return out


def table_schema(spec: TableSpec, *, top: bool = True) -> dict[str, Any]:
    children: dict[str, Any] = {}
    for attr in spec.attrs:
        if not attr.hidden:
            children[attr.name] = attr_schema(attr)
    for sub in spec.subtables:
        child = table_schema(sub, top=False)
        child["member_table"] = sub.is_table
        children[sub.name] = child
    out: dict[str, Any] = {"name": spec.name, "category": "table" if spec.is_table else "complex",
                           "help": spec.help, "children": children}
    if top:
        out["path"] = ".".join(spec.path[:-1])
        out["category"] = "table" if spec.is_table else "unitary"
    if spec.key is not None:
        out["mkey"] = spec.key
        key_attr = spec.attr(spec.key)
        out["mkey_type"] = "integer" if key_attr is not None and key_attr.type == INTEGER else "string"
    return out

