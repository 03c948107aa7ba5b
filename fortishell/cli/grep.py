"""The ``| grep`` output filter: option parsing, BRE translation, filtering.

Owns :func:`parse_filter` (words after ``grep`` -> :class:`ast.Grep`, used by
the parser), :func:`compile_pattern` (POSIX basic regular expression ->
Python ``re``), :func:`apply_filters` and :data:`GREP_USAGE`.  Pure functions:
lines in, lines out.

Choices where FortiOS is undocumented:

* options come before the pattern; a *quoted* word is always the pattern,
  even when it starts with ``-``; words after the pattern are a parse error;
* ``-h``, an unknown option letter, a missing or non-numeric ``-A/-B/-C``
  count, or no pattern at all select the usage text;
* an invalid pattern is refused when the line is parsed, as
  ``command parse error before '<pattern>'`` (rc -61), never a traceback;
* ``-f`` context: for each matching line, the innermost enclosing
  ``edit ... next`` block (or ``config ... end`` when not inside an edit) is
  printed whole, with the opening and closing lines of every enclosing block;
  matching lines are marked with `` <---``;
* ``-A/-B/-C`` separate non-adjacent groups with ``--`` like GNU grep;
  ``-n`` prints ``N:`` before matching lines and ``N-`` before context lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from fortishell import errors
from fortishell.cli import ast

__all__ = ["GREP_USAGE", "parse_filter", "compile_pattern", "apply_filters"]

GREP_USAGE: tuple[str, ...] = (
    "Usage: grep [-invfcABC] PATTERN",
    "Options:",
    "        -i      Ignore case distinctions",
    "        -n      Print line number with output lines",
    "        -v      Select non-matching lines",
    "        -f      Print fortinet config context",
    "        -c      Only print count of matching lines",
    "        -A      Print NUM lines of trailing context",
    "        -B      Print NUM lines of leading context",
    "        -C      Print NUM lines of output context",
)

_FLAGS = {"i": "ignore_case", "n": "line_numbers", "v": "invert", "f": "fortinet_context", "c": "count"}
_COUNTS = {"A": "after", "B": "before", "C": "context"}


# ------------------------------------------------------------------ options
def parse_filter(words: Sequence[ast.Word]) -> ast.Grep:
    """Build a Grep stage from the words after ``grep``."""
    opts: dict[str, object] = {}
    pattern: str | None = None
    usage = False
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if pattern is not None:
            raise errors.ParseError(w.text)
        if w.quoted or not w.text.startswith("-") or w.text == "-":
            pattern = w.text
            continue
        letters = w.text[1:]
        j = 0
        while j < len(letters):
            c = letters[j]
            j += 1
            if c in _FLAGS:
                opts[_FLAGS[c]] = True
            elif c in _COUNTS:
                num = letters[j:]
                j = len(letters)
                if not num:
                    if i < len(words):
                        num = words[i].text
                        i += 1
                if num.isdigit():
                    opts[_COUNTS[c]] = int(num)
                else:
                    usage = True
            else:  # -h or an unknown letter
                usage = True
    if pattern is None:
        usage = True
        pattern = ""
    grep = ast.Grep(pattern=pattern, usage=usage, **opts)  # type: ignore[arg-type]
    if not usage:
        compile_pattern(grep)
    return grep


# ------------------------------------------------------------------ BRE
_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "xdigit": "0-9A-Fa-f",
    "punct": r"!-/:-@\[-`{-~", "print": r" -~", "graph": r"!-~", "cntrl": r"\x00-\x1f\x7f",
}


def _bracket(p: str, i: int) -> tuple[str, int]:
    """Translate the bracket expression starting at p[i] == '['; return (re, next index)."""
    j = i + 1
    out = ["["]
    if j < len(p) and p[j] == "^":
        out.append("^")
        j += 1
    first = True
    while j < len(p):
        c = p[j]
        if c == "]" and not first:
            out.append("]")
            return "".join(out), j + 1
        if c == "[" and p.startswith("[:", j):
            end = p.find(":]", j + 2)
            name = p[j + 2 : end] if end > 0 else ""
            if name not in _CLASSES:
                raise ValueError("bad class")
            out.append(_CLASSES[name])
            j = end + 2
        else:
            out.append("\\" + c if c in "\\[]^-" and not (c == "-" and not first) else c)
            j += 1
        first = False
    raise ValueError("unmatched [")


_INTERVAL = re.compile(r"(\d*)(,?)(\d*)\\}")
RE_DUP_MAX = 32767  # GNU grep: a larger count is "Regular expression too big"


def _interval(p: str, i: int) -> tuple[str, int]:
    """The ``\\{m,n\\}`` interval whose body starts at p[i]; return (re, next index).

    Accepted like GNU grep: ``\\{m\\}``, ``\\{m,\\}``, ``\\{m,n\\}`` (m <= n) and ``\\{,n\\}``;
    an unterminated one ("Unmatched \\{") or bad content ("Invalid content of \\{\\}") is
    a ValueError.
    """
    m = _INTERVAL.match(p, i)
    if m is None:
        raise ValueError("unmatched \\{ or invalid content of \\{\\}")
    low, comma, high = m.groups()
    if not low and not comma:
        raise ValueError("invalid content of \\{\\}")
    lo = int(low) if low else 0
    hi = int(high) if high else None
    if max(lo, hi or 0) > RE_DUP_MAX or (hi is not None and hi < lo):
        raise ValueError("invalid content of \\{\\}")
    if not comma:
        return f"{{{lo}}}", m.end()
    return f"{{{lo},{'' if hi is None else hi}}}", m.end()


def bre_to_python(p: str) -> str:
    """Translate a POSIX basic regular expression (with GNU ``\\|`` ``\\+`` ``\\?``).

    As in GNU grep, ``*``, ``\\+``, ``\\?`` and ``\\{`` with nothing before them (at the
    start, after ``\\(`` or ``\\|``) are literal, and a repetition of a repeated atom
    (``a\\{1\\}\\{2\\}``, ``a**``) repeats the whole repeated atom.
    """
    out: list[str] = []
    i = 0
    n = len(p)
    at_start = True  # where '^' is an anchor and '*' is literal
    atom: int | None = None  # index in `out` where the last repeatable atom starts
    repeated = False  # the last atom already carries a repetition
    groups: list[int] = []

    def repeat(q: str) -> None:
        nonlocal repeated
        if atom is not None and repeated:
            out[atom:] = ["(?:" + "".join(out[atom:]) + ")"]
        out.append(q)
        repeated = True

    def literal(piece: str) -> None:
        nonlocal atom, repeated
        atom, repeated = len(out), False
        out.append(piece)

    while i < n:
        c = p[i]
        if c == "\\" and i + 1 < n:
            d = p[i + 1]
            i += 2
            if d == "(":
                groups.append(len(out))
                out.append("(")
                atom, at_start = None, True
                continue
            if d == "|":
                out.append("|")
                atom, at_start = None, True
                continue
            if d in "{+?" and at_start:
                literal(re.escape(d))
            elif d == "{":
                piece, i = _interval(p, i)
                repeat(piece)
            elif d in "+?":
                repeat(d)
            elif d == ")":
                out.append(")")
                atom, repeated = (groups.pop() if groups else None), False
            elif d == "}":
                literal(re.escape(d))
            elif d in "<>bB":
                out.append(r"\b" if d in "<>" else "\\" + d)
                atom = None
            elif d.isdigit() or d in "wWsS":
                literal("\\" + d)
            else:
                literal(re.escape(d))
            at_start = False
            continue
        if c == "\\":  # trailing backslash
            raise ValueError("trailing backslash")
        i += 1
        if c == "[":
            piece, i = _bracket(p, i - 1)
            literal(piece)
        elif c == "^":
            if at_start:
                out.append("^")
                atom = None
                continue  # still at the start for a following '*'
            literal(r"\^")
        elif c == "$":
            anchor = i == n or p.startswith(r"\)", i) or p.startswith(r"\|", i)
            if anchor:
                out.append("$")
                atom = None
            else:
                literal(r"\$")
        elif c == "*":
            if at_start:
                literal(r"\*")
            else:
                repeat("*")
        elif c == ".":
            literal(".")
        else:
            literal(re.escape(c))
        at_start = False
    return "".join(out)


def compile_pattern(grep: ast.Grep) -> re.Pattern[str]:
    """The compiled pattern of a stage; ParseError for an invalid one."""
    try:
        return re.compile(bre_to_python(grep.pattern), re.IGNORECASE if grep.ignore_case else 0)
    except (ValueError, re.error, IndexError):
        raise errors.ParseError(grep.pattern) from None


# ------------------------------------------------------------------ filtering
def apply_filters(lines: list[str], filters: Sequence[ast.Grep]) -> list[str]:
    """Run ``lines`` through each grep stage in turn."""
    for grep in filters:
        lines = _apply(lines, grep)
    return lines


def _apply(lines: list[str], g: ast.Grep) -> list[str]:
    if g.usage:
        return list(GREP_USAGE)
    rx = compile_pattern(g)
    hits = [(rx.search(line) is not None) != g.invert for line in lines]
    if g.count:
        return [str(sum(hits))]
    if g.fortinet_context:
        return _context_blocks(lines, hits, g.line_numbers)
    before = g.before or g.context
    after = g.after or g.context
    if not before and not after:
        return [_num(i, line, ":", g.line_numbers) for i, line in enumerate(lines) if hits[i]]
    keep = [False] * len(lines)
    for i, hit in enumerate(hits):
        if hit:
            for k in range(max(0, i - before), min(len(lines), i + after + 1)):
                keep[k] = True
    out: list[str] = []
    last = -2
    for i, k in enumerate(keep):
        if k:
            if out and i != last + 1:
                out.append("--")
            out.append(_num(i, lines[i], ":" if hits[i] else "-", g.line_numbers))
            last = i
    return out


def _num(i: int, line: str, sep: str, numbered: bool) -> str:
    return f"{i + 1}{sep}{line}" if numbered else line


def _blocks(lines: list[str]) -> tuple[list[int], list[int], list[int], list[int]]:
    """For a show listing: per line the index of its innermost block (-1: none),
    and per block its opening line, closing line and parent block."""
    owner = [-1] * len(lines)
    opens: list[int] = []
    closes: list[int] = []
    parents: list[int] = []
    kinds: list[str] = []
    stack: list[int] = []
    in_quote = False
    for i, line in enumerate(lines):
        word = line.strip().split(" ", 1)[0]
        if not in_quote and word in ("config", "edit"):
            parents.append(stack[-1] if stack else -1)
            opens.append(i)
            closes.append(len(lines) - 1)
            kinds.append(word)
            stack.append(len(opens) - 1)
            owner[i] = stack[-1]
        elif not in_quote and word in ("next", "end") and stack:
            b = stack[-1]
            # `end` also closes an `edit` left open (e.g. config vdom / edit root / end)
            while word == "end" and kinds[b] == "edit" and len(stack) > 1:
                closes[stack.pop()] = i
                b = stack[-1]
            owner[i] = b
            closes[b] = i
            stack.pop()
        else:
            owner[i] = stack[-1] if stack else -1
        if (line.count('"') - line.count('\\"')) % 2:
            in_quote = not in_quote
    return owner, opens, closes, parents


def _context_blocks(lines: list[str], hits: list[bool], numbered: bool) -> list[str]:
    owner, opens, closes, parents = _blocks(lines)
    keep = [False] * len(lines)
    for i, hit in enumerate(hits):
        if not hit:
            continue
        b = owner[i]
        if b < 0:
            keep[i] = True
            continue
        for k in range(opens[b], closes[b] + 1):
            keep[k] = True
        p = parents[b]
        while p >= 0:
            keep[opens[p]] = keep[closes[p]] = True
            p = parents[p]
    out = []
    for i, line in enumerate(lines):
        if keep[i]:
            text = line + " <---" if hits[i] else line
            out.append(_num(i, text, ":" if hits[i] else "-", numbered))
    return out
