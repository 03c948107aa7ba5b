#!/usr/bin/env python3
"""Fuzz the shell: random, near-valid and mutated command lines in every mode.

``python bench/fuzz_shell.py [--lines 100000] [--seed 1] [--sequence 200]``
runs the lines through real :class:`~fortishell.shell.session.Session` objects
(a fresh device every ``--sequence`` lines) and prints the count of property
violations by kind (target: 0).  ``tests/hardening/test_fuzz_shell.py`` uses
the same generator and checker with hypothesis-controlled randomness.

Properties checked after every command:

* ``traceback``      no Python traceback, exception repr or internal error text;
* ``error-format``   a failing command (rc != 0) ends with a FortiOS error line;
* ``cmdb-changed``   a failing command leaves the CMDB exactly as it was;
* ``buffer-changed`` ... and the pending edit buffer too;
* ``abort-changed``  ``abort`` never changes the CMDB;
* ``save-sync``      the saved file loads to the CMDB in memory (every commit saves);
* ``roundtrip``      ``show full-configuration`` re-loads (store.loads) to an equal CMDB;
* ``raised``         Session.execute raised (it must never);
* ``slow``           one command took more than 5 s of CPU (bounded time).

Network: the generator only writes ``execute vpn certificate local generate
est`` lines with the lab host or a closed loopback port as the server, and
:func:`loopback_only` refuses any name resolution or connection that is not
loopback while fuzzing, whatever a mutation produced.
"""

from __future__ import annotations

import argparse
import faulthandler
import datetime as dt
import ipaddress
import random
import re
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fortishell.clock import Clock  # noqa: E402
from fortishell.cli.grep import GREP_USAGE  # noqa: E402
from fortishell.cli.quoting import quote  # noqa: E402
from fortishell.cmdb import render, store  # noqa: E402
from fortishell.cmdb.schema import (DATASOURCE, EPOCH, INTEGER, IPV4, MULTI_OPTION, OPTION, PASSWORD,  # noqa: E402
                                    PEM, SCHEMA, AttrSpec, TableSpec)
from fortishell.shell.context import ENTRY, OBJECT, TABLE  # noqa: E402
from fortishell.shell.device import Device  # noqa: E402
from fortishell.shell.result import Result  # noqa: E402
from fortishell.shell.session import INTERNAL_ERROR, Session  # noqa: E402

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
LAB_CONF = ROOT / "sample-configs" / "lab.conf"

# ---------------------------------------------------------------- network guard
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None:
        return True
    host = str(host).strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@contextmanager
def loopback_only() -> Iterator[None]:
    """Refuse name look-ups and connections outside 127.0.0.0/8 and ::1 (fuzzing safety net)."""
    real_gai = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def gai(host: Any, *args: Any, **kw: Any) -> Any:
        if not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_gai(host, *args, **kw)

    def check(addr: Any) -> None:
        if isinstance(addr, tuple) and not _is_loopback(addr[0]):
            raise ConnectionRefusedError(111, "Connection refused")

    def connect(self: socket.socket, addr: Any) -> Any:
        check(addr)
        return real_connect(self, addr)

    def connect_ex(self: socket.socket, addr: Any) -> Any:
        check(addr)
        return real_connect_ex(self, addr)

    socket.getaddrinfo = gai  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.getaddrinfo = real_gai  # type: ignore[assignment]
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]


# ---------------------------------------------------------------- value pools
WORDS = ["est-test101", "G_CA_Cert_1", "Fortinet_CA_SSL", "Fortinet_SSL", "a", "x1", "lab", "e1", "e2",
         "estuser", "estpwd", "firewall-portal1", "0", "-1", "65536", "4294967296", "1.2.3.4",
         "255.255.255.255", "999.1.1.1", "enable", "disable", "est", "none", "global", "vdom",
         "user", "factory", "to", "before", "after", "full-configuration"]
