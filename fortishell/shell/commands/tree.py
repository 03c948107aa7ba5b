"""Keyword trees for ``execute`` and ``diagnose`` (data + a tiny walker).

Each :class:`Node` has a help text and either children (keywords, unique-prefix
abbreviable: ``exec vpn cert loc gen est``) or a handler taking the remaining
argument words (``secret_args`` marks the ones that hold passwords).  ``args`` describes the arguments for ``?`` and Tab: a function
``(session, typed_args) -> [(candidate, help)]`` for the next argument.

A tree is data the shell builds at start without importing the modules behind its
commands: a handler (or an argument helper only its module can answer) is named by a
:class:`Lazy` reference, ``Lazy("certs_ca", "do_ca_import_tftp")``, and its module
(with the cryptography, EST, SCEP and transfer stacks it brings) is imported the first
time the command runs.  Keywords, help texts and argument positions stay here, so
``?`` and Tab list every command of a start that has imported none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...cli import ast
from ...errors import IncompleteCommand, ParseError
from ..result import Result

if TYPE_CHECKING:
    from ..session import Session

Handler = Callable[["Session", list[ast.Word]], Result]
# a command module's map: command type -> the handler taking exactly that type
CommandHandlers = dict[type[ast.Command], Callable[["Session", Any], Result]]
ArgHelp = Callable[["Session", list[str]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Lazy:
    """A handler or argument helper named as data: attribute ``name`` of the command module
    ``module`` (under ``fortishell.shell.commands``), imported the first time it is called.

    Callable as what it names (``(session, words)``), so a :class:`Node` holds it where it
    would hold the function."""

    module: str
    name: str

    def target(self) -> Callable[..., Any]:
        """The named function (its module imported now if it was not yet)."""
        found: Callable[..., Any] = getattr(importlib.import_module(f"{__package__}.{self.module}"), self.name)
        return found

    def __call__(self, sess: "Session", words: Any) -> Any:
        return self.target()(sess, words)


@dataclass
class Node:
    help: str
    children: dict[str, "Node"] = field(default_factory=dict)
    handler: Handler | None = None
    args: ArgHelp | None = None
    # 1-based positions of the argument words (after the keywords) that hold secrets:
    # the history keeps ``*`` there (shell/histform.py)
    secret_args: tuple[int, ...] = ()


def walk(root: Node, words: list[ast.Word]) -> tuple[Node, list[ast.Word]]:
    """Resolve keywords down to a leaf; returns (leaf, remaining words)."""
    from ...cli import abbrev

    node = root
    rest = list(words)
    while node.children:
        if not rest:
            raise IncompleteCommand()
        name = abbrev.resolve(rest[0].text, list(node.children))
        node = node.children[name]
        rest.pop(0)
    return node, rest


def run(sess: "Session", root: Node, words: list[ast.Word]) -> Result:
    leaf, rest = walk(root, words)
    assert leaf.handler is not None
    return leaf.handler(sess, rest)


def candidates(sess: "Session", root: Node, words: list[str]) -> list[tuple[str, str]]:
    """What may follow ``words`` (complete words typed after the verb)."""
    from ...cli import abbrev

    node = root
    rest = list(words)
    while node.children:
        if not rest:
            return [(name, child.help) for name, child in node.children.items()]
        try:
            name = abbrev.resolve(rest[0], list(node.children))
        except ParseError:
            return []
        node = node.children[name]
        rest.pop(0)
    if node.args is None:
        return [("<Enter>", "")] if not rest else []
    return node.args(sess, rest)


def fixed_args(*positions: list[tuple[str, str]], optional_from: int | None = None) -> ArgHelp:
    """Argument help from a list of positions; each position lists (candidate, help) pairs."""

    def helper(sess: "Session", typed: list[str]) -> list[tuple[str, str]]:
        i = len(typed)
        out: list[tuple[str, str]] = []
        if i < len(positions):
            out.extend(positions[i])
        if i >= len(positions) or (optional_from is not None and i >= optional_from):
            out.append(("<Enter>", ""))
        return out

    return helper


def extra_words(rest: list[ast.Word], allowed: int) -> None:
    if len(rest) > allowed:
        raise ParseError(rest[allowed].text)
