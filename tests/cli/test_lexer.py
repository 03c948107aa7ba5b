"""One set of word rules: the grammar's WORD, the parser, the configuration reader and quoting."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fortishell.cli import lexer, parser
from fortishell.cli.quoting import quote, quote_if_needed
from fortishell.cmdb import store


def _grammar_word() -> str:
    lines = [ln for ln in parser.grammar_text().splitlines() if ln.startswith("WORD.")]
    assert len(lines) == 1, "cli.lark declares WORD once"
    head, _, body = lines[0].partition(": /")
    assert body.endswith("/")
    return body[:-1]


def test_the_grammar_word_is_the_lexer_word() -> None:
    assert _grammar_word() == lexer.WORD_PATTERN, "grammar/cli.lark WORD and cli/lexer.py WORD_PATTERN differ"


def test_the_parser_cuts_words_with_the_lexer_pattern() -> None:
    _lark, builder, word_re = parser._parser()
    assert word_re is lexer.WORD_RE and builder.word_re is lexer.WORD_RE


@pytest.mark.parametrize("raw, text, quoted", [
    ("abc", "abc", False),
    ('"a b"', "a b", True),
    ("'a\\b'", "a\\b", True),
    ('ab"c d"\'e\'', "abc de", True),
    ('"a\\"b\\\\c\\|d"', 'a"b\\c\\|d', True),
    ("a\\ b", "a b", False),
    ('"x\\\ny"', "xy", True),
])
def test_decode_word(raw: str, text: str, quoted: bool) -> None:
    assert lexer.WORD_RE.fullmatch(raw)
    assert lexer.decode_word(raw) == (text, quoted)


def test_special_characters_need_quotes() -> None:
    for c in lexer.SPECIAL + lexer.BLANKS + "\n":
        assert lexer.needs_quotes(f"a{c}b")
        assert not lexer.WORD_RE.fullmatch(f"a{c}b") or c == "\\"  # a\b is a (escaped) word
    assert lexer.needs_quotes("") and not lexer.needs_quotes("plain-word_1.2:3/4@x")


_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=30)


@given(_values)
def test_quoted_values_read_back_through_every_reader(value: str) -> None:
    written = quote_if_needed(value)
    assert parser.parse_line(f"set comments {written}").words[2].text == value
    words = [w for _n, ws in store.tokenize(f"set comments {quote(value)}\n") for w in ws]
    assert words == ["set", "comments", value]


def test_the_configuration_reader_agrees_on_glued_pieces_and_escapes() -> None:
    text = 'set a ab"c d"\'e\' x\\ y "p\\"q"\n'
    ours = [ws for _n, ws in store.tokenize(text)]
    theirs = [[w.text for w in ln.words] for ln in parser.parse_script(text)]
    assert ours == theirs == [["set", "a", "abc de", "x y", 'p"q']]
