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
    if text.startswith("ENC"):
        text = text[3:].strip()
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
