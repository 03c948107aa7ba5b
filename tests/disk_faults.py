"""Injected disk faults: chosen ``os`` calls on chosen files fail with EIO / ENOSPC.

``os.write`` / ``os.fsync`` / ``os.ftruncate`` are matched by the path of their
file descriptor (``/proc/self/fd``), ``os.open`` / ``os.unlink`` by their path,
``os.replace`` by ``"<src> -> <dst>"`` and ``Path.read_bytes`` by its path.  A
rule fails its first ``times`` matching calls; :attr:`DiskFaults.hits` counts
what failed, so a test can check that the step it names was really reached.
:func:`config_save_fails`: every later save of one configuration file fails as
on a full disk (the tests of what enrollments and imports show then).
"""

from __future__ import annotations

import errno
import os
import pathlib
import sys
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
    named: bool = True  # the OSError names the path (False: as os.replace's own ENOSPC reads, no name)


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
                    if not rule.named:
                        raise OSError(rule.err, os.strerror(rule.err))
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

    def fail(self, func: str, match: Match, err: int, times: int = 1, *, named: bool = True) -> Rule:
        rule = Rule(func, match, err, times, named=named)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules = []


def ends(*suffixes: str) -> Match:
    """A path (or the destination of a rename) ending in one of ``suffixes``."""
    return lambda path: path.split(" -> ")[-1].endswith(suffixes)


def contains(text: str) -> Match:
    return lambda path: text in path


def config_save_fails(monkeypatch: pytest.MonkeyPatch, config: os.PathLike[str] | str) -> str:
    """From now on every rename onto ``config`` (each save of the whole file) fails with ENOSPC;
    returns the line such a failed save shows."""
    target = os.fspath(config)
    DiskFaults(monkeypatch).fail("replace", lambda path: path.split(" -> ")[-1] == target, errno.ENOSPC,
                                 times=sys.maxsize, named=False)
    return f"cannot write configuration file {target}: [Errno {errno.ENOSPC}] {os.strerror(errno.ENOSPC)}"
