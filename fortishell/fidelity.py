"""Guide fidelity: do a transcript's debug lines reproduce the vendor guide's, in order?

Owns the parsing of bracketed FortiOS debug lines (``[1728] est_curl_req: URL: ...``)
and the in-order matching of the guide's lines against a transcript.  A guide
line is matched by a transcript line with the same source line number, the
same function and the same text once both texts are normalised with
:func:`fortishell.expect.normalise` (dates, serials, key identifiers, base64
bodies, lengths... are values, not structure).  Trailing whitespace is ignored:
the guide carries stray trailing spaces, and elides lines with ``...`` (so the
guide's lines need only form a subsequence of the transcript's).

The match is a longest common subsequence, so one missing or renamed line does
not hide the lines after it; every guide line left over is reported with the
transcript line that comes closest and why it differs (line number, function,
text, or out of order).  Pure functions, no I/O except :func:`main`.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .expect import normalise as _normalise

normalise = lru_cache(maxsize=8192)(_normalise)

# An optional ``diagnose debug console timestamp enable`` prefix, then "[N] func: text".
TRACE_LINE = re.compile(r"^\s*(?:\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} )?\[(\d+)\] ([A-Za-z_][A-Za-z0-9_]*):(?: (.*))?$")


@dataclass(frozen=True)
class TraceLine:
    """One bracketed debug line; ``index`` is its 1-based line number in its source (0: unknown)."""

    number: int
    func: str
    text: str
    index: int = field(default=0, compare=False)

    def __str__(self) -> str:
        return f"[{self.number}] {self.func}: {self.text}"

    @property
    def key(self) -> tuple[int, str, str]:
        """What must be equal for two lines to match: number, function, normalised text."""
        return (self.number, self.func, normalise(self.text))


def parse_trace_lines(lines: Iterable[str] | str) -> list[TraceLine]:
    """The bracketed debug lines among ``lines`` (a string is split into lines); others are skipped."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    out: list[TraceLine] = []
    for i, raw in enumerate(lines, start=1):
        m = TRACE_LINE.match(raw.rstrip())
        if m:
            out.append(TraceLine(int(m.group(1)), m.group(2), (m.group(3) or "").rstrip(), i))
    return out


@dataclass(frozen=True)
class Missing:
    """A guide line with no in-order counterpart, the closest transcript line and why it differs."""

    guide: TraceLine
    position: int  # 0-based position among the guide's trace lines
    near: TraceLine | None
    why: str

    def describe(self) -> str:
        near = f"\n      nearest (transcript line {self.near.index}): {self.near}" if self.near else ""
        return f"  missing guide line {self.position + 1}: {self.guide}\n      why: {self.why}{near}"


@dataclass
class FidelityReport:
    """Outcome of :func:`match_in_order`."""

    total: int
    matched: int
    missing: list[Missing]
    pairs: list[tuple[int, int]]  # (guide position, transcript line index) of each matched line

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else 100.0 * self.matched / self.total

    @property
    def ok(self) -> bool:
        return self.matched == self.total

    def summary(self, name: str = "guide") -> list[str]:
        """Human-readable lines: the percentage, then each missing line and why."""
        head = f"{name}: {self.matched}/{self.total} trace lines matched in order ({self.percent:.1f}%)"
        return [head, *(m.describe() for m in self.missing)]


def _lcs(gkeys: Sequence[tuple[int, str, str]], tkeys: Sequence[tuple[int, str, str]]) -> list[tuple[int, int]]:
    """Positions (guide, transcript) of a longest common subsequence, earliest matches preferred."""
    n, m = len(gkeys), len(tkeys)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = table[i], table[i + 1]
        gk = gkeys[i]
        for j in range(m - 1, -1, -1):
            row[j] = below[j + 1] + 1 if gk == tkeys[j] else max(below[j], row[j + 1])
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < n and j < m:
        if gkeys[i] == tkeys[j] and table[i][j] == table[i + 1][j + 1] + 1:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i][j + 1] >= table[i + 1][j]:
            j += 1
        else:
            i += 1
    return pairs


