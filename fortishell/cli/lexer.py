"""The word rules of FortiOS text, in one place.

Every reader and writer of CLI words takes its patterns from here:

* the grammar's ``WORD`` terminal (``grammar/cli.lark``) is :data:`WORD_PATTERN`
  written out (``tests/cli/test_lexer.py`` keeps the two identical);
* the command-line parser (``cli/parser.py``) cuts segments into words with it
  and decodes each word with :func:`decode_word`;
* the configuration-file reader (``cmdb/store.py``) uses :func:`config_lines`;
* ``cli/quoting.py`` asks :func:`needs_quotes` whether a value reads back as one
  bare word.

The rules (fortios-cli-facts.md section 1.8, gaps filled like a POSIX shell):

* an unquoted word stops at a blank and cannot hold :data:`SPECIAL`
  (``# ( ) < > ? ' " \\ |``) unless backslash-escaped; outside quotes a
  backslash escapes the next character and is dropped;
* ``"double quotes"`` accept ``\\"`` ``\\'`` ``\\\\`` (the character) and keep a
  backslash before anything else; ``'single quotes'`` have no escapes; both may
  span lines;
* backslash-newline is a line continuation and disappears;
* pieces written without blanks between them join into one word.

The configuration reader is lenient where a file written by ``show`` never
goes: a bare word there may also hold ``# ( ) < > ? |`` (only blanks, quotes and
backslashes end it), so a hand-edited file with such a value still loads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..errors import ConfigFileError

__all__ = ["BLANKS", "SPECIAL", "WORD_PATTERN", "WORD_RE", "decode_word", "unescape_dq",
           "needs_quotes", "is_plain_ascii", "config_lines"]

BLANKS = " \t\r\f\v"  # word separators within a line (the newline ends the line)
SPECIAL = "#()<>?'\"\\|"  # what an unquoted word cannot hold without a backslash

_BARE = r"""[^ \t\r\f\v\n#()<>?'"\\|]++"""  # a run of ordinary characters
_ESC = r"\\[^\n]"  # a backslash-escaped character
_DQ = r'"(?:[^"\\]++|\\[\s\S])*+"'
_SQ = r"'[^']*+'"
_CONT = r"\\\n"
_PIECE = f"{_BARE}|{_ESC}|{_DQ}|{_SQ}"

# One regex with a possessive outer repetition: a backslash-newline inside a word
# could otherwise also be read as a separator, and a failing match of a long line
# full of them backtracked exponentially.  The word takes every continuation that
# follows it; a separator then has to start with a blank.
WORD_PATTERN = f"(?:{_PIECE})(?:{_PIECE}|{_CONT})*+"
WORD_RE = re.compile(WORD_PATTERN)

# One piece of a raw word: "dq", 'sq', backslash-newline, backslash-char, plain run.
_PIECE_RE = re.compile(r'"((?:[^"\\]|\\[\s\S])*)"|\'([^\']*)\'|\\(\n)|\\([\s\S])|([^"\'\\]+)')
_DQ_ESC_RE = re.compile(r"\\([\s\S])")
_DQ_KEEP = {'"': '"', "'": "'", "\\": "\\", "\n": ""}
# str.split() also splits at \x1c-\x1f and Unicode spaces, which WORD keeps in words
_NOT_PLAIN_ASCII = re.compile(r"[^\x21-\x7e \t\n\r\f\v]")
_NEEDS_QUOTES = re.compile("[\\s" + re.escape(SPECIAL) + "]")


def _dq_unescape(m: re.Match[str]) -> str:
    c = m.group(1)
    return _DQ_KEEP.get(c, "\\" + c)


def unescape_dq(body: str) -> str:
    """The value of the text between double quotes."""
    return _DQ_ESC_RE.sub(_dq_unescape, body) if "\\" in body else body


def decode_word(raw: str) -> tuple[str, bool]:
    """(text, quoted) of a raw word as matched by :data:`WORD_RE`."""
    if '"' not in raw and "'" not in raw and "\\" not in raw:
        return raw, False
    out: list[str] = []
    quoted = False
    for m in _PIECE_RE.finditer(raw):
        kind = m.lastindex or 5  # every alternative is a group: never None
        if kind == 1:
            quoted = True
            out.append(unescape_dq(m.group(1)))
        elif kind == 2:
            quoted = True
            out.append(m.group(2))
        elif kind == 3:
            continue
        else:
            out.append(m.group(kind))
    return "".join(out), quoted


def is_plain_ascii(text: str) -> bool:
    """Blank-separated printable ASCII only: ``str.split()`` cuts it exactly like :data:`WORD_RE`
    (when it holds no quote or backslash)."""
    return _NOT_PLAIN_ASCII.search(text) is None


def needs_quotes(value: str) -> bool:
    """True when ``value`` would not read back as one bare word."""
    return not value or _NEEDS_QUOTES.search(value) is not None


# ------------------------------------------------------------------ configuration files
# The configuration reader's word: lenient bare runs (see the module text), quoted pieces.
_CONFIG_PIECE = r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|(?:[^\s"\'\\]|\\.)+'
# A word that is one piece (nearly every word of a file written by ``show``) is taken
# from its group directly; a word of several pieces or with escapes goes through decode_word.
_CONFIG_WORD = re.compile(
    r'"((?:[^"\\]|\\.)*)"(?!\S)|\'([^\']*)\'(?!\S)|([^\s"\'\\]+)(?!\S)|((?:' + _CONFIG_PIECE + r")+)", re.S)
_CLOSED = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'', re.S)


def config_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, words)`` of every non-empty, non-comment logical line of a configuration file.

    A backup can hold 100,000 lines: a line without quotes or backslashes is
    split on blanks; a quote left open continues on the next line, as does a
    trailing backslash.  The words are decoded by :func:`decode_word`.
    """
    lines = text.split("\n")
    n = len(lines)
    i = 0
    while i < n:
        raw = lines[i]
        lineno = i + 1
        i += 1
        if '"' not in raw and "'" not in raw and "\\" not in raw:
            words = raw.split()
            if words and words[0][0] != "#":
                yield lineno, words
            continue
        if raw.lstrip().startswith("#"):
            continue
        while True:
            rest = _CLOSED.sub("", raw)
            if '"' in rest or "'" in rest or rest.endswith("\\"):
                if i >= n:
                    raise ConfigFileError(f"line {lineno}: token line: Unmatched double quote.")
                if rest.endswith("\\") and '"' not in rest and "'" not in rest:
                    raw = raw[:-1] + lines[i]  # backslash-newline: continuation
                    i += 1
                    continue
                # a quote is open: lines without a quote character (a PEM body) cannot close it,
                # so they are taken up to the next line with one and the text is scanned once
                # again then, not once a line (that was quadratic in the lines of a certificate)
                j = i
                while j < n - 1 and '"' not in lines[j] and "'" not in lines[j]:
                    j += 1
                raw += "\n" + "\n".join(lines[i:j + 1])
                i = j + 1
                continue
            break
        words = []
        for dq, sq, bare, pieces in _CONFIG_WORD.findall(raw):
            if bare:
                words.append(bare)
            elif pieces:
                words.append(decode_word(pieces)[0])
            elif sq:
                words.append(sq)
            else:  # double-quoted (or an empty pair of either kind)
                words.append(unescape_dq(dq))
        if words:
            yield lineno, words
