"""Quoting of values for ``show`` output and generated scripts.

:func:`quote` gives the double-quoted form (``"estuser"``) with ``\\`` and ``"``
escaped, so that ``parse_line`` reads it back to the same value; newlines stay
as they are (PEM blocks print over several lines inside one string, as FortiOS
does).
"""

from __future__ import annotations

import re

__all__ = ["quote", "needs_quotes", "quote_if_needed"]

# What an unquoted word cannot hold (cli.lark: blanks and  # ( ) < > ? ' " \ |).
_SPECIAL = re.compile(r"""[\s#()<>?'"\\|]""")


def quote(value: str) -> str:
    """``value`` in double quotes, ``\\`` and ``"`` backslash-escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def needs_quotes(value: str) -> bool:
    """True when ``value`` would not read back as one bare word."""
    return not value or _SPECIAL.search(value) is not None


def quote_if_needed(value: str) -> str:
    """``value`` bare when it reads back unchanged as one word, else :func:`quote`."""
    return quote(value) if needs_quotes(value) else value
