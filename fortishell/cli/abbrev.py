"""Keyword abbreviation: the unique-prefix rule of the FortiOS CLI.

"You can abbreviate words in the command line to their smallest number of
non-ambiguous characters" (fortios-cli-facts.md section 1.4).  Used for verbs
(``build``) and by the session for table paths, attribute names, option
values and execute/diagnose keywords.  Matching is case-sensitive.
"""

from __future__ import annotations

from collections.abc import Iterable

from fortishell import errors

__all__ = ["resolve", "completions", "matches"]


def matches(prefix: str, candidates: Iterable[str]) -> list[str]:
    """Candidates equal to ``prefix`` (exact match alone wins) or starting with it."""
    cands = list(dict.fromkeys(candidates))
    if prefix in cands:
        return [prefix]
    return [c for c in cands if c.startswith(prefix)]


def resolve(word: str, candidates: Iterable[str], *, what: str | None = None) -> str:
    """The candidate ``word`` stands for: an exact match, else the only candidate it
    is a prefix of.  Unknown or empty -> ``ParseError(word)`` (``command parse error
    before 'word'``); ambiguous -> ``AmbiguousCommand(word, choices)``, a ParseError
    naming the candidates it abbreviates (the real CLI's ambiguity text is not
    documented).  ``what`` names the kind of keyword for callers' messages; it does
    not change the error."""
    found = matches(word, candidates) if word else []
    if len(found) > 1:
        raise errors.AmbiguousCommand(word, found)
    if len(found) != 1:
        raise errors.ParseError(word)
    return found[0]


def completions(prefix: str, candidates: Iterable[str]) -> list[str]:
    """Every candidate starting with ``prefix``, in candidate order (Tab and ``?``)."""
    return [c for c in dict.fromkeys(candidates) if c.startswith(prefix)]
