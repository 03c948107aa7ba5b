"""The bootstrap takes the dependency list from pyproject.toml (the only place it is written)."""

from __future__ import annotations

import tomllib

import pytest

from fortishell import _bootstrap


def _project() -> dict[str, object]:
    with (_bootstrap.ROOT / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["project"])


def test_requirements_are_pyprojects_dependencies() -> None:
    names = _bootstrap.requirements()
    assert "lark" in names and "prompt_toolkit" in names and "asyncssh" in names
    assert len(names) == len(_project()["dependencies"])  # type: ignore[arg-type]
    assert "pytest" not in names


def test_extras_add_their_lists() -> None:
    base = _bootstrap.requirements()
    with_tests = _bootstrap.requirements("test")
    assert with_tests[: len(base)] == base
    assert {"pytest", "hypothesis", "mypy"} <= set(with_tests)
    assert _bootstrap.requirements("test,bench")[-1] == "anyconfig-fortios-backend"


def test_the_test_environment_has_everything() -> None:
    assert _bootstrap.missing(_bootstrap.requirements("test")) == []
    assert _bootstrap.missing(["no-such-distribution-fortishell"]) == ["no-such-distribution-fortishell"]


def test_the_shell_takes_on_the_venv_of_its_own_interpreter(tmp_path) -> None:
    """``python3 -m fortishell`` with the .venv made from that python3 continues in the same
    process (no second interpreter start, issue 22) with .venv's packages, interpreter name and
    prefix; the interpreter's own site-packages are gone from the path."""
    import os
    import subprocess
    import sys

    cfg = dict(line.partition("=")[::2] for line in (_bootstrap.VENV / "pyvenv.cfg").read_text().splitlines())
    home = cfg.get("home ", "").strip()
    base = [p for p in (os.path.join(home, f"python{sys.version_info[0]}.{sys.version_info[1]}"),
                        os.path.join(home, "python3")) if os.path.exists(p)]
    if not base:
        pytest.skip("the interpreter .venv was made from is not there")
    code = ("import os, sys; sys.path.insert(0, sys.argv[1]); from fortishell import _bootstrap; "
            "pid = os.getpid(); _bootstrap.ensure_venv(['-c', 'pass'], adopt=True); import httpx; "
            "print(pid == os.getpid(), sys.executable, sys.prefix, httpx.__file__, "
            "any('site-packages' in p and not p.startswith(sys.prefix) for p in sys.path))")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    proc = subprocess.run([base[0], "-c", code, str(_bootstrap.ROOT)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    same, executable, prefix, httpx_file, own_sites = proc.stdout.split()
    venv = str(_bootstrap.VENV)
    assert same == "True" and executable == str(_bootstrap.venv_python()) and prefix == venv
    assert httpx_file.startswith(venv) and own_sites == "False"
