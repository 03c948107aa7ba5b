"""The package layering: the doors import the front end, the front end imports the shell,
never the other way round (no import cycle between packages)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "fortishell"


def _imports(path: Path) -> set[str]:
    """Absolute names of the fortishell modules ``path`` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(PKG.parent).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("fortishell")}


def _modules(sub: str) -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


DOORS = ("fortishell.ssh", "fortishell.repl", "fortishell.replay", "fortishell.cli_main")


@pytest.mark.parametrize("path", _modules("frontend"), ids=lambda p: p.name)
def test_the_front_end_imports_no_door(path: Path) -> None:
    bad = {m for m in _imports(path) if m.startswith(DOORS)}
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", _modules("shell") + _modules("cli") + _modules("cmdb"),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_shell_knows_no_front_end(path: Path) -> None:
    bad = {m for m in _imports(path) if m.startswith(("fortishell.frontend", *DOORS))}
    assert not bad, f"{path.name} imports {bad}"
    assert "prompt_toolkit" not in path.read_text("utf-8"), f"{path.name} uses prompt_toolkit"


def test_the_resolver_sees_relative_imports() -> None:
    """The checks above can fail: the SSH server's imports of the front end are seen."""
    assert "fortishell.frontend.interact" in _imports(PKG / "ssh" / "server.py")
