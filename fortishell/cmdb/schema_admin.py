"""Declarations of ``config system api-user`` and ``config system accprofile`` (data only).

Attributes follow the FortiOS 7.6 CLI reference pages, cut to what the REST API
side uses: an API user names an access profile; its key is written only by
``execute api-user generate-key`` (stored as a salted SHA-256 hash, shown ``ENC``
in ``show``, never readable back).  As on the device an API user cannot take ``super_admin``: its
profile is an entry of ``system accprofile`` (no factory profile here: our choice, the
factory configuration stays as it was).  Read by ``schema.py``.
"""

from __future__ import annotations

from .schema import AttrSpec, Path, TableSpec, _i, _o, _s
from .spec import VDOM_LIST

API_USER: Path = ("system", "api-user")
ACCPROFILE: Path = ("system", "accprofile")

_ACCESS = [("none", "No access."), ("read", "Read access."), ("read-write", "Read/write access.")]


def _grp(name: str, help: str) -> AttrSpec:
    return _o(name, _ACCESS, "none", help)


# the permission groups a REST path maps to (rest/auth.py): system.* -> sysgrp, vpn.* -> vpngrp
ACCPROFILE_TABLE = TableSpec(
    ACCPROFILE, "table", "Configure access profiles for system administrators.",
    (
        _s("name", 35, help="Profile name."),
        _o("scope", [("vdom", "VDOM access."), ("global", "Global access.")], "vdom",
           "Scope of admin access: global or specific VDOM(s)."),
        _s("comments", 255, help="Comment."),
        _grp("secfabgrp", "Security Fabric."),
        _grp("sysgrp", "System Configuration."),
        _grp("netgrp", "Network Configuration."),
        _grp("loggrp", "Administrator access to Logging and Reporting including viewing log messages."),
        _grp("fwgrp", "Administrator access to the Firewall configuration."),
        _grp("vpngrp", "Administrator access to IPsec, SSL, PPTP, and L2TP VPN."),
    ),
    key="name", key_size=35, summary=("name", "scope"),
)

TRUSTHOST = "trusthost"
_TRUSTHOST_TYPES = [("ipv4-trusthost", "IPv4 trusted host."), ("ipv6-trusthost", "IPv6 trusted host.")]

# the addresses an API user's key is taken from (rest/auth.py); no entry: any address
_TRUSTHOST = TableSpec(
    (TRUSTHOST,), "table", "Trusthost.",
    (
        _i("id", 0, 4294967295, 0, "Table ID."),  # an integer key: `edit 1`, a JSON number over REST
        _o("type", _TRUSTHOST_TYPES, "ipv4-trusthost", "Trusthost type."),
        AttrSpec("ipv4-trusthost", "ipv4-classnet", "0.0.0.0 0.0.0.0", "IPv4 trusted hosts.",
                 when=(("type", ("ipv4-trusthost",)),)),
        AttrSpec("ipv6-trusthost", "ipv6-prefix", "::/0", "IPv6 trusted hosts.",
                 when=(("type", ("ipv6-trusthost",)),)),
    ),
    key="id", key_size=10, summary=("id", "type"),
)

API_USER_TABLE = TableSpec(
    API_USER, "table", "Configure API users.",
    (
        _s("name", 35, help="User name."),
        _s("comments", 255, help="Comment."),
        # written by `execute api-user generate-key` only: "SH2" + base64(salt || sha256(salt || key))
        AttrSpec("api-key", "password", "", "Admin user password.", readonly=True, secret=True, size=128,
                 get_format="star"),
        AttrSpec("accprofile", "datasource", "", "Admin user access profile.", size=35, required=True,
                 datasource=(ACCPROFILE,)),
        # the vdoms the key may touch (rest/auth.py).  A member table without a default on the
        # device; a new API user gets `root` (the device's only vdom) filled in, so `show` lists
        # `set vdom "root"` as device configurations do.  An emptied list is refused at `end`.
        AttrSpec("vdom", VDOM_LIST, [], "Virtual domains.", required=True, initial=["root"]),
        _s("schedule", 35, help="Schedule name."),
        _s("cors-allow-origin", 269, help="Value for Access-Control-Allow-Origin on API responses. Avoid "
           "using '*' if possible."),
        _o("peer-auth", [("enable", "Enable peer."), ("disable", "Disable peer.")], "disable",
           "Enable/disable peer authentication."),
    ),
    key="name", key_size=35, summary=("name", "accprofile"), subtables=(_TRUSTHOST,),
)

TABLES = (ACCPROFILE_TABLE, API_USER_TABLE)
