"""``execute api-user generate-key <name>``: a new REST API key for an API user, shown once.

The key replaces the user's previous one; only its hash is committed (through a
CMDB transaction, so the journal, the commit listeners and the REST door see it
like any ``config`` change).  Output as on FortiOS 7.x::

    New API key: <30 characters>
    NOTE: The bearer of this API key will be granted all access privileges assigned to the api-user <name>.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...cli import ast
from ...cmdb.schema_admin import API_USER
from ...errors import CliError, IncompleteCommand
from ...rest.apikey import hash_key, new_key
from ..result import Result
from .tree import extra_words

if TYPE_CHECKING:
    from ..session import Session


def generate_key(cmdb: object, name: str) -> str:
    """Give API user ``name`` a new key (committed as a hash); return the key in clear.

    Raises :class:`CliError` -3 when there is no such API user (nothing changes).
    """
    from ...cmdb.model import Cmdb

    assert isinstance(cmdb, Cmdb)
    if cmdb.entry(API_USER, name) is None:
        raise CliError(f"API user '{name}' does not exist.", rc=-3)
    key = new_key()
    with cmdb.transaction() as tx:
        tx.put(API_USER, name, {"api-key": hash_key(key)})
    return key


def key_lines(name: str, key: str) -> list[str]:
    return [f"New API key: {key}",
            f"NOTE: The bearer of this API key will be granted all access privileges assigned to the "
            f"api-user {name}."]


def do_generate_key(sess: "Session", rest: list[ast.Word]) -> Result:
    if not rest:
        raise IncompleteCommand()
    extra_words(rest, 1)
    name = rest[0].text
    return Result(key_lines(name, generate_key(sess.cmdb, name)))
