"""Pure parts of the REST door: API key hashing, filter clauses."""

from __future__ import annotations

import pytest

from fortishell.rest.apikey import hash_key, new_key, verify_key
from fortishell.rest.envelope import RestError
from fortishell.rest.query import keep, parse_filters


def test_key_hash_round_trip() -> None:
    key = new_key()
    stored = hash_key(key)
    assert stored.startswith("SH2") and key not in stored
    assert verify_key(key, stored)
    assert not verify_key(key[:-1] + ("a" if key[-1] != "a" else "b"), stored)
    assert hash_key(key) != stored  # salted
    for junk in ("", "SH2", "SH2!!!", "ENC abc", "SH2" + "A" * 10):
        assert not verify_key(key, junk)


def test_filter_clauses() -> None:
    row = {"name": "web-1", "days": 10, "comments": "a,b"}
    assert keep(row, parse_filters(["name==web-1"]))
    assert keep(row, parse_filters(["days<=10", "days>9"]))
    assert not keep(row, parse_filters(["days<10"]))
    assert keep(row, parse_filters(["name==x,days==10"]))
    assert not keep(row, parse_filters(["name==x,days==11"]))
    assert keep(row, parse_filters(["name>=web-0"]))  # text order when not numbers
    with pytest.raises(RestError) as err:
        parse_filters(["nothing"])
    assert err.value.status == 400


def test_filter_matching_operators_ignore_case() -> None:
    """``==`` ``!=`` ``=@`` ``!@`` are case-insensitive (FortiOS 7.6.5 API descriptions); the order
    operators compare as before."""
    from fortishell.rest.query import keep, parse_filters

    row = {"name": "Web-Server", "comments": "Rotated by ACME"}
    assert keep(row, parse_filters(["name==web-server"]))
    assert not keep(row, parse_filters(["name!=WEB-SERVER"]))
    assert keep(row, parse_filters(["comments=@acme"]))
    assert not keep(row, parse_filters(["comments!@rotated"]))
    assert not keep(row, parse_filters(["name==web"]))  # still the whole value
    assert not keep(row, parse_filters(["name>vault"]))  # the order operators compare the text as it is ("W" < "v")