UNICODE = ["証明書", "é", "Ünïcødé", "😀", "\u200b", "\u202e", "ß", "Ω≈ç√", "\ufeff", "𝔘"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\t", "\x0b", "\x0c", "\r", "\x1b", "\x1b[2J", "\x7f", "\x1c", "\n"]
SPECIAL = ['"', "'", "\\", "|", "#", "(", ")", "<", ">", "?", ";", "&", "$", "`", "*", "{", "}", "%s", "%n",
           "\\\n", " ", "  "]
GREP_PATTERNS = ["est", "[", "\\(", "a\\{1", "[[:foo:]]", "*", "\\", "a\\|b", "^set", "$", "[[:digit:]]",
                 "(", ")", "x\\{99999\\}", "[z-a]", "\\1", "a**", ".*", "", "ENC", "\\+", "-x", "-"]
GREP_OPTS = ["", "-i", "-n", "-v", "-f", "-c", "-A 2", "-B1", "-C", "-C x", "-h", "-z", "-in", "-A", "-fv"]
SAFE_URLS = ["https://testrfc7030.com:8443", "https://127.0.0.1:1", "https://localhost:1", "http://x",
             "https://", "ftp://127.0.0.1", "https://[::1]:1"]
ALGOS = ["ec-secp256r1", "rsa-2048", "rsa-1024", "ec-secp384r1", "dsa", "rsa", "ec"]


def rand_text(rng: random.Random, *, size: int = 12) -> str:
    """A short random string mixing ASCII, CLI specials, unicode and control characters."""
    parts = []
    for _ in range(rng.randint(0, size)):
        r = rng.random()
        if r < 0.55:
            parts.append(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFZ0123456789-_.:=/,@"))
        elif r < 0.7:
            parts.append(rng.choice(SPECIAL))
        elif r < 0.85:
            parts.append(rng.choice(UNICODE))
        else:
            parts.append(rng.choice(CONTROL))
    return "".join(parts)


def written(rng: random.Random, value: str) -> str:
    """``value`` as a user might type it: bare, double-quoted, single-quoted or half-quoted."""
    r = rng.random()
    if r < 0.45:
        return value if value and not re.search(r"[\s\"'\\|#()<>?]", value) else quote(value)
    if r < 0.75:
        return quote(value)
    if r < 0.88 and "'" not in value:
        return f"'{value}'"
    if r < 0.94:
        return '"' + value  # unterminated quote
    return value  # raw, whatever it holds


def abbreviate(rng: random.Random, word: str) -> str:
    r = rng.random()
    if r < 0.6 or len(word) < 2:
        return word
    if r < 0.85:
        return word[: rng.randint(1, len(word))]
    if r < 0.95:
        return word.upper() if rng.random() < 0.5 else word.capitalize()
    return word + rng.choice(["x", "-", "_", "1"])


def value_for(rng: random.Random, spec: AttrSpec, keys: dict[tuple[str, ...], list[str]]) -> list[str]:
    """Value words for ``set <attr>`` (mostly plausible, sometimes wrong)."""
    if rng.random() < 0.12:
        return [written(rng, rand_text(rng))] + ([written(rng, rand_text(rng))] if rng.random() < 0.3 else [])
    t = spec.type
    if t in (OPTION, MULTI_OPTION):
        opts = list(spec.option_values) or ["x"]
        n = 1 if t == OPTION else rng.randint(0, 3)
        return [abbreviate(rng, rng.choice(opts)) for _ in range(n)]
    if t in (INTEGER, EPOCH):
        lo, hi = spec.range or (0, 100)
        return [str(rng.choice([lo, hi, lo - 1, hi + 1, rng.randint(lo, hi), -(2 ** 40), 2 ** 64]))] \
            if rng.random() < 0.9 else [rng.choice(["0x10", "1e3", "", "+5", "٣", "1 2"])]
    if t == IPV4:
        return [rng.choice(["0.0.0.0", "10.1.2.3", "256.1.1.1", "1.2.3", "::1", "1.2.3.4/24", "a.b.c.d"])]
    if t == DATASOURCE:
        pool = [k for p in spec.datasource for k in keys.get(p, [])] + ["nosuch", ""]
        return [written(rng, rng.choice(pool))]
    if t == PEM:
        body = rng.choice(["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                           "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "garbage",
                           "-----BEGIN CERTIFICATE-----\n" + rand_text(rng, size=40)])
        return [quote(body)]
    if t == PASSWORD:
        return [written(rng, rng.choice(["estpwd", "s3cr3t pass", "p\"w", rand_text(rng), "x" * 200]))]
    # strings
    size = spec.size or 35
    v = rng.choice([rand_text(rng), rng.choice(WORDS), "y" * (size + rng.choice([0, 1])), ""])
    return [written(rng, v)]


class Generator:
    """Produces the next command line for a session's current mode."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def keys(self, sess: Session) -> dict[tuple[str, ...], list[str]]:
        return {t.path: sess.cmdb.keys(t.path) for t in SCHEMA.tables if t.is_table}

    def line(self, sess: Session) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            text = self.valid(sess)
        elif r < 0.75:
            text = self.mutate(self.valid(sess))
        elif r < 0.83:
            text = self.execute_or_diagnose(sess)
        elif r < 0.9:
            text = self.valid(sess) + " | grep " + " ".join(
                x for x in (rng.choice(GREP_OPTS), written(rng, rng.choice(GREP_PATTERNS))) if x)
            if rng.random() < 0.2:
                text += " | grep " + written(rng, rng.choice(GREP_PATTERNS)) + rng.choice(["", " extra", " |"])
        elif r < 0.985:
            text = " ".join(written(rng, rand_text(rng)) if rng.random() < 0.5 else abbreviate(rng, rng.choice(WORDS))
                            for _ in range(rng.randint(0, 5)))
        else:
            text = self.huge(sess)
        return text

    # ------------------------------------------------------------ per mode
    def valid(self, sess: Session) -> str:
        frame = sess.frame
        if frame is None:
            return self.root()
        if frame.kind == TABLE:
            return self.table(sess, frame.spec)
        return self.entry(sess, frame.spec, frame.kind, frame.buf)

    def path_words(self, spec: TableSpec) -> str:
        return " ".join(abbreviate(self.rng, w) for w in spec.path)

    def root(self) -> str:
        rng = self.rng
        spec = rng.choice(SCHEMA.tables)
        r = rng.random()
        if r < 0.55:
            return f"{abbreviate(rng, 'config')} {self.path_words(spec)}"
        verb = abbreviate(rng, rng.choice(["get", "show"]))
        full = " full-configuration" if "show".startswith(verb.lower()) and rng.random() < 0.3 else ""
        key = f" {written(rng, rng.choice(WORDS))}" if spec.is_table and rng.random() < 0.4 else ""
        if rng.random() < 0.15:
            return f"{verb}{full}"
        return f"{verb}{full} {self.path_words(spec)}{key}"

    def table(self, sess: Session, spec: TableSpec) -> str:
        rng = self.rng
        keys = sess.cmdb.keys(spec.path) if not spec.path[-1:] == ("crl-verification",) else []
        existing = rng.choice(keys) if keys else "e1"
        new = rng.choice(["e1", "e2", "est-x", rand_text(rng), "n" * rng.choice([35, 36, 79, 80])])
        verb = rng.choices(["edit", "delete", "rename", "clone", "purge", "get", "show", "end", "abort", "move"],
                           [30, 6, 4, 4, 1, 5, 5, 6, 4, 1])[0]
        v = abbreviate(rng, verb)
        key = written(rng, existing if rng.random() < 0.5 else new)
        if verb in ("edit", "delete"):
            return f"{v} {key}"
        if verb in ("rename", "clone"):
            return f"{v} {written(rng, existing)} {abbreviate(rng, 'to')} {written(rng, new)}"
        if verb == "move":
            return f"{v} {key} {rng.choice(['before', 'after', 'x'])} {written(rng, existing)}"
        if verb in ("get", "show"):
            return f"{v} {key}" if rng.random() < 0.4 else v
        return v

    def entry(self, sess: Session, spec: TableSpec, kind: str, buf: Any) -> str:
        rng = self.rng
        attrs = [a for a in spec.attrs if a.name != spec.key]
        verb = rng.choices(["set", "unset", "append", "select", "unselect", "config", "get", "show", "next",
                            "end", "abort"], [40, 8, 2, 2, 2, 3, 5, 5, 8 if kind == ENTRY else 1, 6, 4])[0]
        v = abbreviate(rng, verb)
        if verb == "config":
            subs = [s.name for s in spec.subtables] or ["nosuch"]
            return f"{v} {abbreviate(rng, rng.choice(subs))}"
        if verb in ("get", "show"):
            return v if rng.random() < 0.7 else f"{v} {abbreviate(rng, rng.choice(attrs).name)}"
        if verb in ("next", "end", "abort"):
            return v
        attr = rng.choice(attrs)
        name = abbreviate(rng, attr.name) if rng.random() < 0.9 else rand_text(rng)
        if verb == "unset":
            return f"{v} {name}"
        if verb in ("append", "select", "unselect") and attr.type != MULTI_OPTION:
            multi = [a for a in attrs if a.type == MULTI_OPTION]
            attr = rng.choice(multi) if multi else attr
            name = attr.name
        vals = value_for(rng, attr, self.keys(sess)) if rng.random() < 0.95 else []
        return " ".join([v, name, *vals])

    def execute_or_diagnose(self, sess: Session) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return rng.choice([
                "diagnose debug application est -1", "diag debug app est 0", "diagnose debug enable",
                "diagnose debug disable", "diagnose debug info", "diagnose debug reset",
                "diagnose debug console timestamp enable", "diagnose debug duration 5",
                "diagnose debug application " + rand_text(rng), "diagnose debug application est x",
                "diagnose", "diagnose debug", "diagnose nosuch", "diag deb app est 99999999999999",
            ])
        if r < 0.65:
            return rng.choice([
                "execute date", "execute time", f"execute date {rng.choice(['2023-04-06', '2023-02-30', 'x', '99999-1-1'])}",
                f"execute time {rng.choice(['22:37:34', '25:00', '1:2', 'x', '23:59:60'])}",
                f"execute ping {rng.choice(['127.0.0.1', 'localhost', '10.0.0.1', 'no.such.invalid', '::1', '', 'a b'])}",
                "execute", "execute factoryreset", "exec nosuch", "execute ping",
                "execute vpn certificate local", "execute vpn certificate local generate",
            ])
        # generate est: a bounded set of servers (lab host or closed loopback ports)
        keys = sess.cmdb.keys(("vpn", "certificate", "local"))
        name = rng.choice(["fz1", "fz2", "n" * 36, rand_text(rng, size=5)] + keys[:2])
        words = [written(rng, name), rng.choice(ALGOS), rng.choice(SAFE_URLS),
                 written(rng, rng.choice(["CN=fw,DC=local", "CN=", "bad", rand_text(rng)])),
                 written(rng, rng.choice(["DNS:fw.local", "IP:1.2.3.4", "IP:x", '""'])),
                 rng.choice(["estuser", '""']), rng.choice(["estpwd", '""']), rng.choice(["G_CA_Cert_1", "nosuch", '""'])]
        words = words[: rng.randint(0, len(words))]
        return f"{abbreviate(rng, 'execute')} vpn certificate local generate est " + " ".join(words)

    # ------------------------------------------------------------ damage
    def mutate(self, text: str) -> str:
        rng = self.rng
        for _ in range(rng.randint(1, 3)):
            pos = rng.randint(0, len(text))
            r = rng.random()
            if r < 0.4:
                text = text[:pos] + rng.choice(SPECIAL + CONTROL + UNICODE) + text[pos:]
            elif r < 0.7 and text:
                text = text[:pos] + text[pos + rng.randint(1, 4):]
            elif r < 0.85:
                text = text[:pos] + text[pos:pos + 6] * rng.randint(2, 4) + text[pos + 6:]
            else:
                words = text.split(" ")
                rng.shuffle(words)
                text = " ".join(words)
        return text

    def huge(self, sess: Session) -> str:
        rng = self.rng
        size = 100_000
        r = rng.random()
        if r < 0.3:
            return "set comments " + quote("c" * size)
        if r < 0.5:
            return "a" * size
        if r < 0.7:
            return " ".join(["set"] + ["x"] * (size // 2))
        if r < 0.85:
            return "show | grep " + quote("a" * size)
        return '"' + rand_text(rng, size=30) * (size // 60)


# ---------------------------------------------------------------- checking
_PY_ERROR = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|<class '|object at 0x[0-9a-f]+|"
    r"\b(?:[A-Z][A-Za-z]*(?:Error|Exception)|KeyError|StopIteration)(?:\(|: )|internal error",
    re.IGNORECASE,
)
_ERROR_LAST = re.compile(
    r"Command fail\. Return code -?\d+|Unknown action 0|command parse error before '.*'"
    r"|ambiguous command before '.*': .+",
    re.DOTALL,
)


def python_error(lines: list[str]) -> str | None:
    for ln in lines:
        if INTERNAL_ERROR in ln:
            return ln
        m = _PY_ERROR.search(ln)
        if m:
            return ln
    return None


def error_format_ok(result: Result) -> bool:
    lines = [ln for ln in result.lines]
    if not lines:
        return False
    last = lines[-1]
    return bool(_ERROR_LAST.fullmatch(last)) or tuple(lines[-len(GREP_USAGE):]) == GREP_USAGE


def tables_of(cmdb: Any) -> tuple[Any, Any]:
    snap = cmdb.snapshot()
    return snap.tables, snap.objects


def buffer_state(sess: Session) -> tuple[Any, ...] | None:
    frame = sess.frame
    if frame is None or frame.buf is None or frame.kind not in (ENTRY, OBJECT):
        return None
    return (id(frame), dict(frame.buf._values), dict(frame.buf._subs))


def roundtrip_ok(cmdb: Any) -> bool:
    text = "\n".join(render.show_configuration(cmdb, full=True, header=False)) + "\n"
    return store.loads(text) == cmdb


class Checker:
    """Runs lines through a session and records violations (kind -> count, kind -> first example)."""

    def __init__(self, *, save_check_every: int = 25, slow_seconds: float = 5.0) -> None:
        self.slow_seconds = slow_seconds
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.lines = 0
        self.save_check_every = save_check_every

    def violation(self, kind: str, detail: str) -> None:
        self.counts[kind] += 1
        self.examples.setdefault(kind, detail[:600])

    def run_line(self, sess: Session, text: str, rng: random.Random) -> Result | None:
        self.lines += 1
        cmdb = sess.cmdb
        before = tables_of(cmdb)
        buf_before = buffer_state(sess)
        is_abort = text.strip().lower().startswith("ab") and "abort".startswith(text.strip().split()[0].lower())
        # the line's own cost: CPU time of this thread (the session runs the line here), not wall
        # time, which a loaded machine (parallel test workers) stretches several-fold; a line that
        # hangs is caught by the caller's timeout
        t0 = time.thread_time()
        try:
            result = sess.execute(text)
            while result.question is not None:
                q = result.question
                yes = rng.random() < 0.5 and not any("re-generate" in t for t in q.text)
                result = q.answer(yes)
        except BaseException as exc:  # noqa: BLE001 - a violation, recorded
            self.violation("raised", f"{text!r}: {exc!r}")
            return None
        took = time.thread_time() - t0
        if took > self.slow_seconds:
            self.violation("slow", f"{took:.1f} s: {text[:200]!r}")
        bad = python_error(result.lines)
        if bad is not None:
            self.violation("traceback", f"{text!r} -> {bad!r}")
        if result.rc != 0:
            if not error_format_ok(result):
                self.violation("error-format", f"{text!r} -> rc {result.rc} {result.lines[-3:]!r}")
            if sess.cmdb is cmdb and tables_of(cmdb) != before:
                self.violation("cmdb-changed", f"{text!r} -> {result.lines[-3:]!r}")
            after_buf = buffer_state(sess)
            if buf_before is not None and after_buf is not None and after_buf[0] == buf_before[0] \
                    and after_buf != buf_before:
                self.violation("buffer-changed", f"{text!r} -> {result.lines[-3:]!r}")
        if is_abort and sess.cmdb is cmdb and tables_of(cmdb) != before:
            self.violation("abort-changed", repr(text))
        if self.lines % self.save_check_every == 0:
            self.check_saved(sess)
        return result

    def check_saved(self, sess: Session) -> None:
        path = sess.device.config_path
        if path is None:
            return
        try:
            if store.load(path) != sess.cmdb:
                self.violation("save-sync", f"saved file differs from the CMDB after {self.lines} lines")
        except Exception as exc:  # noqa: BLE001
            self.violation("save-sync", f"saved file does not load: {exc!r}")

    def check_roundtrip(self, sess: Session) -> None:
        """``show full-configuration`` typed at the root prompt re-loads to the same CMDB."""
        try:
            if sess.frame is None:
                result = sess.execute("show full-configuration")
                text = "\n".join(result.lines) + "\n"
                ok = result.rc == 0 and store.loads(text) == sess.cmdb
            else:
                ok = roundtrip_ok(sess.cmdb)
            if not ok:
                self.violation("roundtrip", f"after {self.lines} lines")
        except Exception as exc:  # noqa: BLE001
            self.violation("roundtrip", f"does not load: {exc!r}")


def new_device(workdir: Path, *, lab: bool = True) -> Device:
    """A device on the lab configuration (lab CA present) in ``workdir``."""
    conf = workdir / "fortishell.conf"
    if lab and LAB_CONF.exists() and not conf.exists():
        conf.write_text(LAB_CONF.read_text("utf-8"), "utf-8")
    return Device.open(conf, workdir / "state", Clock(fixed=LAB_TIME))


def run_sequence(rng: random.Random, workdir: Path, n: int, checker: Checker) -> None:
    """One device, one session, ``n`` generated lines, then the round-trip check."""
    dev = new_device(workdir)
    try:
        sess = Session(dev)
        gen = Generator(rng)
        for _ in range(n):
            checker.run_line(sess, gen.line(sess), rng)
        checker.check_saved(sess)
        checker.check_roundtrip(sess)
        while sess.frame is not None:  # leave every level (commits), then check again
            checker.run_line(sess, "end", rng)
        checker.check_roundtrip(sess)
    finally:
        dev.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sequence", type=int, default=200, help="lines per fresh device")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    checker = Checker()
    start = time.monotonic()
    with loopback_only(), tempfile.TemporaryDirectory(prefix="fuzz-shell-") as tmp:
        i = 0
        while checker.lines < args.lines:
            work = Path(tmp) / f"d{i}"
            work.mkdir()
            faulthandler.dump_traceback_later(300, exit=True)  # a hang is reported, not waited for
            run_sequence(rng, work, min(args.sequence, args.lines - checker.lines), checker)
            faulthandler.cancel_dump_traceback_later()
            i += 1
            if i % 50 == 0:
                print(f"  {checker.lines} lines, {sum(checker.counts.values())} violations, "
                      f"{time.monotonic() - start:.0f} s", flush=True)
    elapsed = time.monotonic() - start
    print(f"fuzz_shell: {checker.lines} lines in {elapsed:.1f} s (seed {args.seed}, {i} devices)")
    kinds = ["raised", "traceback", "error-format", "cmdb-changed", "buffer-changed", "abort-changed",
             "save-sync", "roundtrip", "slow"]
    for kind in kinds + sorted(set(checker.counts) - set(kinds)):
        print(f"  {kind:15} {checker.counts.get(kind, 0)}")
        if kind in checker.examples:
            print(f"      e.g. {checker.examples[kind]}")
    total = sum(checker.counts.values())
    print(f"violations: {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
