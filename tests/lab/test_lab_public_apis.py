"""fortishell/lab uses only public names of httpx, httpcore, ssl, tlslite-ng, h11 and
cryptography; the one exception lives in fortishell/lab/compat.py (with its own test)."""

from __future__ import annotations

import ast
from pathlib import Path

LAB = Path(__file__).resolve().parents[2] / "fortishell" / "lab"
LIBRARIES = ("httpx", "httpcore", "ssl", "tlslite", "h11", "cryptography")
# private attributes of those libraries' objects that are tempting and were used before
KNOWN_PRIVATE = {"_sslobj", "_pool", "_auth_header", "_ASN1Type", "_type", "_recordLayer", "_sock"}


def _library_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in LIBRARIES:
                    names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in LIBRARIES:
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    libs = _library_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            root = _root(node)
            if root in libs or (node.attr in KNOWN_PRIVATE and root not in ("self", "cls")):
                found.append(f"{path.name}:{node.lineno}: .{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in LIBRARIES:
            for alias in node.names:
                if alias.name.startswith("_") or any(p.startswith("_") for p in node.module.split(".")):
                    found.append(f"{path.name}:{node.lineno}: from {node.module} import {alias.name}")
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg and kw.arg.startswith("_"):
                    found.append(f"{path.name}:{node.lineno}: {kw.arg}=")
    return found


def test_lab_modules_use_public_library_names_only():
    uses = [u for p in sorted(LAB.glob("*.py")) if p.name != "compat.py" for u in private_uses(p)]
    assert uses == []


def test_the_scan_finds_private_names(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import httpx\nfrom cryptography import x509\n"
                      "a = httpx._config\nb = x509.name._ASN1Type\nc = conn._sslobj\n"
                      "d = x509.NameAttribute(1, 'v', _type=2)\ne = self._own\n")
    assert private_uses(sample) == ["sample.py:3: ._config", "sample.py:4: ._ASN1Type", "sample.py:5: ._sslobj",
                                    "sample.py:6: _type="]
