"""Command history with secrets masked.

Values of secret attributes (``set *password* ...``, ``set private-key ...``)
and the password positions of ``execute vpn certificate local generate est``
are stored as ``*``; a line that cannot be parsed but looks like it carries a
secret is not stored at all.
"""

from __future__ import annotations

import re
from functools import lru_cache

from prompt_toolkit.history import FileHistory

_SECRET_ATTR = re.compile(r"pass|secret|psk|key", re.IGNORECASE)
# 1-based positions after `generate est` that hold passwords (http, key, srp)
_SECRET_POSITIONS = (7, 10, 14)


_GENERATE_EST = ("execute", "vpn", "certificate", "local", "generate", "est")


@lru_cache(maxsize=1024)
def _is_secret_attr(word: str) -> bool:
    """A password / private-key attribute, also when abbreviated (``set est-http-p x``)."""
    if _SECRET_ATTR.search(word):
        return True
    from ..cmdb.schema import SCHEMA

    return bool(word) and any(a.name.startswith(word) for t in SCHEMA.tables
                              for a in t.attrs if a.secret or a.pem_kind == "private-key")


def _is_generate_est(low: list[str]) -> bool:
    """``execute vpn certificate local generate est`` with any abbreviation of its words."""
    return len(low) >= 6 and len(low[0]) >= 2 and all(
        w and full.startswith(w) for w, full in zip(low[:6], _GENERATE_EST))


def mask_secrets(text: str) -> str:
    """The history form of a command line: secret values replaced by ``*``."""
    from ..cli import parser
    from ..cli.quoting import quote

    try:
        line = parser.parse_line(text)
    except Exception:  # noqa: BLE001 - unparsable lines hold nothing we can mask reliably
        words = text.split()
        risky = _SECRET_ATTR.search(text) or (len(words) > 1 and _is_secret_attr(words[1]))
        return "" if risky or _is_generate_est([w.lower() for w in words]) else text
    words = [w.text for w in line.words]
    if len(words) >= 3 and "set".startswith(words[0]) and len(words[0]) >= 2 and _is_secret_attr(words[1]):
        return f"{words[0]} {words[1]} *"
    low = [w.lower() for w in words]
    if len(words) > 6 and _is_generate_est(low):
        start = 6
        masked = list(words)
        for pos in _SECRET_POSITIONS:
            i = start + pos - 1
            if i < len(masked) and masked[i]:
                masked[i] = "*"
        return " ".join(w if w and re.fullmatch(r"[^\s\"'\\#()<>?|]+", w) else quote(w) for w in masked)
    return text


class MaskingFileHistory(FileHistory):
    """A FileHistory that never writes secrets in clear."""

    def store_string(self, string: str) -> None:
        masked = mask_secrets(string)
        if masked:
            super().store_string(masked)
