"""Command-line parser: text -> :class:`~fortishell.cli.ast.Line`.

Owns the loading of ``grammar/cli.lark`` (LALR, basic lexer, loaded once and
cached) and the three entry points used by the shell:

* :func:`parse_line` -- one logical line typed at the prompt;
* :func:`parse_script` -- a whole script or configuration file in ONE lark parse
  (the transformer is given to the Lark constructor, so no tree is built);
* :func:`needs_more` / :func:`split_partial` -- unfinished input for the REPL.

Lexing choices (fortios-cli-facts.md section 1.8, with the gaps filled like a
POSIX shell, which is what the FortiOS tokenizer most resembles):

* inside double quotes ``\\"`` ``\\'`` ``\\\\`` give the character; a backslash
  before any other character is kept together with it (``"a\\|b"`` stays
  ``a\\|b``, so grep patterns and Windows paths survive); backslash-newline is
  a line continuation and disappears;
* outside quotes a backslash escapes the next character and is dropped
  (``a\\ b`` is one word ``a b``); a backslash at the very end of the text is
  ignored (``needs_more`` reports it first in the REPL);
* pieces written without blanks between them join into one word;
  ``Word.quoted`` is true when any piece was quoted;
* a word cannot start with, or contain unescaped, ``# ( ) < > ?``: such a
  character makes the line fail with ``command parse error before '<text>'``;
* ``Word.col`` is the offset of the word in ``Line.text`` (the logical line).

Lark exceptions never leave this module: they become ``errors.ParseError``.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer
from lark import __version__ as lark_version
from lark.exceptions import LarkError

from fortishell import errors
from fortishell.cli import ast
from fortishell.cli.grep import parse_filter
from fortishell.cli.lexer import WORD_RE, decode_word, is_plain_ascii, unescape_dq

__all__ = ["parse_line", "parse_script", "needs_more", "split_partial", "grammar_text"]

_GRAMMAR_FILE = "cli.lark"


def grammar_text() -> str:
    """The text of ``cli.lark`` (from the installed package or the source tree)."""
    try:
        return resources.files("fortishell.grammar").joinpath(_GRAMMAR_FILE).read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        path = Path(__file__).resolve().parents[2] / "grammar" / _GRAMMAR_FILE
        return path.read_text("utf-8")


# ------------------------------------------------------------------ the Lark object
class _LineBuilder(Transformer):  # type: ignore[type-arg]
    """Callbacks run by the LALR parser as it reduces; builds Line objects directly."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.source = ""
        self.word_re: re.Pattern[str] = re.compile(r"\S+")
        self.cache: dict[tuple[str, int], ast.Word] = {}
        self.segments: dict[str, tuple[tuple[ast.Word, ...], str]] = {}

    # script: lines
    def script(self, children: list[Any]) -> list[ast.Line]:
        return children[-1] if children else []

    def lines_empty(self, _children: list[Any]) -> list[ast.Line]:
        return []

    def lines(self, children: list[Any]) -> list[ast.Line]:
        acc: list[ast.Line] = children[0]
        line: ast.Line = children[1]
        if line.words or line.filters or isinstance(line, ast.BadLine):
            acc.append(line)
        return acc

    def lines_simple(self, children: list[Any]) -> list[ast.Line]:
        """``lines SEGNL``: a one-segment line, the hot path of configuration files."""
        acc: list[ast.Line] = children[0]
        tok: Token = children[1]
        # A SEGNL token starts at the beginning of its line (its leading blanks
        # are part of it), so equal tokens give equal words: memoise them.
        hit = self.segments.get(tok)
        if hit is None:
            start = _start(tok)
            words, end = self._words(tok, start)
            hit = self.segments[str(tok)] = (words, tok[: end - start])
        acc.append(ast.Line(hit[0], (), hit[1], _lineno(tok)))
        return acc

    def word(self, children: list[Any]) -> Any:  # the auxiliary entry point
        return children[0]

    def line(self, toks: list[Token]) -> ast.Line:
        src = self.source
        first = toks[0]
        lstart = src.rfind("\n", 0, _start(first)) + 1
        segments: list[list[ast.Word]] = [[]]
        end = lstart
        error: errors.CliError | None = None
        for tok in toks:
            kind = tok.type
            if kind == "SEG" or kind == "SEGNL":
                words, end = self._words(tok, lstart)
                segments[-1].extend(words)
            elif kind == "PIPE":
                segments.append([])
                end = _end(tok)
            elif kind == "EOL":
                pass
            elif kind == "OPENQ":
                error = error or errors.UnmatchedQuote()
                end = len(src.rstrip("\n"))
            else:  # BAD
                if error is None:
                    m = re.compile(r"[^ \t\r\f\v\n]*").match(src, _start(tok))
                    error = errors.ParseError(m.group(0) if m else str(tok))
                end = _end(tok)
        text = src[lstart:end]
        if error is None:
            try:
                return self._assemble(segments, text, _lineno(first))
            except errors.CliError as exc:
                error = exc
        words = tuple(w for seg in segments for w in seg)
        return ast.BadLine(words, (), text, _lineno(first), error=error)

    def _words(self, tok: Token, lstart: int) -> tuple[tuple[ast.Word, ...], int]:
        """The words of a segment token and the end offset of its last word."""
        start = _start(tok)
        base = start - lstart
        cache = self.cache
        words = []
        if '"' in tok or "'" in tok or "\\" in tok or not is_plain_ascii(tok):
            end = start
            for m in self.word_re.finditer(tok):
                raw = m.group()
                col = base + m.start()
                key = (raw, col)
                w = cache.get(key)
                if w is None:
                    text, quoted = decode_word(raw)
                    w = cache[key] = ast.Word(text, quoted, col)
                words.append(w)
                end = start + m.end()
            return tuple(words), end
        # fast path: blank-separated plain words (the WORD terminal reduces to \S+)
        pos = 0
        find = tok.find
        raw = ""
        for raw in tok.split():
            pos = find(raw, pos)
            key = (raw, base + pos)
            w = cache.get(key)
            if w is None:
                w = cache[key] = ast.Word(raw, False, base + pos)
            words.append(w)
            pos += len(raw)
        return tuple(words), start + pos

    @staticmethod
    def _assemble(segments: list[list[ast.Word]], text: str, lineno: int) -> ast.Line:
        command = segments[0]
        if len(segments) > 1 and not command:
            raise errors.ParseError("|")
        filters = []
        for seg in segments[1:]:
            if not seg:
                raise errors.ParseError("|")
            if seg[0].text != "grep":
                raise errors.ParseError(seg[0].text)
            filters.append(parse_filter(seg[1:]))
        return ast.Line(tuple(command), tuple(filters), text, lineno)


