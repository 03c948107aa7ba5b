"""abbrev.resolve / completions and quoting.quote round trips."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fortishell import errors
from fortishell.cli.abbrev import completions, resolve
from fortishell.cli.parser import parse_line
from fortishell.cli.quoting import needs_quotes, quote, quote_if_needed

TABLES = ["certificate", "ca", "crl", "local", "remote", "setting"]


def test_resolve():
    assert resolve("cert", TABLES) == "certificate"
    assert resolve("ca", TABLES) == "ca"  # exact match wins over the prefix of certificate
    assert resolve("l", TABLES) == "local"
    for bad in ("c", "x", "", "CA"):
        with pytest.raises(errors.ParseError) as exc:
            resolve(bad, TABLES)
        assert exc.value.before == bad


def test_completions_keep_order():
    assert completions("c", TABLES) == ["certificate", "ca", "crl"]
    assert completions("", ["b", "a", "b"]) == ["b", "a"]
    assert completions("z", TABLES) == []


@pytest.mark.parametrize("value", ["estuser", "", 'a"b', "a\\b", "a\\", "x\\\ny", "-----BEGIN\nMII\n-----END", "a|b #c", "'"])
def test_round_trip(value):
    assert parse_line("set x " + quote(value)).words[2].text == value


def test_quote_forms():
    assert quote("estuser") == '"estuser"'
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert quote_if_needed("enable") == "enable" and quote_if_needed("a b") == '"a b"'
    assert needs_quotes("") and needs_quotes("a(b") and not needs_quotes("10.0.0.1")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_round_trip_property(value):
    assert parse_line("set x " + quote(value)).words[2].text == value.replace("\r\n", "\n")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_bare_words_read_back(value):
    if not needs_quotes(value) and not value.startswith("#"):
        assert [w.text for w in parse_line("set x " + quote_if_needed(value)).words] == ["set", "x", value]
