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
