from __future__ import annotations

import pytest

from fortishell.cmdb import secrets
from fortishell.errors import ConfigFileError


def test_encrypt_is_fresh_and_reversible():
    a, b = secrets.encrypt("estpwd"), secrets.encrypt("estpwd")
    assert a.startswith("ENC ") and a != b
    assert secrets.decrypt(a) == secrets.decrypt(b) == "estpwd"
    assert secrets.decrypt(secrets.encrypt("")) == ""


@pytest.mark.parametrize("bad", ["ENC !!!", "ENC aGVsbG8=", "ENC " + "A" * 60])
def test_garbage_is_a_config_file_error(bad):
    with pytest.raises(ConfigFileError):
        secrets.decrypt(bad)


def test_base64_that_begins_with_enc_is_not_taken_for_the_prefix(monkeypatch) -> None:
    """About one value in 262,144 encrypts to base64 beginning with ``ENC`` (a nonce starting
    10 d0 80): the file holds ``ENC ENC...``, and both spellings decrypt."""
    from fortishell.cmdb import secrets as secrets_module

    monkeypatch.setattr(secrets_module.os, "urandom", lambda n: (b"\x10\xd0\x80" + bytes(range(1, 64)))[:n])
    enc = secrets_module.encrypt("estpwd")
    assert enc.startswith("ENC ENC")
    assert secrets_module.decrypt(enc) == "estpwd"  # with the prefix
    assert secrets_module.decrypt(enc.split(" ", 1)[1]) == "estpwd"  # the base64 alone (the file reader)
