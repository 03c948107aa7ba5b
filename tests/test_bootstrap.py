"""The bootstrap takes the dependency list from pyproject.toml (the only place it is written)."""

from __future__ import annotations

import tomllib

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
