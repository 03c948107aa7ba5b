"""Transcript comparison: ``fortishell run --expect`` and ``python -m fortishell.expect``.

Owns the normalisation table (which values may legitimately change from run to
run), the line-by-line comparison of an expected transcript with an actual one,
and the readable diff printed on a mismatch.  It never touches a device or a
session: it compares text.

Normalisation
    Both sides are normalised before they are compared.  :data:`LINE_RULES`
    replaces values inside a line (dates, times, serials, key identifiers,
    fingerprints, ``ENC`` secrets, password hashes, lengths, ping times) by a
    placeholder such as ``<DATETIME>``; :data:`BLOCK_RULES` folds multi-line
    base64 bodies (``Buffer:`` dumps, the ``|||...|||`` CSR block, PEM bodies)
    into one placeholder line, so a body of a different length (another key
    size) still matches.  Everything else must match exactly.  Trailing
    whitespace, a trailing carriage return, terminal colour codes and blank
    lines at the very end are ignored (they are invisible in a diff).

Wildcards in the EXPECTED file
    ``<*>`` matches any text within one line (never a line break), e.g.
    ``FortiProxy # execute ping <*>`` or ``64 bytes from <*>``.  A
    placeholder written in the expected file (``Valid from:  <DATETIME>  GMT``)
    matches what that rule's value becomes on the actual side.

Grading
    :func:`grade` is the one grader of ``fortishell lab check``, ``lab grade`` and
    ``python -m fortishell.expect``: by outcome (the default; see
    :mod:`fortishell.classroom.outcome`: abbreviations spelt out, ``?`` listings,
    empty lines and refused-then-retyped commands set aside), or ``strict``
    (``--strict``: the comparison above, line by line).  Both take a closing
    ``exit`` at the root prompt as the final prompt.  ``run --expect`` replays a
    script, so its hook compares strictly.

Exit codes of :func:`main` and of the ``--expect`` hook: 0 the transcripts
match, 1 they differ, 2 a file cannot be read.
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

WILDCARD = "<*>"

_HEX = "[0-9A-Fa-f]{2}"
_B64_LINE = r"[A-Za-z0-9+/]+={0,2}"


@dataclass(frozen=True)
class Rule:
    """Replace ``pattern`` inside a line by ``placeholder`` (``re.sub`` syntax)."""

    name: str
    pattern: re.Pattern[str]
    placeholder: str


@dataclass(frozen=True)
class BlockRule:
    """Fold a multi-line base64 body into one placeholder line.

    A block starts at a line matching ``start`` and takes the following lines
    that match ``body``; ``close`` (when given) is a last line taken into the
    block.  With ``keep_start`` the first line stays a line of its own (line
    rules apply) and only the body lines become ``placeholder``; otherwise the
    first line and the body become ``start.sub(placeholder, first line)``.
    """

    name: str
    start: re.Pattern[str]
    body: re.Pattern[str]
    placeholder: str
    keep_start: bool = False
    close: re.Pattern[str] | None = None


def _rule(name: str, pattern: str, placeholder: str) -> Rule:
    return Rule(name, re.compile(pattern), placeholder)


# Applied in this order to every line (after the block rules).  Dates and times
# come before the colon-hex rules so that ``22:37:34`` is never taken for hex.
LINE_RULES: tuple[Rule, ...] = (
    _rule("datetime", r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\b", "<DATETIME>"),
    _rule("log-datetime", r"\bdate=\d{4}-\d{2}-\d{2} time=\d{2}:\d{2}:\d{2}\b", "date=<DATE> time=<TIME>"),
    _rule("current-date", r"(?<=current date is: )\S+", "<DATE>"),
    _rule("current-time", r"(?<=current time is: )\S+", "<TIME>"),
    _rule("system-time", r"(?<=System time: )\S.*", "<DATETIME>"),
    _rule("last-updated", r"(?<=last-updated)(\s*:?\s*)\d+\b", r"\1<EPOCH>"),
    _rule("serial-decimal", r"(?<=Serial Number: )\d+ \(0x[0-9A-Fa-f]+\)", "<SERIAL>"),
    _rule("key-identifier", rf"(?<![0-9A-Fa-f:]){_HEX}(?::{_HEX}){{19}}(?![0-9A-Fa-f:])", "<KEYID>"),
    _rule("fingerprint", rf"(?<![0-9A-Fa-f:]){_HEX}(?::{_HEX}){{15}}(?![0-9A-Fa-f:])", "<FINGERPRINT>"),
    _rule("serial-hex", rf"^(\s*){_HEX}(?::{_HEX})+\s*$", r"\1<SERIAL>"),
    _rule("enc-secret", r"\bENC [A-Za-z0-9+/]+={0,2}", "ENC <ENC>"),
    _rule("password-hash", r"\bpasswd:[0-9A-Fa-f]+\b", "passwd:<HASH>"),
    _rule("content-length", r"\bContent-Length: \d+", "Content-Length: <N>"),
    _rule("resp-len", r"\bresp->len: \d+", "resp->len: <N>"),
    _rule("ping-time", r"\btime=\d+(?:\.\d+)? ms\b", "time=<MS> ms"),
    _rule("ping-round-trip", r"(?<=round-trip min/avg/max = )[\d./]+(?= ms)", "<MS>"),
)

BLOCK_RULES: tuple[BlockRule, ...] = (
    BlockRule("buffer", re.compile(rf"^(.*\bBuffer:){_B64_LINE}$"), re.compile(rf"^{_B64_LINE}$"), r"\1<BASE64>"),
    BlockRule(
        "csr-block",
        re.compile(rf"^\|\|\|(?:{_B64_LINE})?$"),
        re.compile(rf"^{_B64_LINE}$"),
        "|||<BASE64>|||",
        close=re.compile(r"^\|\|\|$"),
    ),
    BlockRule("pem-body", re.compile(r"-----BEGIN [A-Z0-9 ]+-----$"), re.compile(rf"^{_B64_LINE}$"), "<PEM>", keep_start=True),
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# ------------------------------------------------------------------ normalise
@dataclass(frozen=True)
class Unit:
    """One comparable line: normalised ``text`` and the original lines it stands for."""

    text: str
    first: int  # 1-based number of the first original line
    original: tuple[str, ...]


def _clean(text: str) -> list[str]:
    lines = [_ANSI.sub("", ln).rstrip() for ln in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _apply_line_rules(line: str) -> str:
    for rule in LINE_RULES:
        line = rule.pattern.sub(rule.placeholder, line)
    return line


def units(text: str) -> list[Unit]:
    """Normalise ``text`` into comparable units (block bodies folded to one unit)."""
    lines = _clean(text)
    out: list[Unit] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        for block in BLOCK_RULES:
            if not block.start.search(line):
                continue
            j = i + 1
            while j < len(lines) and block.body.match(lines[j]) and not (block.close and block.close.match(lines[j])):
                j += 1
            if block.close is not None and j < len(lines) and block.close.match(lines[j]):
                j += 1
            if block.keep_start:
                out.append(Unit(_apply_line_rules(line), i + 1, (line,)))
                if j > i + 1:
                    out.append(Unit(block.placeholder, i + 2, tuple(lines[i + 1 : j])))
            else:
                out.append(Unit(block.start.sub(block.placeholder, line), i + 1, tuple(lines[i:j])))
            i = j
            break
        else:
            out.append(Unit(_apply_line_rules(line), i + 1, (line,)))
            i += 1
    return out


def normalise(text: str) -> str:
    """``text`` with every legitimately changing value replaced by its placeholder."""
    return "\n".join(u.text for u in units(text))


# ------------------------------------------------------------------ compare
def _pattern(expected: str) -> re.Pattern[str] | None:
    if WILDCARD not in expected:
        return None
    return re.compile("^" + ".*".join(re.escape(part) for part in expected.split(WILDCARD)) + "$", re.DOTALL)


def line_matches(expected: str, actual: str) -> bool:
    """Whether one normalised actual line matches one normalised expected line (``<*>`` aware)."""
    pat = _pattern(expected)
    return expected == actual if pat is None else bool(pat.match(actual))


@dataclass
class Comparison:
    """The result of :func:`compare`."""

    expected: list[Unit]
    actual: list[Unit]
    ok: bool
    expected_name: str = "expected"
    actual_name: str = "actual"

    @property
    def first_difference(self) -> int | None:
        """Index (0-based, in units) of the first pair that differs; None when ok."""
        if self.ok:
            return None
        for i, (e, a) in enumerate(zip(self.expected, self.actual)):
            if not line_matches(e.text, a.text):
                return i
        return min(len(self.expected), len(self.actual))

    def diff_lines(self, color: bool = False, context: int = 3) -> list[str]:
        """A unified diff (expected vs actual) of the original text with line numbers; [] when ok."""
        if self.ok:
            return []
        rows = _diff_rows(self.expected, self.actual, context)
        header = [f"--- {self.expected_name}", f"+++ {self.actual_name}"]
        plain = header + [text for _, text in rows]
        if not color:
            return plain
        return _colourise([("header", h) for h in header] + rows)


def compare(expected: str, actual: str) -> Comparison:
    """Compare two transcripts line by line after normalising both sides."""
    exp, act = units(expected), units(actual)
    ok = len(exp) == len(act) and all(line_matches(e.text, a.text) for e, a in zip(exp, act))
    return Comparison(exp, act, ok)


_FINAL_EXIT = re.compile(r"^(.* # )exit\s*$")


def without_final_exit(text: str) -> str:
    """``text`` with a closing ``exit`` at the root prompt taken as the bare final prompt."""
    lines = text.rstrip().split("\n")
    if lines:
        m = _FINAL_EXIT.match(lines[-1].rstrip("\r"))
        if m and "(" not in m.group(1):
            lines[-1] = m.group(1)
    return "\n".join(lines)


def grade(expected: str, actual: str, *, strict: bool = False) -> tuple[Comparison, list[SetAsideLine]]:
    """Grade ``actual`` against ``expected``: by outcome, or literally with ``strict``; with the
    lines of ``actual`` set aside (outcome grading only)."""
    if strict:
        return compare(without_final_exit(expected), without_final_exit(actual)), []
    from .classroom.outcome import compare_outcome

    result, set_aside = compare_outcome(expected, actual)
    return result, [SetAsideLine(s.line, s.text, s.why) for s in set_aside]


@dataclass(frozen=True)
class SetAsideLine:
    """A line of the actual transcript that outcome grading left out, and why."""

    line: int
    text: str
    why: str


def _keys(exp: Sequence[Unit], act: Sequence[Unit]) -> tuple[list[str], list[str]]:
    """Hashable keys for difflib: an actual line that matches a wildcard line gets its key."""
    ekeys = [u.text for u in exp]
    exact = set(ekeys)
    patterns = [(k, p) for k in dict.fromkeys(ekeys) if (p := _pattern(k)) is not None]
    akeys: list[str] = []
    for i, unit in enumerate(act):
        text = unit.text
        if i < len(ekeys) and line_matches(ekeys[i], text):
            akeys.append(ekeys[i])
        elif text in exact:
            akeys.append(text)
        else:
            akeys.append(next((k for k, p in patterns if p.match(text)), text))
    return ekeys, akeys


def _numbered(mark: str, exp_no: int | None, act_no: int | None, text: str) -> str:
    e = f"{exp_no:>5}" if exp_no is not None else " " * 5
    a = f"{act_no:>5}" if act_no is not None else " " * 5
    return f"{mark}{e} {a} | {text}"


def _expand(unit: Unit) -> list[tuple[int, str]]:
    return [(unit.first + k, text) for k, text in enumerate(unit.original)]


def _diff_rows(exp: Sequence[Unit], act: Sequence[Unit], context: int) -> list[tuple[str, str]]:
    ekeys, akeys = _keys(exp, act)
    matcher = difflib.SequenceMatcher(None, ekeys, akeys, autojunk=False)
    rows: list[tuple[str, str]] = []
    for group in matcher.get_grouped_opcodes(context):
        e0, a0 = group[0][1], group[0][3]
        e1, a1 = group[-1][2], group[-1][4]
        first_e = exp[e0].first if e0 < len(exp) else (exp[-1].first + len(exp[-1].original) if exp else 1)
        first_a = act[a0].first if a0 < len(act) else (act[-1].first + len(act[-1].original) if act else 1)
        n_e = sum(len(u.original) for u in exp[e0:e1])
        n_a = sum(len(u.original) for u in act[a0:a1])
        rows.append(("hunk", f"@@ expected line {first_e} ({n_e} lines), actual line {first_a} ({n_a} lines) @@"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for eu, au in zip(exp[i1:i2], act[j1:j2]):
                    for (en, text), (an, _) in zip(_expand(eu), _expand(au)):
                        rows.append(("equal", _numbered(" ", en, an, text)))
                    # folded blocks of different lengths: show the rest on their own side
                    for en, text in _expand(eu)[len(au.original) :]:
                        rows.append(("equal", _numbered(" ", en, None, text)))
                    for an, text in _expand(au)[len(eu.original) :]:
                        rows.append(("equal", _numbered(" ", None, an, text)))
                continue
            for eu in exp[i1:i2]:
                rows.extend(("minus", _numbered("-", n, None, t)) for n, t in _expand(eu))
            for au in act[j1:j2]:
                rows.extend(("plus", _numbered("+", None, n, t)) for n, t in _expand(au))
    return rows


_STYLES = {"header": "bold", "hunk": "cyan", "minus": "red", "plus": "green", "equal": ""}


def _colourise(rows: list[tuple[str, str]]) -> list[str]:
    from rich.console import Console
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="standard", width=100_000, highlight=False)
    for kind, text in rows:
        console.print(Text(text, style=_STYLES[kind]), soft_wrap=True)
    return buf.getvalue().splitlines()


# ------------------------------------------------------------------ front ends
def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text(encoding="utf-8", errors="replace")


def check(
    expected_path: str,
    actual: str,
    *,
    out: IO[str] | None = None,
    color: bool | None = None,
    actual_name: str = "actual",
    strict: bool = False,
) -> int:
    """Grade ``actual`` against the transcript in ``expected_path`` (:func:`grade`); print the
    verdict and diff to ``out``.

    ``color`` None: colour when ``out`` is a terminal.  Returns 0 (match), 1 (differs), 2 (unreadable).
    """
    out = out if out is not None else sys.stderr
    try:
        expected = _read(expected_path)
    except OSError as exc:
        out.write(f"expect: cannot read {expected_path}: {exc.strerror or exc}\n")
        return 2
    if color is None:
        color = _isatty(out)
    result, set_aside = grade(expected, actual, strict=strict)
    result.expected_name, result.actual_name = expected_path, actual_name
    for s in set_aside:
        out.write(f"expect: set aside line {s.line} ({s.why}): {s.text.strip()}\n")
    if result.ok:
        out.write(f"expect: transcript matches {expected_path} ({sum(len(u.original) for u in result.expected)} lines)\n")
        return 0
    for line in result.diff_lines(color=color):
        out.write(line + "\n")
    first = result.first_difference
    where = result.expected[first].first if first is not None and first < len(result.expected) else "end"
    out.write(f"expect: transcript differs from {expected_path} (first difference at expected line {where})\n")
    return 1


def expect_hook(expected_path: str, *, out: IO[str] | None = None, color: bool | None = None) -> Callable[[str], int]:
    """The ``--expect FILE`` hook for :func:`fortishell.replay.run_scripts` (transcript text -> exit code);
    a replayed script is compared strictly."""

    def hook(transcript: str) -> int:
        return check(expected_path, transcript, out=out, color=color, actual_name="transcript", strict=True)

    return hook


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fortishell.expect [--strict] EXPECTED ACTUAL``: grade a recorded transcript."""
    parser = argparse.ArgumentParser(
        prog="python -m fortishell.expect",
        description="Grade a recorded fortishell transcript against an expected one, as `fortishell lab check` "
        "does: by outcome (abbreviated commands spelt out; ? listings, empty lines and refused-then-retyped "
        "commands set aside; a closing exit is the final prompt), or line by line with --strict. Dates, serials, "
        "key identifiers, fingerprints, base64 bodies, secrets and hashes are wildcards; "
        "'<*>' in EXPECTED matches any text within a line.",
    )
    parser.add_argument("expected", metavar="EXPECTED")
    parser.add_argument("actual", metavar="ACTUAL", help="recorded transcript ('-' = standard input)")
    parser.add_argument("--strict", action="store_true",
                        help="compare line by line as typed (default: by outcome, as `fortishell lab check` grades)")
    parser.add_argument("--color", dest="color", action="store_true", default=None, help="always colour the diff")
    parser.add_argument("--no-color", dest="color", action="store_false", help="never colour the diff")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        actual = _read(args.actual)
    except OSError as exc:
        print(f"expect: cannot read {args.actual}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    color = args.color if args.color is not None else _isatty(sys.stdout)
    return check(args.expected, actual, out=sys.stdout, color=color, actual_name=args.actual, strict=args.strict)


if __name__ == "__main__":
    sys.exit(main())
