"""``ENC <base64>`` encryption of secret attributes in ``show`` and in saved files.

FortiOS writes passwords as ``ENC <base64>`` with a fresh ciphertext on every
save, under a key built into the firmware: configurations stay portable
between boxes, so this is obfuscation at rest, not protection against someone
who holds the firmware.  The emulator does the same: AES-256-GCM under a fixed
built-in device key, ``ENC `` + base64(nonce || ciphertext+tag).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import ConfigFileError

PREFIX = "ENC "
_NONCE = 12
# Fixed, public device key (shipped emulator material; not a secret).
_KEY = hashlib.sha256(b"fortishell built-in configuration obfuscation key v1").digest()
_AAD = b"fortishell-enc-v1"


def encrypt(plain: str) -> str:
    """``ENC <base64>`` of ``plain``; a fresh random nonce on every call."""
    nonce = os.urandom(_NONCE)
    blob = nonce + AESGCM(_KEY).encrypt(nonce, plain.encode("utf-8"), _AAD)
    return PREFIX + base64.b64encode(blob).decode("ascii")


def decrypt(enc: str) -> str:
    """The clear text of an ``ENC <base64>`` value (the ``ENC`` prefix is optional).

    Raises :class:`ConfigFileError` when the value is not one of ours.
    """
    text = enc.strip()
    head, _, rest = text.partition(" ")
    if head == "ENC":  # the prefix is a word: base64 may itself begin with "ENC"
        text = rest.strip()
    try:
        blob = base64.b64decode(text, validate=True)
        if len(blob) < _NONCE + 16:
            raise ValueError("too short")
        plain = AESGCM(_KEY).decrypt(blob[:_NONCE], blob[_NONCE:], _AAD)
        return plain.decode("utf-8")
    except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"invalid encrypted value: {enc[:40]}") from exc


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)


# ------------------------------------------------------------------ private keys
ENCRYPTED_KEY_MARKER = "-----BEGIN ENCRYPTED PRIVATE KEY-----"


def is_clear_private_key(pem: str) -> bool:
    """A PEM private key that is not password-encrypted (PKCS#8, RSA or EC form)."""
    text = pem.lstrip()
    return text.startswith("-----BEGIN ") and "PRIVATE KEY-----" in text.split("\n", 1)[0] \
        and not text.startswith(ENCRYPTED_KEY_MARKER) and "Proc-Type: 4,ENCRYPTED" not in text


def load_clear_private_key(pem: str) -> object | None:
    """The key object of a clear PEM private key, or None when it does not load."""
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(pem.encode("ascii"), None)
    except (ValueError, TypeError, UnicodeEncodeError):
        return None


def seal_private_key(pem: str, password: str | None) -> tuple[str, str]:
    """``(ENCRYPTED PRIVATE KEY PEM, password)`` for a clear private key.

    Keys are never kept in clear at rest: an imported clear key is re-encrypted
    (PKCS#8, best available encryption) under the entry's ``password``, or under
    a new random one when none is set, as FortiOS stores every local key.
    """
    key = load_clear_private_key(pem)
    if key is None:
        raise ConfigFileError("invalid private-key")
    return seal_key(key, password)


def seal_key(key: object, password: str | None) -> tuple[str, str]:
    """:func:`seal_private_key` for a key object the caller already holds (a key just generated:
    no PEM round trip, whose RSA consistency check costs tens of milliseconds)."""
    import secrets as _random

    from cryptography.hazmat.primitives import serialization

    password = password or _random.token_hex(31)
    sealed = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    ).decode("ascii").strip("\n")
    return sealed, password
