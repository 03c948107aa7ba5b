"""API keys of ``config system api-user``: made once, stored as a salted hash.

``execute api-user generate-key <name>`` (and the monitor endpoint) shows a new
key once; the CMDB keeps ``SH2`` + base64(salt || SHA-256(salt || key)) in the
user's ``api-key`` (``show`` writes it ``ENC ...`` like every secret).  A key is
30 random letters and digits (about 178 bits), so one fast hash is enough: no key
stretching, and a check costs microseconds on every request.  No I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string

PREFIX = "SH2"
KEY_LENGTH = 30
_ALPHABET = string.ascii_letters + string.digits
_SALT = 16


def new_key() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(KEY_LENGTH))


def hash_key(key: str, *, salt: bytes | None = None) -> str:
    salt = secrets.token_bytes(_SALT) if salt is None else salt
    digest = hashlib.sha256(salt + key.encode("utf-8")).digest()
    return PREFIX + base64.b64encode(salt + digest).decode("ascii")


def verify_key(key: str, stored: str) -> bool:
    """Whether ``key`` is the key whose hash is ``stored`` (constant-time compare)."""
    if not stored.startswith(PREFIX):
        return False
    try:
        blob = base64.b64decode(stored[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(blob) != _SALT + 32:
        return False
    return hmac.compare_digest(hash_key(key, salt=blob[:_SALT]), stored)
