"""Declaration of ``config system acme`` (data only).

Attributes after the 7.4/7.6 CLI reference and KB 211315: ``interface``,
``source-ip``, ``source-ip6``, ``use-ha-direct`` and ``config accounts``,
whose entries the device fills in when it registers an ACME account (ids like
``ACME-.letsencrypt.org-0000``; ``status``, ``url``, ``ca_url``, ``email``,
``privatekey`` -- the account key, a secret, ENC at rest).  The account
attributes are read-only for users (the device writes them), our choice.
Read by ``schema.py`` when it assembles ``SCHEMA``.
"""

from __future__ import annotations

from typing import Any

# from spec.py, not schema.py: this module may be imported first (schema.py imports it back)
from .spec import IPV4, OPTION, PASSWORD, STRING, AttrSpec, Option, Path, TableSpec


def _s(name: str, size: int, default: str = "", help: str = "", **kw: Any) -> AttrSpec:
    return AttrSpec(name, STRING, default, help, size=size, **kw)


def _o(name: str, options: list[tuple[str, str]], default: str, help: str = "") -> AttrSpec:
    return AttrSpec(name, OPTION, default, help, options=tuple(Option(v, h) for v, h in options))


ACME: Path = ("system", "acme")
ACCOUNTS = "accounts"

_ACCOUNTS = TableSpec(
    (ACCOUNTS,), "table", "ACME accounts list.",
    (
        _s("id", 255, help="Account id."),
        _s("status", 127, help="Account status.", readonly=True),
        _s("url", 511, help="Account url.", readonly=True),
        _s("ca_url", 255, help="Account ca_url.", readonly=True),
        _s("email", 255, help="Account email.", readonly=True),
        AttrSpec("privatekey", PASSWORD, "", "Account Private Key.", secret=True, size=8192, readonly=True),
    ),
    key="id", key_size=255, summary=("id",),
)

ACME_TABLE = TableSpec(
    ACME, "object", "Configure ACME client.",
    (
        _s("interface", 79, help="Interface(s) on which the ACME client will listen for challenges."),
        AttrSpec("source-ip", IPV4, "0.0.0.0", "Source IPv4 address used to connect to the ACME server."),
        _s("source-ip6", 45, "::", "Source IPv6 address used to connect to the ACME server."),
        _o("use-ha-direct", [("enable", "Enable setting."), ("disable", "Disable setting.")], "disable",
           "Enable the use of 'ha-mgmt' interface to connect to the ACME server when 'use-ha-direct' is "
           "enabled in HA configuration"),
    ),
    subtables=(_ACCOUNTS,),
)

TABLES = (ACME_TABLE,)