_LOCK = threading.Lock()


# lark types token positions as optional; the basic lexer always sets them
def _start(tok: Token) -> int:
    pos = tok.start_pos
    assert pos is not None
    return pos


def _end(tok: Token) -> int:
    pos = tok.end_pos
    assert pos is not None
    return pos


def _lineno(tok: Token) -> int:
    line = tok.line
    assert line is not None
    return line


def cache_file(text: str) -> Path | None:
    """Where the analysed grammar is kept between runs (lark's ``cache`` option: a start
    does not analyse the grammar again), in the user's own cache directory
    (``$XDG_CACHE_HOME/fortishell``, else ``~/.cache/fortishell``); None without a home.

    Never a shared directory: lark's cache is a pickle, loaded only from a file this
    user owns."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    version = f"{sys.version_info[0]}{sys.version_info[1]}"
    return Path(base) / "fortishell" / f"cli-grammar-{digest}-lark{lark_version}-py{version}.cache"


def _build_lark(text: str, builder: "_LineBuilder") -> Lark:
    """The LALR parser, through lark's cache when the user's cache directory can hold it.

    lark checks the grammar's hash inside the file, and passes over (rebuilds and rewrites)
    a file it cannot read, a half-written one included; a file another user owns is never
    read."""
    options: dict[str, Any] = dict(parser="lalr", lexer="basic", start=["start", "word"], transformer=builder)
    path = cache_file(text)
    if path is not None:
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if path.parent.stat().st_uid == os.getuid() and (not path.exists() or path.stat().st_uid == os.getuid()):
                return Lark(text, cache=str(path), **options)
        except OSError:
            pass  # no cache directory: analyse the grammar at each start
    return Lark(text, **options)


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _LineBuilder, re.Pattern[str]]:
    builder = _LineBuilder()
    lark = _build_lark(grammar_text(), builder)
    builder.word_re = WORD_RE  # the grammar's WORD terminal, as the lexer writes it
    return lark, builder, WORD_RE


@lru_cache(maxsize=1)
def _scanner() -> re.Pattern[str]:
    """Token scanner for unfinished lines (same terminals as the grammar)."""
    lark, _, _ = _parser()
    parts = []
    for name in ("WORD", "WS", "PIPE", "OPENQ"):
        parts.append(f"(?P<{name}>{lark.get_terminal(name).pattern.to_regexp()})")
    parts.append(r"(?P<BAD>[\s\S])")
    return re.compile("|".join(parts))


def _run(text: str) -> list[ast.Line]:
    """One lark parse of ``text`` (CRLF normalised); never raises lark errors."""
    text = text.replace("\r\n", "\n")
    src = text + "\n"
    if src.endswith("\\\n"):  # a trailing backslash continues into nothing
        src += "\n"
    lark, builder, _ = _parser()
    with _LOCK:
        builder.source = src
        builder.cache = {}
        builder.segments = {}
        try:
            result: list[ast.Line] = lark.parse(src, start="start")  # type: ignore[assignment]  # the transformer's value
        except LarkError as exc:  # the grammar accepts every text; kept as a guard
            pos = getattr(exc, "pos_in_stream", None) or 0
            before = src[pos:].split()[:1] or ["|"]
            error = errors.ParseError(before[0])
            return [ast.BadLine((), (), text, 1, error=error)]
        finally:
            builder.source = ""
            builder.cache = {}
            builder.segments = {}
    return result


# ------------------------------------------------------------------ public API
@lru_cache(maxsize=512)  # a line is parsed for history, paging and execution: once is enough
def parse_line(text: str) -> ast.Line:
    """Parse one logical command line.

    Raises ``UnmatchedQuote`` for an open quote, ``ParseError`` for anything
    else malformed.  A blank or comment line gives an empty Line.  Two logical
    lines in one text are refused (parse error before the second line's first
    word): the REPL hands over one line at a time.
    """
    lines = _run(text)
    if not lines:
        return ast.Line((), (), text, 1)
    line = lines[0]
    if isinstance(line, ast.BadLine) and line.error is not None:
        raise line.error
    if len(lines) > 1:
        nxt = lines[1]
        if isinstance(nxt, ast.BadLine) and nxt.error is not None:
            raise nxt.error
        raise errors.ParseError(nxt.words[0].text if nxt.words else "|")
    return ast.Line(line.words, line.filters, text, line.lineno)


def parse_script(text: str) -> list[ast.Line]:
    """Parse a script or configuration file in one pass.

    Blank lines and ``#`` comment lines are skipped.  A malformed line does not
    stop the rest: it comes back as an :class:`ast.BadLine` carrying its error
    (an unterminated quote swallows the rest of the text, as on FortiOS).
    """
    return _run(text)


def needs_more(text: str) -> bool:
    """True when ``text`` ends inside an open quote or with a continuation backslash."""
    if "\\" not in text and '"' not in text and "'" not in text:
        return False  # nothing to leave open: no scanner needed (its regex costs the first Enter ~5 ms)
    text = text.replace("\r\n", "\n")
    last = None
    for m in _scanner().finditer(text):
        last = m
    if last is None:
        return False
    kind = last.lastgroup
    if kind == "OPENQ":
        return True
    if kind == "BAD" and last.group() == "\\":
        return True
    # a continuation swallowed by a word or by blanks at the very end
    return kind in ("WORD", "WS") and last.group().endswith("\\\n") and last.end() == len(text)


def split_partial(text: str) -> ast.Partial:
    """Split an unfinished line for ``?`` help and Tab completion (every text lexes)."""
    return _split_partial(text.replace("\r\n", "\n"))


def _split_partial(text: str) -> ast.Partial:
    segments: list[list[ast.Word]] = [[]]
    current = ""
    in_quote = False
    matches = list(_scanner().finditer(text))
    for i, m in enumerate(matches):
        kind = m.lastgroup
        is_last = i == len(matches) - 1
        if kind == "PIPE":
            segments.append([])
        elif kind == "WORD":
            value, _quoted = decode_word(m.group())
            if is_last:
                current = value
            else:
                segments[-1].append(ast.Word(value, _quoted, m.start()))
        elif kind == "OPENQ":
            raw = m.group()
            # the open quote may follow word pieces glued to it (ab"cd)
            prefix = ""
            if i > 0 and matches[i - 1].lastgroup == "WORD" and matches[i - 1].end() == m.start():
                prefix = segments[-1].pop().text
            body = raw[1:]
            if raw[0] == '"':
                body = unescape_dq(body)
            current = prefix + body
            in_quote = True
        elif kind == "BAD" and is_last:
            current = m.group() if m.group() != "\\" else ""
    words = tuple(segments[-1])
    return ast.Partial(
        words=words,
        current=current,
        in_quote=in_quote,
        in_grep=len(segments) > 1,
        command=tuple(segments[0]),
    )
