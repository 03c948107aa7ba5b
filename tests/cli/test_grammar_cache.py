"""The analysed grammar is kept in the user's cache directory (lark's ``cache`` option), so a
start does not analyse it again; a damaged or foreign cache file never breaks the parser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fortishell.cli.parser import cache_file, grammar_text

PARSE = (
    "from fortishell.cli.parser import parse_line\n"
    "line = parse_line('set subject \"CN=a b\"')\n"
    "print([w.text for w in line.words])\n"
)


def run(cache_home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home))
    return subprocess.run([sys.executable, "-c", PARSE], capture_output=True, text=True, env=env, timeout=60)


def test_first_start_writes_the_cache_and_the_next_reads_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = cache_file(grammar_text())
    assert path is not None and path.parent == tmp_path / "fortishell"
    first = run(tmp_path)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    assert first.stdout.strip() == "['set', 'subject', 'CN=a b']"
    assert path.exists() and path.stat().st_size > 0
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    assert (path.parent.stat().st_mode & 0o077) == 0  # the user's own directory
    stamp = path.stat().st_mtime_ns
    second = run(tmp_path)
    assert second.stdout == first.stdout and second.stderr == ""
    assert path.stat().st_mtime_ns == stamp  # read, not written again


def test_a_damaged_cache_file_is_passed_over(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = cache_file(grammar_text())
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a lark cache\n\x80\x04garbage")
    proc = run(tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.strip() == "['set', 'subject', 'CN=a b']"


def test_no_cache_without_an_absolute_cache_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert cache_file(grammar_text()) is None
    monkeypatch.chdir(tmp_path)
    proc = run(Path("relative/dir"))
    assert proc.returncode == 0 and proc.stderr == "" and not (tmp_path / "relative").exists()


def test_a_cache_file_another_user_owns_is_never_loaded(tmp_path: Path, monkeypatch) -> None:
    """lark's cache is a pickle: a file someone else owns (or put there) is passed over."""
    import pytest

    from fortishell.cli import parser

    if os.getuid() != 0:
        pytest.skip("changing a file's owner needs root")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = cache_file(grammar_text())
    assert path is not None
    assert run(tmp_path).returncode == 0 and path.exists()  # a genuine cache, written by this user
    seen: list[dict[str, object]] = []

    def recording_lark(text: str, **options: object) -> object:
        seen.append(options)
        return real_lark(text, **options)

    real_lark = parser.Lark
    monkeypatch.setattr(parser, "Lark", recording_lark)
    parser._build_lark(grammar_text(), parser._LineBuilder())
    assert seen[-1].get("cache") == str(path)  # our own file: used
    os.chown(path, 65534, 65534)
    parser._build_lark(grammar_text(), parser._LineBuilder())
    assert "cache" not in seen[-1]  # another user's file: the grammar is analysed instead
