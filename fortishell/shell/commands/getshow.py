"""get / show / show full-configuration in every mode.

* root: ``get vpn certificate local est-test101`` (entry), ``get vpn certificate
  local`` (table listing), ``get system status``, ``get system console``;
  ``show`` / ``show full-configuration`` (whole configuration, with the
  ``#config-version=`` header: the real CLI prints it for a root ``show`` too, as
  the output doubles as a backup) and ``show [full-configuration] <path> [key]``.
* table: ``get`` (listing), ``get <key>``, ``show [full-configuration] [<key>]``.
* entry / object: ``get`` and ``show`` of the entry being edited, including
  values set but not yet committed (the real CLI shows the edit buffer).
A missing entry is looked up like a datasource: ``entry not found in datasource`` (-3).
Nested levels show their top-level entry (wrapped from its config path down).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ...cli import ast
from ...errors import IncompleteCommand, ParseError
from ..context import ENTRY, OBJECT, TABLE
from ..result import Result
from . import system
from .config import entry_not_found, require_table, resolve_table_path
from .tree import CommandHandlers

if TYPE_CHECKING:
    from ..session import Session

# virtual leaves under a schema prefix that are commands, not tables
GET_EXTRA: dict[tuple[str, ...], list[str]] = {("system",): ["status"]}
_C = TypeVar("_C", ast.Get, ast.Show)

GET_EXTRA_HELP: dict[tuple[str, ...], str] = {("system", "status"): "System status."}


def _render() -> Any:
    from ...cmdb import render

    return render


def _with_buffer(func: Any, kwargs: dict[str, Any], buf: Any) -> dict[str, Any]:
    """Pass the edit buffer to a render function that accepts one."""
    if buf is None:
        return kwargs
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return kwargs
    for name in ("buf", "buffer", "entry", "edit"):
        if name in params:
            return {**kwargs, name: buf}
    return kwargs


def get_entry_lines(sess: "Session", path: tuple[str, ...], key: str | None, buf: Any = None) -> list[str]:
    render = _render()
    kwargs = _with_buffer(render.get_entry, {}, buf)
    return list(render.get_entry(sess.cmdb, path, key, sess.device.clock.now(), **kwargs))


def show_lines(sess: "Session", path: tuple[str, ...], key: str | None = None, *, full: bool = False,
               buf: Any = None) -> list[str]:
    render = _render()
    kwargs = _with_buffer(render.show, {"full": full}, buf)
    return list(render.show(sess.cmdb, path, key, **kwargs))


# ------------------------------------------------------------------ get
def do_get(sess: "Session", cmd: ast.Get) -> Result:
    words = [w.text for w in cmd.path]
    frame = sess.frame
    if frame is None:
        return Result(_get_root(sess, words))
    if frame.kind == TABLE:
        if frame.nested:
            return Result(_entry_of(sess, sess.top_entry_frame()))
        if not words:
            return Result(list(_render().get_table(sess.cmdb, frame.path)))
        if len(words) > 1:
            raise ParseError(words[1])
        if sess.cmdb.entry(frame.path, words[0]) is None:
            raise entry_not_found(words[0])
        return Result(get_entry_lines(sess, frame.path, words[0]))
    if words:
        raise ParseError(words[0])
    if frame.nested:
        return Result(_entry_of(sess, sess.top_entry_frame()))
    return Result(get_entry_lines(sess, frame.path, frame.key, frame.buf))


def _entry_of(sess: "Session", frame: Any) -> list[str]:
    return get_entry_lines(sess, frame.path, frame.key, frame.buf)


def _get_root(sess: "Session", words: list[str]) -> list[str]:
    if not words:
        raise IncompleteCommand()
    path, rest = resolve_table_path(words, extra=GET_EXTRA)
    if path == ("system", "status"):
        if rest:
            raise ParseError(rest[0])
        return system.status_lines(sess.device)
    if path == ("system", "acme") and len(rest) == 1 and rest[0] and "acc-details".startswith(rest[0]):
        from .acme import acc_details_lines

        return acc_details_lines(sess)
    spec = require_table(path, rest)
    if spec.is_object:
        if rest:
            raise ParseError(rest[0])
        return get_entry_lines(sess, path, None)
    if not rest:
        return list(_render().get_table(sess.cmdb, path))
    if rest[0] == "details" and path[:2] == ("vpn", "certificate") and path[-1] in ("local", "ca") \
            and sess.cmdb.entry(path, "details") is None:
        return _details(sess, path, rest[1:])
    if len(rest) > 1:
        raise ParseError(rest[1])
    if sess.cmdb.entry(path, rest[0]) is None:
        raise entry_not_found(rest[0])
    return get_entry_lines(sess, path, rest[0])


def _details(sess: "Session", path: tuple[str, ...], rest: list[str]) -> list[str]:
    """``get vpn certificate local|ca details [name]`` (certdetails.details_listing)."""
    from ...cmdb import certdetails

    if len(rest) > 1:
        raise ParseError(rest[1])
    if rest and sess.cmdb.entry(path, rest[0]) is None:
        raise entry_not_found(rest[0])
    if path == ("vpn", "certificate", "local"):  # acme2 entries add their ACME details
        from .acme import details_with_acme

        return details_with_acme(sess, path, [rest[0]] if rest else sess.cmdb.keys(path))
    return certdetails.details_listing(sess.cmdb, path, rest[0] if rest else None)


# ------------------------------------------------------------------ show
def do_show(sess: "Session", cmd: ast.Show) -> Result:
    words = [w.text for w in cmd.path]
    full = cmd.full
    frame = sess.frame
    if frame is None:
        if not words:
            return Result(list(_render().show_configuration(sess.cmdb, full, True)))
        path, rest = resolve_table_path(words)
        spec = require_table(path, rest)
        if spec.is_object or not rest:
            if rest:
                raise ParseError(rest[0])
            return Result(show_lines(sess, path, full=full))
        if len(rest) > 1:
            raise ParseError(rest[1])
        if sess.cmdb.entry(path, rest[0]) is None:
            raise entry_not_found(rest[0])
        return Result(show_lines(sess, path, rest[0], full=full))
    if frame.nested:
        top = sess.top_entry_frame()
        if words:
            raise ParseError(words[0])
        return Result(show_lines(sess, top.path, top.key, full=full, buf=top.buf))
    if frame.kind == TABLE:
        if not words:
            return Result(show_lines(sess, frame.path, full=full))
        if len(words) > 1:
            raise ParseError(words[1])
        if sess.cmdb.entry(frame.path, words[0]) is None:
            raise entry_not_found(words[0])
        return Result(show_lines(sess, frame.path, words[0], full=full))
    if words:
        raise ParseError(words[0])
    key = frame.key if frame.kind == ENTRY else None
    assert frame.kind in (ENTRY, OBJECT)
    return Result(show_lines(sess, frame.path, key, full=full, buf=frame.buf))


def _paging(handler: Callable[["Session", _C], Result]) -> Callable[["Session", _C], Result]:
    """``handler``'s listing is one the ``--More--`` pager applies to."""

    def paged(sess: "Session", cmd: _C) -> Result:
        result = handler(sess, cmd)
        result.pages = True
        return result

    return paged


HANDLERS: CommandHandlers = {ast.Get: _paging(do_get), ast.Show: _paging(do_show)}
