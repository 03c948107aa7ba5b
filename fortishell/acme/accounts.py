"""ACME accounts in ``config system acme`` / ``config accounts`` (the device fills them in).

Account ids follow KB 211315's ``ACME-.letsencrypt.org-0000``: ``ACME-`` the
CA's registered domain with a leading dot (the directory host without its
first label; an IP address or a one/two-label host as it is), ``-`` and a
four-digit index.  One account per directory URL is reused for every order
(our choice; FortiOS does not document when it registers another).
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from fortishell.cmdb.schema_acme import ACCOUNTS, ACME

from .events import StoreAccount
from .flows import Account


def _accounts(cmdb: Any) -> dict[str, Any]:
    entry = cmdb.entry(ACME)
    if entry is None:
        return {}
    table = entry.sub(ACCOUNTS)
    return dict(table) if isinstance(table, dict) else {}


def all_accounts(cmdb: Any) -> list[tuple[str, Any]]:
    return sorted(_accounts(cmdb).items())


def find(cmdb: Any, ca_url: str) -> Account | None:
    for account_id, entry in sorted(_accounts(cmdb).items()):
        if entry.get("ca_url") == ca_url and entry.get("status") == "valid" and entry.get("privatekey"):
            return Account(account_id, str(entry.get("url")), str(entry.get("privatekey")), str(entry.get("email")))
    return None


def id_prefix(ca_url: str) -> str:
    host = urlsplit(ca_url).hostname or "unknown"
    try:
        ipaddress.ip_address(host)
        return f"ACME-{host}"
    except ValueError:
        labels = host.split(".")
        return f"ACME-.{'.'.join(labels[1:])}" if len(labels) > 2 else f"ACME-{host}"


def new_id(cmdb: Any, ca_url: str) -> str:
    prefix, taken = id_prefix(ca_url), set(_accounts(cmdb))
    n = 0
    while f"{prefix}-{n:04d}" in taken:
        n += 1
    return f"{prefix}-{n:04d}"


def store(cmdb: Any, event: StoreAccount) -> None:
    """Write one account entry (a committed change of ``system acme``: saved, ENC at rest)."""
    buf = cmdb.begin_edit(ACME, None, trusted=True)
    sub = buf.begin_edit(ACCOUNTS, event.account_id)
    for attr, value in (("status", event.status), ("url", event.url), ("ca_url", event.ca_url),
                        ("email", event.email), ("privatekey", event.private_key)):
        sub.set_value(attr, value)
    cmdb.commit(sub)
    cmdb.commit(buf)