def _differences(g: TraceLine, t: TraceLine) -> list[str]:
    why = []
    if g.number != t.number:
        why.append(f"line number differs: guide [{g.number}], transcript [{t.number}]")
    if g.func != t.func:
        why.append(f"function differs: guide {g.func}, transcript {t.func}")
    if normalise(g.text) != normalise(t.text):
        why.append(f"text differs: guide {g.text!r}, transcript {t.text!r}")
    return why


def _explain(g: TraceLine, window: range, trans: Sequence[TraceLine], at: dict[tuple[int, str, str], list[int]]) -> tuple[TraceLine | None, str]:
    """The closest transcript line to the guide line ``g`` and the reason it is not a match."""
    if not trans:
        return None, "the transcript has no trace lines"
    elsewhere = at.get(g.key, [])
    if elsewhere:
        t = trans[elsewhere[0]]
        lo = trans[window.start - 1].index if window.start > 0 else None
        hi = trans[window.stop].index if window.stop < len(trans) else None
        bounds = " and ".join(
            part for part in (f"after transcript line {lo}" if lo else "", f"before transcript line {hi}" if hi else "") if part
        )
        return t, f"out of order: found at transcript line {t.index}, but the guide's order needs it {bounds}"
    gnorm = str(TraceLine(g.number, g.func, normalise(g.text)))

    def score(j: int) -> tuple[int, int, float]:
        t = trans[j]
        same = (t.number == g.number) + (t.func == g.func) + (normalise(t.text) == normalise(g.text))
        tnorm = str(TraceLine(t.number, t.func, normalise(t.text)))
        return same, int(j in window), difflib.SequenceMatcher(None, gnorm, tnorm, autojunk=False).ratio()

    best = max(range(len(trans)), key=score)
    t = trans[best]
    same = score(best)[0]
    if same < 2:  # sharing only a function or a number is no near miss: the line is absent
        return t, "not in the transcript (no line shares two of its number, function and text)"
    why = "; ".join(_differences(g, t))
    if best not in window:
        why += " (and out of order)"
    return t, why


def match_in_order(guide: list[str], transcript: list[str]) -> FidelityReport:
    """Match the guide's trace lines against the transcript's, in order (see the module docstring).

    ``guide`` lines that are blank are skipped; any other line that is not a
    bracketed trace line is a ValueError (a broken fixture, not a mismatch).
    """
    glines = parse_trace_lines(guide)
    stray = [ln for ln in guide if ln.strip() and not TRACE_LINE.match(ln.rstrip())]
    if stray:
        raise ValueError(f"not a trace line in the guide list: {stray[0]!r}")
    tlines = parse_trace_lines(transcript)
    gkeys = [g.key for g in glines]
    tkeys = [t.key for t in tlines]
    pairs = _lcs(gkeys, tkeys)
    at: dict[tuple[int, str, str], list[int]] = {}
    for j, k in enumerate(tkeys):
        at.setdefault(k, []).append(j)
    matched_at = dict(pairs)
    missing: list[Missing] = []
    for i, g in enumerate(glines):
        if i in matched_at:
            continue
        before = [matched_at[k] for k in range(i) if k in matched_at]
        after = [matched_at[k] for k in range(i + 1, len(glines)) if k in matched_at]
        window = range(before[-1] + 1 if before else 0, after[0] if after else len(tlines))
        near, why = _explain(g, window, tlines, at)
        missing.append(Missing(g, i, near, why))
    return FidelityReport(len(glines), len(pairs), missing, [(i, tlines[j].index) for i, j in pairs])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fortishell.fidelity GUIDE_LINES TRANSCRIPT``: report the match; 0 when 100%."""
    parser = argparse.ArgumentParser(prog="python -m fortishell.fidelity", description=main.__doc__)
    parser.add_argument("guide", help="file of guide trace lines (lines starting with '## ' are skipped)")
    parser.add_argument("transcript", help="transcript file ('-' = standard input)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        guide = [ln for ln in Path(args.guide).read_text(encoding="utf-8").splitlines() if not ln.startswith("## ")]
        text = sys.stdin.read() if args.transcript == "-" else Path(args.transcript).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"fidelity: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2
    try:
        report = match_in_order(guide, text.splitlines())
    except ValueError as exc:
        print(f"fidelity: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.summary(args.guide)))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
