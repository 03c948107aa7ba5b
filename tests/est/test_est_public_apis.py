"""The EST stack uses public library APIs only.

Every ``obj._name`` attribute used under ``fortishell/est`` must name
something the EST package defines itself (its own ``self._x``, ``_helper``);
any other private name belongs to a library (``httpx.BasicAuth._auth_header``,
``httpx.HTTPTransport._pool``, ``SSLSocket._sslobj``) and fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fortishell.est

EST = Path(fortishell.est.__file__).parent


def _own_private_names(trees: list[ast.Module]) -> set[str]:
    own: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith("_"):
                own.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                own.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
    return own


def private_uses(sources: dict[str, str]) -> list[str]:
    trees = {name: ast.parse(text, name) for name, text in sources.items()}
    own = _own_private_names(list(trees.values()))
    out = []
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and node.attr not in own):
                out.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
            if isinstance(node, ast.ImportFrom):
                out += [f"{name}:{node.lineno}: from {node.module} import {a.name}" for a in node.names
                        if a.name.startswith("_") and a.name not in own]
    return out


def test_no_private_library_names_in_est():
    sources = {p.name: p.read_text() for p in sorted(EST.glob("*.py"))}
    assert private_uses(sources) == []


def test_the_check_catches_private_library_names():
    sample = ("import httpx\nclass A:\n    def __init__(self):\n        self._basic = httpx.BasicAuth('a', 'b')\n"
              "    def f(self):\n        return self._basic._auth_header, httpx.HTTPTransport()._pool\n")
    assert [u.split(": ", 1)[1] for u in private_uses({"s.py": sample})] == [
        "self._basic._auth_header", "httpx.HTTPTransport()._pool"]
