"""Fuzzed shell input: valid, near-valid and mutated command lines in every mode.

The generator and the property checker are those of ``bench/fuzz_shell.py``
(which runs 100,000 lines); here hypothesis drives the randomness with a modest
budget, plus fixed hostile lines (100 kB, unterminated quotes, bad ``| grep``
patterns, control characters) typed in each mode.  Properties: no Python
traceback or internal error text, FortiOS-style errors for failing commands,
failed commands and ``abort`` leave the CMDB as it was, the saved file follows
the CMDB and ``show full-configuration`` re-loads to an equal CMDB.
"""

from __future__ import annotations

import os

import importlib.util
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fortishell.cmdb import store

ROOT = Path(__file__).resolve().parents[2]


def _load_fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_shell", ROOT / "bench" / "fuzz_shell.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_shell"] = mod
    spec.loader.exec_module(mod)
    return mod


F = _load_fuzzer()

# Lines that put a session into each mode (root, table, entry, object, nested object).
MODES = {
    "root": [],
    "table": ["config vpn certificate local"],
    "entry": ["config vpn certificate local", "edit fz-entry", "set comments before"],
    "object": ["config system global"],
    "nested": ["config vpn certificate setting", "config crl-verification"],
    "ca-entry": ["conf vpn cert ca", "ed G_CA_Cert_1"],
}

HOSTILE = [
    "set comments " + '"' + "c" * 100_000 + '"',
    "x" * 100_000,
    "set " + " ".join(["v"] * 50_000),
    "show | grep " + '"' + "a" * 100_000 + '"',
    '"' + "unterminated " * 8000,
    # quotes and backslash-newlines: the lexer once backtracked exponentially on these
    '"' + 'sC9😀"v\\\n@5j証明書' * 7000,
    "set comments " + 'a\\\n"b\\\n" ' * 10000 + '"',
    'set comments "unterminated',
    "set comments 'half",
    "edit \"a\\",
    "show | grep [",
    "get | grep \\(",
    "show | grep -C x est",
    "show | grep -A",
    "show | grep a\\{1",
    "show | grep [[:foo:]]",
    "show | grep est extra",
    "show |",
    "| grep est",
    "show | nogrep",
    "\x00\x01\x02",
    "set comments \x1b[2J\x07",
    "edit \u202eevil\u200b",
    "set comments 証明書😀",
    "(",
    "#comment only",
    "set est-http-password",
    "append nosuch a b",
    "select range global vdom",
    "unselect",
    "config",
    "edit",
    "rename a to",
    "move a before",
    "execute",
    "diagnose",
    "execute vpn certificate local generate est fz1 rsa-9999 https://127.0.0.1:1",
    "execute vpn certificate local generate est fz1 ec-secp256r1 ftp://127.0.0.1",
    "execute date 2023-02-30",
    "execute time 25:61",
    "diagnose debug application est 99999999999999999999",
    "abort now",
    "next next",
    "end end",
]


def _device(tmp: Path):
    return F.new_device(tmp)


def _assert_clean(checker) -> None:
    assert not checker.counts, "\n".join(f"{k}: {n} (e.g. {checker.examples[k]})" for k, n in checker.counts.items())


@pytest.mark.parametrize("mode", list(MODES))
def test_hostile_lines_in_every_mode(mode: str, tmp_path: Path) -> None:
    rng = random.Random(0)
    checker = F.Checker(save_check_every=10, slow_seconds=2.0)
    with F.loopback_only():
        dev = _device(tmp_path)
        try:
            sess = F.Session(dev)
            for setup in MODES[mode]:
                assert sess.execute(setup).rc == 0, setup
            depth = len(sess.stack)
            for line in HOSTILE:
                result = checker.run_line(sess, line, rng)
                assert result is not None
                if result.rc != 0 and len(sess.stack) != depth:  # a failed next/end left the level: re-enter
                    sess.reset()
                    for setup in MODES[mode]:
                        sess.execute(setup)
            checker.check_saved(sess)
            checker.check_roundtrip(sess)
        finally:
            dev.close()
    _assert_clean(checker)


