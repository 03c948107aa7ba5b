"""config / edit / set / unset / append / select / unselect / next / end / abort,
and the table verbs delete / purge / rename / clone / move.

Semantics (fortios-cli-facts.md §1.2-1.5, §2):

* ``config <path>`` resolves each path word by unique prefix (``conf vpn cert local``).
  A path that stops at a prefix (``config vpn``) is incomplete (-160); a word
  that fits nothing is ``command parse error before 'x'``.
* ``edit <key>`` opens an edit buffer; a new entry prints ``new entry 'x' added``.
  Changes stay in the buffer until ``next``/``end`` commit them (commit-time
  validation); ``abort`` discards them.
* ``next`` commits and returns to the table.  ``end`` commits and leaves the
  config command (from a top-level entry: to the root; from a nested one: to the
  parent entry).  A failing commit prints the error and STILL leaves the level
  with the change discarded (observed for ``end``; the emulator does the same for
  ``next`` so the user is never stuck in a broken buffer).
* ``abort`` leaves like ``end`` but discards the pending buffer.
* ``move <a> before|after <b>`` changes the entry's place in the table (the order ``show``
  lists and the REST API returns), committed at once like ``rename``.  FortiOS offers it on
  ordered tables (firewall policy ...); whether its certificate and admin tables take it is
  not published: we take it on every top-level table (the REST API's ``action=move`` does the
  same), nested tables refuse it as every table verb there (``Unknown action 0``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...cli import ast
from ...errors import CliError, EntryNotFound, IncompleteCommand, ParseError, UnknownAction
from ...cmdb.schema import SCHEMA, TableSpec
from ..context import ENTRY, OBJECT, TABLE, Frame
from ..result import Question, Result, visible
from .tree import CommandHandlers

if TYPE_CHECKING:
    from ...cmdb.model import EditBuffer
    from ..session import Session


# ------------------------------------------------------------------ helpers
def resolve_word(word: str, candidates: list[str]) -> str:
    from ...cli import abbrev

    return abbrev.resolve(word, candidates)


def resolve_table_path(words: list[str], *, extra: dict[tuple[str, ...], list[str]] | None = None
                       ) -> tuple[tuple[str, ...], list[str]]:
    """Resolve leading words to the longest schema path; returns (path, remaining words).

    ``extra`` adds virtual leaves (``get system status``) to the children of a prefix.
    Stops at the first table reached; a word that fits no child raises ParseError.
    """
    path: tuple[str, ...] = ()
    rest = list(words)
    while rest:
        if path and SCHEMA.table(path) is not None:
            break
        names = SCHEMA.children(path) + list((extra or {}).get(path, []))
        if not names:
            break
        path = path + (resolve_word(rest.pop(0), names),)
        if extra and path[-1] in (extra.get(path[:-1]) or []):
            break
    return path, rest


def require_table(path: tuple[str, ...], rest: list[str]) -> TableSpec:
    """The table spec at ``path``.  A path that stops short of a table is a parse error
    before the next word, or an incomplete command when no word is left."""
    spec = SCHEMA.table(path)
    if spec is None:
        if rest:
            raise ParseError(rest[0])
        raise IncompleteCommand()
    return spec


def entry_not_found(key: str) -> CliError:
    """A missing entry named by delete/rename/clone/get/show: the key is looked up like a
    datasource, so the message is the datasource one (fortios-cli-facts.md §2, rc -3)."""
    return EntryNotFound("entry not found in datasource", "", f"value parse error before '{key}'")


def require_entry(sess: "Session", path: tuple[str, ...], key: str) -> None:
    if sess.cmdb.entry(path, key) is None:
        raise entry_not_found(key)


# ------------------------------------------------------------------ config
def do_config(sess: "Session", cmd: ast.Config) -> Result:
    words = [w.text for w in cmd.path]
    if not words:
        raise IncompleteCommand()
    top = sess.frame
    if top is None:
        path, rest = resolve_table_path(words)
        spec = require_table(path, rest)
        if rest:
            raise ParseError(rest[0])
        if spec.is_object:
            sess.push(Frame(OBJECT, path, spec, path[-1], buf=sess.cmdb.begin_edit(path)))
        else:
            sess.push(Frame(TABLE, path, spec, path[-1]))
        return Result()
    # nested `config <sub>` inside an entry or object
    if top.kind not in (ENTRY, OBJECT):
        raise UnknownAction()
    subs = [s.name for s in top.spec.subtables]
    if not subs:
        raise ParseError(words[0])
    name = resolve_word(words[0], subs)
    if len(words) > 1:
        raise ParseError(words[1])
    sub = top.spec.subtable(name)
    assert sub is not None  # name was resolved among the subtables
    path = top.path + (name,)
    if sub.is_object:
        child = top.editing.begin_edit(name)
        sess.push(Frame(OBJECT, path, sub, name, buf=child, nested=True))
    else:
        sess.push(Frame(TABLE, path, sub, name, buf=top.editing, nested=True))
    return Result()


# ------------------------------------------------------------------ table verbs
def do_edit(sess: "Session", cmd: ast.Edit) -> Result:
    frame = sess.frame
    assert frame is not None and frame.kind == TABLE
    key = cmd.key.text
    if frame.nested:
        buf = frame.editing.begin_edit(frame.path[-1], key)
    else:
        buf = sess.cmdb.begin_edit(frame.path, key)
    key = buf.key if buf.key is not None else key  # an integer key as the table keeps it (`edit 07`: 7)
    sess.push(Frame(ENTRY, frame.path, frame.spec, key, buf=buf, key=key, nested=frame.nested))
    if getattr(buf, "is_new", False):
        return Result([visible(f"new entry '{key}' added")])
    return Result()


def do_delete(sess: "Session", cmd: ast.Delete) -> Result:
    frame = _table(sess)
    require_entry(sess, frame.path, cmd.key.text)
    sess.cmdb.delete(frame.path, cmd.key.text)
    return Result()


def do_purge(sess: "Session", cmd: ast.Purge) -> Result:
    frame = _table(sess)

    def answer(yes: bool) -> Result:
        if yes:
            sess.cmdb.purge(frame.path)
        return Result()

    # FortiOS asks before clearing a whole table.
    return Result(question=Question(["This operation will clear all table!", "Do you want to continue? (y/n)"],
                                    sess.guard(answer)))


def do_rename(sess: "Session", cmd: ast.Rename) -> Result:
    frame = _table(sess)
    require_entry(sess, frame.path, cmd.old.text)
    sess.cmdb.rename(frame.path, cmd.old.text, cmd.new.text)
    return Result()


def do_clone(sess: "Session", cmd: ast.Clone) -> Result:
    frame = _table(sess)
    require_entry(sess, frame.path, cmd.old.text)
    sess.cmdb.clone(frame.path, cmd.old.text, cmd.new.text)
    return Result()


def do_move(sess: "Session", cmd: ast.Move) -> Result:
    """``move <a> before|after <b>``: the entry's place in the table, committed at once (as
    ``rename``/``clone``); either entry missing is the datasource error (-3)."""
    frame = _table(sess)
    require_entry(sess, frame.path, cmd.key.text)
    require_entry(sess, frame.path, cmd.other.text)
    sess.cmdb.move(frame.path, cmd.key.text, cmd.where, cmd.other.text)
    return Result()


def _table(sess: "Session") -> Frame:
    frame = sess.frame
    if frame is None or frame.kind != TABLE:
        raise UnknownAction()
    if frame.nested:  # nested tables are edited through the parent's buffer only
        raise UnknownAction()
    return frame


# ------------------------------------------------------------------ entry verbs
def do_set(sess: "Session", cmd: ast.Set) -> Result:
    from .acme import set_with_terms  # `set enroll-protocol acme2` asks the ACME terms question

    return set_with_terms(sess, _buffer(sess), cmd.attr.text, [w.text for w in cmd.values])


def do_unset(sess: "Session", cmd: ast.Unset) -> Result:
    _buffer(sess).unset(cmd.attr.text)
    return Result()


def do_append(sess: "Session", cmd: ast.Append) -> Result:
    _buffer(sess).append(cmd.attr.text, [w.text for w in cmd.values])
    return Result()


def do_select(sess: "Session", cmd: ast.Select) -> Result:
    _buffer(sess).select(cmd.attr.text, [w.text for w in cmd.values])
    return Result()


def do_unselect(sess: "Session", cmd: ast.Unselect) -> Result:
    _buffer(sess).unselect(cmd.attr.text, [w.text for w in cmd.values])
    return Result()


def _buffer(sess: "Session") -> EditBuffer:
    frame = sess.frame
    if frame is None or frame.kind not in (ENTRY, OBJECT):
        raise UnknownAction()
    return frame.editing


# ------------------------------------------------------------------ leaving
def _commit(sess: "Session", frame: Frame) -> list[str]:
    """Commit an entry/object buffer (a nested buffer is stored into its parent's)."""
    return list(sess.cmdb.commit(frame.editing) or [])


def do_next(sess: "Session", cmd: ast.Next) -> Result:
    frame = sess.frame
    if frame is None or frame.kind != ENTRY:
        raise UnknownAction()
    try:
        lines = _commit(sess, frame)
    finally:
        sess.pop()
    return Result(lines)


def do_end(sess: "Session", cmd: ast.End) -> Result:
    frame = sess.frame
    if frame is None:
        raise UnknownAction()
    if frame.kind == TABLE:
        sess.pop()
        return Result()
    try:
        lines = _commit(sess, frame)
    finally:
        sess.pop()
        if frame.kind == ENTRY:
            sess.pop()  # the table the entry belongs to
    return Result(lines)


def do_abort(sess: "Session", cmd: ast.Abort) -> Result:
    frame = sess.frame
    if frame is None:
        raise UnknownAction()
    if frame.kind in (ENTRY, OBJECT) and not frame.nested:
        discard = getattr(frame.buf, "discard", None)
        if discard is not None:
            discard()
    sess.pop()
    if frame.kind == ENTRY:
        sess.pop()
    return Result()


HANDLERS: CommandHandlers = {
    ast.Config: do_config,
    ast.Edit: do_edit,
    ast.Delete: do_delete,
    ast.Purge: do_purge,
    ast.Rename: do_rename,
    ast.Clone: do_clone,
    ast.Move: do_move,
    ast.Set: do_set,
    ast.Unset: do_unset,
    ast.Append: do_append,
    ast.Select: do_select,
    ast.Unselect: do_unselect,
    ast.Next: do_next,
    ast.End: do_end,
    ast.Abort: do_abort,
}

__all__ = ["HANDLERS", "resolve_table_path", "require_table", "resolve_word", "entry_not_found"]
