"""Declarations of ``config vpn certificate crl``, ``remote`` and ``ocsp-server`` (data only).

Attributes, sizes and defaults follow the FortiOS 7.6 CLI reference pages of
these tables.  ``crl`` holds the CRL as PEM (``execute vpn certificate crl
import auto`` fills it from ``http-url``); ``get`` prints its details
(certdetails.py).  Read by ``schema.py`` when it assembles ``SCHEMA``.
"""

from __future__ import annotations

from .schema import GET_CERT, AttrSpec, Path, TableSpec, _i, _o, _pw, _s

# the type names of schema.py (spelled out: this module is read while schema.py is loading)
PEM, DATASOURCE, IPV4 = "pem", "datasource", "ipv4"

CRL: Path = ("vpn", "certificate", "crl")
REMOTE: Path = ("vpn", "certificate", "remote")
OCSP_SERVER: Path = ("vpn", "certificate", "ocsp-server")
_LOCAL: Path = ("vpn", "certificate", "local")
_CA: Path = ("vpn", "certificate", "ca")

_RANGE = [("global", "Global range."), ("vdom", "VDOM IP address range.")]
_SOURCE = [("factory", "Factory installed certificate."), ("user", "User generated certificate."),
           ("bundle", "Bundle file certificate.")]

CRL_TABLE = TableSpec(
    CRL, "table", "Certificate Revocation List as a PEM file.",
    (
        _s("name", 35, help="Name."),
        AttrSpec("crl", PEM, "", "Certificate Revocation List as a PEM file.", user=True, get_format=GET_CERT,
                 pem_kind="crl"),
        _o("range", _RANGE, "global", "Either global or VDOM IP address range for the certificate."),
        _o("source", _SOURCE, "user", "Certificate source type."),
        _s("update-vdom", 31, "root", "VDOM for CRL update."),
        _s("ldap-server", 35, help="LDAP server name for CRL auto-update."),
        _s("ldap-username", 63, help="LDAP server user name."),
        _pw("ldap-password", "LDAP server user password."),
        _s("http-url", 255, help="HTTP server URL for CRL auto-update."),
        _s("scep-url", 255, help="SCEP server URL for CRL auto-update."),
        AttrSpec("scep-cert", DATASOURCE, "Fortinet_CA_SSL", "Local certificate for SCEP communication for CRL "
                 "auto-update.", size=35, datasource=(_LOCAL,)),
        _i("update-interval", 0, 4294967295, 0, "Time in seconds before the FortiGate checks for an updated CRL. "
           "Set to 0 to update only when it expires."),
        AttrSpec("source-ip", IPV4, "0.0.0.0", "Source IP address for communications to a HTTP or SCEP CA server."),
        AttrSpec("last-updated", "epoch", 0, "Time at which CRL was last updated.", readonly=True, hidden=True),
    ),
    key="name", key_size=35, summary=("name", "range", "source"),
)

REMOTE_TABLE = TableSpec(
    REMOTE, "table", "Remote certificate as a PEM file.",
    (
        _s("name", 35, help="Name."),
        AttrSpec("remote", PEM, "", "Remote certificate.", user=True, get_format=GET_CERT, pem_kind="certificate"),
        _o("range", _RANGE, "global", "Either the global or VDOM IP address range for the remote certificate."),
        _o("source", _SOURCE, "user", "Remote certificate source type."),
    ),
    key="name", key_size=35, summary=("name", "range", "source"),
)

OCSP_SERVER_TABLE = TableSpec(
    OCSP_SERVER, "table", "OCSP server configuration.",
    (
        _s("name", 35, help="OCSP server entry name."),
        _s("url", 127, help="OCSP server URL."),
        AttrSpec("cert", DATASOURCE, "", "OCSP server certificate.", size=127, datasource=(REMOTE, _CA)),
        _s("secondary-url", 127, help="Secondary OCSP server URL."),
        AttrSpec("secondary-cert", DATASOURCE, "", "Secondary OCSP server certificate.", size=127,
                 datasource=(REMOTE, _CA)),
        _o("unavail-action", [("revoke", "Revoke certificate if server is unavailable."),
                              ("ignore", "Ignore OCSP check if server is unavailable.")], "revoke",
           "Action when server is unavailable (revoke the certificate or ignore the result of the check)."),
        _s("source-ip", 63, help="Source IP address for dynamic AIA and OCSP queries."),
    ),
    key="name", key_size=35, summary=("name", "url"),
)

TABLES = (CRL_TABLE, REMOTE_TABLE, OCSP_SERVER_TABLE)
