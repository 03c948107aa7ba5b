"""Quoting of values for ``show`` output and generated scripts.

:func:`quote` gives the double-quoted form (``"estuser"``) with ``\\`` and ``"``
escaped, so that ``parse_line`` reads it back to the same value; newlines stay
as they are (PEM blocks print over several lines inside one string, as FortiOS
does).
"""

from __future__ import annotations

from .lexer import needs_quotes

__all__ = ["quote", "needs_quotes", "quote_if_needed"]


def quote(value: str) -> str:
    """``value`` in double quotes, ``\\`` and ``"`` backslash-escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_if_needed(value: str) -> str:
    """``value`` bare when it reads back unchanged as one word, else :func:`quote`."""
    return quote(value) if needs_quotes(value) else value