def test_long_line_errors_are_fortios_style(tmp_path: Path) -> None:
    with F.loopback_only():
        dev = _device(tmp_path)
        try:
            sess = F.Session(dev)
            sess.execute("config system global")
            before = sess.cmdb.snapshot()
            r = sess.execute("set alias " + "a" * 100_000)
            assert r.rc == -1
            assert r.lines[0] == "string value is too long. the size is 100000, the limit is 35"
            assert r.lines[-1] == "Command fail. Return code -1"
            assert sess.cmdb.snapshot().objects == before.objects
        finally:
            dev.close()


# 8 sequences of 60 commands in the suite; FORTISHELL_FUZZ_EXAMPLES=500 for a long run
@settings(max_examples=int(os.environ.get("FORTISHELL_FUZZ_EXAMPLES", "8")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(st.randoms(use_true_random=False))
def test_random_sessions_keep_every_property(rng: random.Random) -> None:
    checker = F.Checker(save_check_every=15)
    with F.loopback_only(), tempfile.TemporaryDirectory(prefix="fz-") as tmp:
        F.run_sequence(rng, Path(tmp), 60, checker)
    _assert_clean(checker)


@pytest.fixture(scope="module")
def abort_device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One device for every example below: each starts from what the previous one left, which
    is the lab configuration exactly when abort restores (what each example asserts); opening
    a device parses the 50 kB lab configuration, the bulk of an example's cost."""
    with F.loopback_only():
        dev = _device(tmp_path_factory.mktemp("fz-abort"))
        try:
            yield dev
        finally:
            dev.close()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.randoms(use_true_random=False), st.sampled_from(["local", "ca", "global", "setting"]))
def test_abort_restores_the_cmdb_exactly(abort_device, rng: random.Random, where: str) -> None:
    """Any run of set/unset/nested edits followed by ``abort`` leaves the CMDB as before ``edit``."""
    dev = abort_device
    with F.loopback_only():
        sess = F.Session(dev)
        enter = {"local": ["config vpn certificate local", "edit fz-abort"],
                 "ca": ["config vpn certificate ca", "edit G_CA_Cert_1"],
                 "global": ["config system global"],
                 "setting": ["config vpn certificate setting"]}[where]
        before = F.tables_of(sess.cmdb)
        saved_before = dev.config_path.read_bytes()
        for line in enter:
            sess.execute(line)
        gen = F.Generator(rng)
        for _ in range(rng.randint(1, 12)):
            frame = sess.frame
            assert frame is not None
            line = gen.entry(sess, frame.spec, frame.kind, frame.buf)
            verb = line.split(" ", 1)[0].lower()
            if verb and ("end".startswith(verb) or "next".startswith(verb)):
                continue  # those commit; this test is about abort
            r = sess.execute(line)
            if r.question is not None:
                r.question.answer(False)
            if sess.frame is None:  # the generated line was an abort
                break
        while sess.frame is not None and len(sess.stack) > len(enter):
            sess.execute("abort")  # leave nested levels (their changes live in the parent buffer)
        if sess.frame is not None:
            assert sess.execute("abort").rc == 0
        assert sess.frame is None
        assert F.tables_of(sess.cmdb) == before
        assert dev.config_path.read_bytes() == saved_before


def test_show_full_configuration_round_trip_after_changes(tmp_path: Path) -> None:
    """A hand-picked set of awkward values survives show full-configuration -> store.loads."""
    with F.loopback_only():
        dev = _device(tmp_path)
        try:
            sess = F.Session(dev)
            lines = [
                "config vpn certificate local", 'edit "sp ace\\"q"', 'set comments "a\\\\b \\"c\\" \'d\' #e |f"',
                "set est-http-password 'p w\"x'", "set est-srp-password \"s\\\\rp\"", "set comments \"cr\rlf\"",
                "next", "edit 証明書", "set comments 😀\u200b", "next", "end",
                "config vpn certificate setting", "config crl-verification", "set expiry revoke", "end", "end",
            ]
            for line in lines:
                r = sess.execute(line)
                assert r.rc == 0, (line, r.lines)
            r = sess.execute("show full-configuration")
            assert r.rc == 0
            assert store.loads("\n".join(r.lines) + "\n") == sess.cmdb
            assert store.load(dev.config_path) == sess.cmdb
        finally:
            dev.close()
