"""The nodes' ``repr`` (written once in ``cli/ast.py`` instead of generated per class) reads as
the dataclasses one would: class name, then each shown field."""

from __future__ import annotations

from fortishell.cli import ast


def test_repr_is_the_dataclass_form() -> None:
    line = ast.Line((ast.Word("next"),), text="next")
    assert repr(ast.Word("a b", True, 4)) == "Word(text='a b', quoted=True, col=4)"
    assert repr(ast.Set(ast.Word("x"), (), line=line)) == "Set(attr=Word(text='x', quoted=False, col=0), values=())"
    assert repr(ast.Next(line=line)) == "Next()"  # `line` is declared repr=False
    assert repr(ast.BadLine((), (), "(", 2, error=None)) == "BadLine(words=(), filters=(), text='(', lineno=2, error=None)"
    assert repr(ast.Partial((), "ed")) == "Partial(words=(), current='ed', in_quote=False, in_grep=False, command=())"


def test_no_node_class_carries_a_generated_repr() -> None:
    """Each class takes the one ``repr`` (every start imports this module: a generated method per
    class costs it a third of its import time)."""
    nodes = [c for c in vars(ast).values() if isinstance(c, type) and issubclass(c, ast._Node) and c is not ast._Node]
    assert len(nodes) >= 25 and [c.__name__ for c in nodes if "__repr__" in vars(c)] == []
