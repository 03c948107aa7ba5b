"""Line -> typed Command: verb abbreviation and argument shapes.

Owns :func:`build_command`.  Table paths, attribute names and values stay as
typed (resolving them needs the schema, which is the session's business).

Error choices (fortios-cli-facts.md section 2, refined where it is silent):

* inside a config context, a first word that is no verb of the mode (unknown,
  ambiguous, or wrong case) -> ``Unknown action 0`` (``UnknownAction``);
* at the root prompt, a word that abbreviates a verb existing only in config
  contexts (``delete``, ``set``, ``ed`` ...) -> ``Unknown action 0``; any other
  word (``SHOW``, ``foo``, ``ping``) -> ``command parse error before 'SHOW'``
  without a ``Command fail`` line (``ParseError(word, rc=None)``).  The facts
  list ``ping x`` at root once as ``Unknown action 0``; we follow the rule for
  words that are no verb at all;
* an ambiguous prefix (``e`` at root: execute/exit) names the verbs it
  abbreviates, ``ambiguous command before 'e': execute exit``
  (``AmbiguousCommand``, no ``Command fail`` line, as the unknown word of the
  mode it was taken for before; the real wording is not documented);
* a missing mandatory argument (``config``, ``edit``, ``delete``, ``unset``,
  ``set``/``append``/``select``/``unselect`` without attribute, ``rename a``,
  ``move a before``, ``execute``, ``diagnose``) -> ``IncompleteCommand``
  (``set attr`` without value is left to the session);
* a word where a keyword belongs (``rename a xx b``) or any word beyond the
  verb's arguments (``next now``, ``edit a b``) -> ``ParseError(word)``, rc -61;
  at root the ``Command fail`` line is omitted, like the other root parse errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fortishell import errors
from fortishell.cli import ast
from fortishell.cli.abbrev import matches, resolve

__all__ = ["build_command", "ALL_VERBS", "CONFIG_ONLY_VERBS"]

ALL_VERBS: tuple[str, ...] = tuple(ast.VERB_HELP)
CONFIG_ONLY_VERBS: tuple[str, ...] = tuple(v for v in ALL_VERBS if v not in ast.ROOT_VERBS)

FULL_CONFIGURATION = "full-configuration"
# `sh f` is left to the table path (`firewall`, `ftp-proxy` ...); `fu` is the
# shortest abbreviation of full-configuration we accept.
_FULL_MIN = 2

Words = tuple[ast.Word, ...]


def build_command(line: ast.Line, verbs: Sequence[str], *, at_root: bool = False) -> ast.Command:
    """Build the Command a parsed line stands for in a mode offering ``verbs``."""
    if isinstance(line, ast.BadLine) and line.error is not None:
        raise line.error
    if not line.words:
        return ast.Empty(line=line)
    first, args = line.words[0], line.words[1:]
    verb = _verb(first.text, verbs, at_root)
    builder = _BUILDERS.get(verb)
    if builder is None:  # a verb of the mode this module has no shape for
        raise errors.UnknownAction()
    try:
        return builder(args, line)
    except errors.AmbiguousCommand as exc:
        if at_root and exc.rc is not None:
            raise errors.AmbiguousCommand(exc.before, exc.choices, rc=None) from None
        raise
    except errors.ParseError as exc:
        if at_root and exc.rc is not None:
            raise errors.ParseError(exc.before, rc=None) from None
        raise


def _verb(word: str, verbs: Sequence[str], at_root: bool) -> str:
    found = matches(word, verbs) if word else []
    if len(found) == 1:
        return found[0]
    if len(found) > 1:  # no Command fail line, as the unknown word it used to be taken for
        raise errors.AmbiguousCommand(word, found, rc=None)
    if not at_root:
        raise errors.UnknownAction()
    if not found and len(matches(word, CONFIG_ONLY_VERBS) if word else []) >= 1:
        raise errors.UnknownAction()
    raise errors.ParseError(word, rc=None)


# ------------------------------------------------------------------ shapes
def _need(args: Words, n: int) -> None:
    """At least ``n`` arguments, else IncompleteCommand."""
    if len(args) < n:
        raise errors.IncompleteCommand()


def _exactly(args: Words, n: int) -> None:
    _need(args, n)
    if len(args) > n:
        raise errors.ParseError(args[n].text)


def _keyword(word: ast.Word, choices: Sequence[str]) -> str:
    return resolve(word.text, choices) if not word.quoted else _exact(word, choices)


def _exact(word: ast.Word, choices: Sequence[str]) -> str:
    if word.text in choices:
        return word.text
    raise errors.ParseError(word.text)


def _config(a: Words, line: ast.Line) -> ast.Command:
    _need(a, 1)
    return ast.Config(a, line=line)


def _edit(a: Words, line: ast.Line) -> ast.Command:
    _exactly(a, 1)
    return ast.Edit(a[0], line=line)


def _delete(a: Words, line: ast.Line) -> ast.Command:
    _exactly(a, 1)
    return ast.Delete(a[0], line=line)


def _pair(cls: type[ast.Rename] | type[ast.Clone]) -> Callable[[Words, ast.Line], ast.Command]:
    def build(a: Words, line: ast.Line) -> ast.Command:
        _need(a, 2)
        _keyword(a[1], ("to",))
        _exactly(a, 3)
        return cls(a[0], a[2], line=line)

    return build


def _move(a: Words, line: ast.Line) -> ast.Command:
    _need(a, 2)
    where = _keyword(a[1], ("before", "after"))
    _exactly(a, 3)
    return ast.Move(a[0], where, a[2], line=line)


def _valued(cls: type[ast.Set] | type[ast.Append] | type[ast.Select] | type[ast.Unselect]) -> Callable[[Words, ast.Line], ast.Command]:
    def build(a: Words, line: ast.Line) -> ast.Command:
        _need(a, 1)
        return cls(a[0], a[1:], line=line)

    return build


def _unset(a: Words, line: ast.Line) -> ast.Command:
    _exactly(a, 1)
    return ast.Unset(a[0], line=line)


def _get(a: Words, line: ast.Line) -> ast.Command:
    return ast.Get(a, line=line)


def _show(a: Words, line: ast.Line) -> ast.Command:
    if a and len(a[0].text) >= _FULL_MIN and FULL_CONFIGURATION.startswith(a[0].text):
        return ast.Show(a[1:], full=True, line=line)
    return ast.Show(a, line=line)


def _bare(cls: type[ast.Command]) -> Callable[[Words, ast.Line], ast.Command]:
    def build(a: Words, line: ast.Line) -> ast.Command:
        _exactly(a, 0)
        return cls(line=line)

    return build


def _execute(a: Words, line: ast.Line) -> ast.Command:
    _need(a, 1)
    return ast.Execute(a, line=line)


def _diagnose(a: Words, line: ast.Line) -> ast.Command:
    _need(a, 1)
    return ast.Diagnose(a, line=line)


_BUILDERS: dict[str, Callable[[Words, ast.Line], ast.Command]] = {
    "config": _config,
    "edit": _edit,
    "delete": _delete,
    "purge": _bare(ast.Purge),
    "rename": _pair(ast.Rename),
    "clone": _pair(ast.Clone),
    "move": _move,
    "set": _valued(ast.Set),
    "unset": _unset,
    "append": _valued(ast.Append),
    "select": _valued(ast.Select),
    "unselect": _valued(ast.Unselect),
    "get": _get,
    "show": _show,
    "next": _bare(ast.Next),
    "end": _bare(ast.End),
    "abort": _bare(ast.Abort),
    "exit": _bare(ast.Exit),
    "execute": _execute,
    "diagnose": _diagnose,
}
