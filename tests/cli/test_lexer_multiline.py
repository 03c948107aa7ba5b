"""Configuration values that span lines (certificates, multi-line comments): the reader takes
the lines of an open quote without scanning the growing value once a line; these cases hold
what it must still read (a refactoring guard: they passed before that change too)."""

from __future__ import annotations

import pytest

from fortishell.cli.lexer import config_lines
from fortishell.errors import ConfigFileError

PEM_BODY = ["MIIBszCCAVmgAwIBAgIUQ" + "A" * 40, "B" * 64, "C" * 20]


def test_a_pem_value_over_many_lines() -> None:
    text = "\n".join(['set certificate "-----BEGIN CERTIFICATE-----', *PEM_BODY,
                      '-----END CERTIFICATE-----"', "next"])
    assert list(config_lines(text)) == [
        (1, ["set", "certificate", "\n".join(["-----BEGIN CERTIFICATE-----", *PEM_BODY, "-----END CERTIFICATE-----"])]),
        (6, ["next"])]


def test_quote_characters_on_later_lines_of_an_open_value() -> None:
    text = "\n".join(['set comments "first', "it's the second", 'an escaped \\" third', 'last" tail', "end"])
    assert list(config_lines(text)) == [
        (1, ["set", "comments", "first\nit's the second\nan escaped \" third\nlast", "tail"]), (5, ["end"])]


def test_an_open_single_quote_over_plain_lines() -> None:
    text = "\n".join(["set comments 'one", "two", "three'", "next"])
    assert list(config_lines(text)) == [(1, ["set", "comments", "one\ntwo\nthree"]), (4, ["next"])]


def test_a_value_still_open_at_the_end_is_refused() -> None:
    with pytest.raises(ConfigFileError, match="line 2: token line: Unmatched double quote"):
        list(config_lines("\n".join(["next", 'set certificate "-----BEGIN', *PEM_BODY])))
