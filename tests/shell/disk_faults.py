"""Injected disk faults: chosen ``os`` calls on chosen files fail with EIO / ENOSPC.

``os.write`` / ``os.fsync`` / ``os.ftruncate`` are matched by the path of their
file descriptor (``/proc/self/fd``), ``os.open`` / ``os.unlink`` by their path,
``os.replace`` by ``"<src> -> <dst>"`` and ``Path.read_bytes`` by its path.  A
rule fails its first ``times`` matching calls; :attr:`DiskFaults.hits` counts
what failed, so a test can check that the step it names was really reached.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

Match = Callable[[str], bool]


@dataclass
class Rule:
    func: str
    match: Match
    err: int
    times: int
    hits: int = 0


def fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


class DiskFaults:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rules: list[Rule] = []
        real = {name: getattr(os, name) for name in ("write", "fsync", "ftruncate", "open", "unlink", "replace")}
        real_read = pathlib.Path.read_bytes

        def check(func: str, path: str) -> None:
            for rule in self.rules:
                if rule.func == func and rule.hits < rule.times and rule.match(path):
                    rule.hits += 1
                    raise OSError(rule.err, os.strerror(rule.err), path)

        def by_fd(func: str) -> Callable[..., Any]:
            def wrapper(fd: int, *args: Any) -> Any:
                if self.rules:
                    check(func, fd_path(fd))
                return real[func](fd, *args)
            return wrapper

        def by_path(func: str) -> Callable[..., Any]:
            def wrapper(path: Any, *args: Any, **kw: Any) -> Any:
                if self.rules:
                    check(func, os.fspath(path))
                return real[func](path, *args, **kw)
            return wrapper

        def replace(src: Any, dst: Any, **kw: Any) -> None:
            if self.rules:
                check("replace", f"{os.fspath(src)} -> {os.fspath(dst)}")
            real["replace"](src, dst, **kw)

        def read_bytes(path: pathlib.Path) -> bytes:
            if self.rules:
                check("read", str(path))
            return real_read(path)

        for name in ("write", "fsync", "ftruncate"):
            monkeypatch.setattr(os, name, by_fd(name))
        for name in ("open", "unlink"):
            monkeypatch.setattr(os, name, by_path(name))
        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)

    def fail(self, func: str, match: Match, err: int, times: int = 1) -> Rule:
        rule = Rule(func, match, err, times)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules = []


def ends(*suffixes: str) -> Match:
    """A path (or the destination of a rename) ending in one of ``suffixes``."""
    return lambda path: path.split(" -> ")[-1].endswith(suffixes)


def contains(text: str) -> Match:
    return lambda path: text in path
