"""The configuration schema: tables and attributes as data.

Owns the declarations of every configurable table (:class:`TableSpec`) and
attribute (:class:`AttrSpec`; the classes live in ``spec.py``) and the
lookups the shell needs (path words, help texts).  Nothing here validates or formats values (``types.py``) or holds
configuration (``model.py``).  Adding a table or an attribute is adding a
declaration here.

Sources: ``fortios-cli-facts.md`` section 3 and the FortiProxy EST guide; where
they disagree the guide wins (noted next to the declaration).

Attribute order is the ``get``/``show`` order.  Attributes that only exist
under a condition (``when``) are declared right after the attribute they
depend on, so that a configuration written in schema order can be read back
line by line (the condition already holds when the line is read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# the spec classes and constants, importable from here as before
from .spec import (
    DATASOURCE, EPOCH, GET_CERT, GET_STAR, GET_STAR_IF_SET, GET_VALUE, INTEGER, IPV4, MULTI_OPTION, OPTION,
    PASSWORD, PEM, STRING, AttrSpec, Option, Path, TableSpec, resolve_word,
)

__all__ = [
    "DATASOURCE", "EPOCH", "GET_CERT", "GET_STAR", "GET_STAR_IF_SET", "GET_VALUE", "INTEGER", "IPV4",
    "MULTI_OPTION", "OPTION", "PASSWORD", "PEM", "STRING", "AttrSpec", "Option", "Path", "TableSpec",
    "resolve_word", "Schema", "SCHEMA", "LOCAL", "CA", "SETTING", "GLOBAL", "CONSOLE",
]


# ------------------------------------------------------------------ helpers
def _s(name: str, size: int, default: str = "", help: str = "", **kw: Any) -> AttrSpec:
    return AttrSpec(name, STRING, default, help, size=size, **kw)


def _i(name: str, lo: int, hi: int, default: int, help: str = "", **kw: Any) -> AttrSpec:
    return AttrSpec(name, INTEGER, default, help, range=(lo, hi), **kw)


def _o(name: str, options: list[tuple[str, str]], default: str, help: str = "", **kw: Any) -> AttrSpec:
    return AttrSpec(name, OPTION, default, help, options=tuple(Option(v, h) for v, h in options), **kw)


def _pw(name: str, help: str = "", get_format: str = GET_STAR, **kw: Any) -> AttrSpec:
    return AttrSpec(name, PASSWORD, "", help, secret=True, size=128, get_format=get_format, **kw)


_ED = (("enable", "Enable setting."), ("disable", "Disable setting."))
_DE = (("disable", "Disable setting."), ("enable", "Enable setting."))
_RANGE = [("global", "Global range."), ("vdom", "VDOM IP address range.")]
_SOURCE = [("factory", "Factory installed certificate."), ("user", "User generated certificate."),
           ("bundle", "Bundle file certificate.")]
_UINT = 4294967295

LOCAL: Path = ("vpn", "certificate", "local")
CA: Path = ("vpn", "certificate", "ca")
SETTING: Path = ("vpn", "certificate", "setting")
GLOBAL: Path = ("system", "global")
CONSOLE: Path = ("system", "console")

_SCEP = (("enroll-protocol", ("scep",)),)
_CMP = (("enroll-protocol", ("cmpv2",)),)
_ACME = (("enroll-protocol", ("acme2",)),)

# The guide's `get est-test101` (Examples 2 and 3) fixes the order and the
# always-visible set.  name-encoding, private-key-retain and
# est-regeneration-method only show in `get` when not at their default, which
# keeps the guide's output verbatim.  est-* are always visible (the guide shows
# them; FortiOS 7.6 lists them with the EST protocol fields).
_LOCAL_ATTRS = (
    _pw("password", "Password as a PEM file."),
    _s("comments", 511, help="Comment."),
    AttrSpec("private-key", PEM, "", "PEM format key encrypted with a password.", user=True, secret=False,
             get_format=GET_STAR_IF_SET, pem_kind="private-key"),
    AttrSpec("certificate", PEM, "", "PEM format certificate.", user=True, get_format=GET_CERT,
             pem_kind="certificate"),
    # csr and source are "user" / option fields in the reference (settable); the CSR is
    # normally written by `execute vpn certificate local generate rsa|ec`.
    AttrSpec("csr", PEM, "", "Certificate Signing Request.", user=True, get_if="nonempty", pem_kind="csr"),
    # state is run-time status computed from the certificate and the clock
    # (OK / PENDING / EXPIRED) or stored by the EST engine (FAILED); it is not
    # part of the configuration file, as on FortiOS.
    AttrSpec("state", STRING, "", "Certificate Signing state.", readonly=True, volatile=True),
    _o("range", _RANGE, "global", "Either a global or VDOM IP address range for the certificate."),
    _o("source", _SOURCE, "user", "Certificate source type."),
    AttrSpec("source-ip", IPV4, "0.0.0.0", "Source IP address for communications to the SCEP server."),
    _o("ike-localid-type", [("asn1dn", "ASN.1 distinguished name."), ("fqdn", "Fully qualified domain name.")],
       "asn1dn", "IKE local ID type."),
    _s("ike-localid", 63, help="Local ID the FortiGate uses for authentication as a VPN client.",
       when=(("ike-localid-type", ("fqdn",)),)),
    _o("enroll-protocol", [("none", "None (default)."), ("scep", "Simple Certificate Enrollment Protocol."),
                           ("cmpv2", "Certificate Management Protocol Version 2."),
                           ("acme2", "Automated Certificate Management Environment Version 2."),
                           ("est", "Enrollment over Secure Transport.")],
       "none", "Certificate enrollment protocol."),
    _o("private-key-retain", list(_ED), "disable",
       "Enable/disable retention of private key during SCEP renewal (default = disable).", get_if="nondefault"),
    _s("scep-url", 255, help="SCEP server URL.", when=_SCEP),
    _pw("scep-password", "SCEP server challenge password for auto-regeneration.", when=_SCEP),
    _s("ca-identifier", 255, help="CA identifier of the CA server for signing via SCEP.", when=_SCEP),
    _s("cmp-server", 63, help="Address and port for CMP server (format = address:port).", when=_CMP),
    _s("cmp-path", 255, help="Path location inside CMP server.", when=_CMP),
    _s("cmp-server-cert", 79, help="CMP server certificate.", when=_CMP),
    _o("cmp-regeneration-method", [("keyupate", "Key Update."), ("renewal", "Renewal.")], "keyupate",
       "CMP auto-regeneration method.", when=_CMP),
    _s("acme-ca-url", 255, "https://acme-v02.api.letsencrypt.org/directory", "The URL for the ACME CA server.",
       when=_ACME),
    _s("acme-domain", 255, help="A valid domain that resolves to this FortiGate unit.", when=_ACME),
    _s("acme-email", 255, help="Contact email address that is required by some CAs like LetsEncrypt.",
       when=_ACME),
    _s("acme-eab-key-id", 255, help="External Account Binding Key ID (optional setting).", when=_ACME),
    _pw("acme-eab-key-hmac", "External Account Binding HMAC Key (URL-encoded base64).", when=_ACME),
    _i("acme-rsa-key-size", 2048, 4096, 2048, "Length of the RSA private key of the generated cert.", when=_ACME),
    _i("acme-renew-window", 1, 100, 30, "Beginning of the renewal window (in days before certificate expiration).",
       when=_ACME),
    _s("est-server", 255, help="Address and port for EST server (e.g. https://example.com:1234)."),
    _s("est-ca-id", 255, help="CA identifier of the CA server for signing via EST."),
    _s("est-http-username", 63, help="HTTP Authentication username for signing via EST."),
    # The guide prints est-http-password / est-srp-password in clear in `get`.
    _pw("est-http-password", "HTTP Authentication password for signing via EST.", get_format=GET_VALUE),
    # est-client-cert names a local certificate; est-server-cert names a CA
    # certificate, and a local certificate is accepted too (a FortiProxy can
    # pin a server certificate it holds locally).
    AttrSpec("est-client-cert", DATASOURCE, "", "Certificate used to authenticate this FortiGate to EST server.",
             size=79, datasource=(LOCAL,)),
    AttrSpec("est-server-cert", DATASOURCE, "", "EST server's certificate must be verifiable by this certificate "
             "to be authenticated.", size=79, datasource=(CA, LOCAL)),
    _s("est-srp-username", 63, help="EST SRP authentication username."),
    _pw("est-srp-password", "EST SRP authentication password.", get_format=GET_VALUE),
    # The guide's manual regeneration keeps the key pair: default use-existing-key.
    _o("est-regeneration-method", [("create-new-key", "Create new private key during re-enrollment."),
                                   ("use-existing-key", "Reuse existing private key during re-enrollment.")],
       "use-existing-key", "EST behavioral options during re-enrollment.", get_if="nondefault"),
    _i("auto-regenerate-days", 0, _UINT, 0, "Number of days to wait before expiry of an updated local "
       "certificate is requested (0 = disabled)."),
    _i("auto-regenerate-days-warning", 0, _UINT, 0, "Number of days to wait before an expiry warning message "
       "is generated (0 = disabled)."),
    _o("name-encoding", [("printable", "Printable encoding (default)."), ("utf8", "UTF-8 encoding.")],
       "printable", "Name encoding method for auto-regeneration.", get_if="nondefault"),
    AttrSpec("last-updated", EPOCH, 0, "Time at which the certificate was last updated.", readonly=True,
             hidden=True),
)

_CA_ATTRS = (
    AttrSpec("ca", PEM, "", "CA certificate as a PEM file.", user=True, get_format=GET_CERT, pem_kind="certificate"),
    _o("range", _RANGE, "global", "Either global or VDOM IP address range for the CA certificate."),
    _o("source", _SOURCE, "user", "CA certificate source type."),
    _o("ssl-inspection-trusted", list(_ED), "enable", "Enable/disable this CA as a trusted CA for SSL inspection."),
    _s("scep-url", 255, help="URL of the SCEP server."),
    _s("est-url", 255, help="URL of the EST server."),
    _i("auto-update-days", 0, _UINT, 0, "Number of days to wait before requesting an updated CA certificate "
       "(0 - 4294967295, 0 = disabled)."),
    _i("auto-update-days-warning", 0, _UINT, 0, "Number of days before an expiry-warning message is generated "
       "(0 - 4294967295, 0 = disabled)."),
    AttrSpec("source-ip", IPV4, "0.0.0.0", "Source IP address for communications to the SCEP server."),
    _s("ca-identifier", 255, help="CA identifier of the SCEP server."),
    _o("obsolete", list(_DE), "disable", "Enable/disable this CA as obsoleted."),
    _o("fabric-ca", list(_DE), "disable", "Enable/disable synchronization of CA across Security Fabric."),
    AttrSpec("last-updated", EPOCH, 0, "Time at which CA was last updated.", readonly=True, hidden=True),
)

_REVOKE = [("ignore", "Ignore."), ("revoke", "Revoke.")]
_CRL = TableSpec(
    path=("crl-verification",), kind="object", help="CRL verification options.",
    attrs=(
        _o("expiry", _REVOKE, "ignore", "CRL verification option when CRL is expired (default = ignore)."),
        _o("leaf-crl-absence", _REVOKE, "ignore", "CRL verification option when leaf CRL is absent "
           "(default = ignore)."),
        _o("chain-crl-absence", _REVOKE, "ignore", "CRL verification option when CRL of any certificate in "
           "chain is absent (default = ignore)."),
    ),
)


def _certname(bits: str) -> AttrSpec:
    return AttrSpec(f"certname-{bits}", DATASOURCE, f"Fortinet_SSL_{bits.upper()}",
                    f"{bits.upper()} key certificate for re-signing server certificates for SSL inspection.",
                    size=35, datasource=(LOCAL,))


_SETTING_ATTRS = (
    _o("ocsp-status", [("enable", "OCSP is performed if CRL is not checked."),
                       ("mandatory", "If cert is not revoked by CRL, OCSP is performed."),
                       ("disable", "No OCSP is performed.")], "disable", "Enable/disable receiving certificates "
       "using the OCSP."),
    _o("ocsp-option", [("certificate", "Use URL from certificate."), ("server", "Use URL from configured OCSP "
                                                                                "server.")],
       "server", "Specify whether the OCSP URL is from certificate or configured OCSP server."),
    _s("proxy", 127, help="Proxy server FQDN or IP for OCSP/CA queries during certificate verification."),
    _i("proxy-port", 1, 65535, 8080, "Proxy server port (1 - 65535, default = 8080)."),
    _s("proxy-username", 63, help="Proxy server user name."),
    _pw("proxy-password", "Proxy server password."),
    _s("source-ip", 63, help="Source IP address for dynamic AIA and OCSP queries."),
    _s("ocsp-default-server", 35, help="Default OCSP server."),
    _o("interface-select-method", [("auto", "Set outgoing interface automatically."),
                                   ("sdwan", "Set outgoing interface by SD-WAN or policy routing rules."),
                                   ("specify", "Set outgoing interface manually.")], "auto",
       "Specify how to select outgoing interface to reach server."),
    _s("interface", 15, help="Specify outgoing interface to reach server.",
       when=(("interface-select-method", ("specify",)),)),
    _i("vrf-select", 0, 511, 0, "VRF ID used for connection to server."),
    _o("check-ca-cert", list(_ED), "enable", "Enable/disable verification of the user certificate and pass "
       "authentication if any CA in the chain is trusted (default = enable)."),
    _o("check-ca-chain", list(_ED), "disable", "Enable/disable verification of the entire certificate chain and "
       "pass authentication only if the chain is complete and all of the CAs in the chain are trusted "
       "(default = disable)."),
    _o("subject-match", [("substring", "Find a match if any string in the certificate subject matches the "
                                       "name being searched for."),
                         ("value", "Find a match if any attribute value string in a certificate subject "
                                   "matches the name being searched for.")], "substring",
       "When searching for a matching certificate, control how to do RDN value matching with certificate "
       "subject name (default = substring)."),
    _o("subject-set", [("subset", "A subset of a subject name is a match."),
                       ("superset", "A superset of a subject name is a match.")], "subset",
       "When searching for a matching certificate, control how to do RDN set matching with certificate "
       "subject name (default = subset)."),
    _o("cn-match", [("substring", "Find a match if the name being searched for is a part or the same as a "
                                  "certificate CN."),
                    ("value", "Find a match if the name being searched for is same as a certificate CN.")],
       "substring", "When searching for a matching certificate, control how to do CN value matching with "
       "certificate subject name (default = substring)."),
    _o("cn-allow-multi", list(_DE), "enable", "When searching for a matching certificate, allow multiple CN "
       "fields in certificate subject name (default = enable)."),
    _o("strict-ocsp-check", list(_ED), "disable", "Enable/disable strict mode OCSP checking."),
    _o("ssl-min-proto-version", [("default", "Follow system global setting."), ("SSLv3", "SSLv3."),
                                 ("TLSv1", "TLSv1."), ("TLSv1-1", "TLSv1.1."), ("TLSv1-2", "TLSv1.2."),
                                 ("TLSv1-3", "TLSv1.3.")], "default",
       "Minimum supported protocol version for SSL/TLS connections (default is to follow system global "
       "setting)."),
    _i("cert-expire-warning", 0, 100, 14, "Number of days before a certificate expires to send a warning. Set to "
       "0 to disable sending of the warning (0 - 100, default = 14)."),
    _certname("rsa1024"), _certname("rsa2048"), _certname("rsa4096"),
    _certname("dsa1024"), _certname("dsa2048"),
    _certname("ecdsa256"), _certname("ecdsa384"), _certname("ecdsa521"),
    _certname("ed25519"), _certname("ed448"),
    _o("cmp-save-extra-certs", list(_ED), "disable", "Enable/disable saving extra certificates in CMP mode "
       "(default = disable)."),
    _o("cmp-key-usage-checking", list(_ED), "enable", "Enable/disable server certificate key usage checking in "
       "CMP mode (default = enable)."),
)

_GLOBAL_ATTRS = (
    _s("alias", 35, help="Alias for your FortiProxy unit."),
    _s("hostname", 35, "FortiProxy", "FortiProxy unit's hostname. Most models will truncate names longer than "
       "24 characters. Some models support hostnames up to 35 characters."),
    _i("admintimeout", 1, 480, 5, "Number of minutes before an idle administrator session times out (1 - 480 "
       "minutes (8 hours), default = 5). A shorter idle timeout is more secure."),
    # FortiOS 7.4+ takes a time-zone name.
    _s("timezone", 63, "US/Pacific", "Timezone database name. Enter ? to view the list of timezone."),
    # FortiOS 7.4.5+: `?access_token=` is refused unless this is enabled (REST API, rest/auth.py)
    _o("rest-api-key-url-query", list(_DE), "disable", "Enable/disable support for passing REST API keys "
       "through URL query parameters."),
)

_CONSOLE_ATTRS = (
    _o("output", [("standard", "Standard output."), ("more", "More page output.")], "more",
       "Console output mode."),
    _o("login", [("enable", "Console login enable."), ("disable", "Console login disable.")], "enable",
       "Console login enable/disable."),
)


@dataclass(frozen=True)
class Schema:
    """All tables, plus the help text of the intermediate path words."""

    tables: tuple[TableSpec, ...]
    word_help: Mapping[Path, str]

    def table(self, path: Path | list[str]) -> TableSpec | None:
        path = tuple(path)
        for t in self.tables:
            if t.path == path:
                return t
        return None

    def children(self, prefix: Path | list[str] = ()) -> list[str]:
        """The words that may follow ``prefix`` in a ``config`` path (sorted)."""
        prefix = tuple(prefix)
        n = len(prefix)
        return sorted({t.path[n] for t in self.tables if len(t.path) > n and t.path[:n] == prefix})

    def help(self, path: Path | list[str]) -> str:
        """Help text of a path word (intermediate word or table)."""
        path = tuple(path)
        table = self.table(path)
        if table is not None:
            return table.help
        return self.word_help.get(path, "")

    def path_words(self, prefix: Path | list[str] = ()) -> list[tuple[str, str]]:
        """(word, help) of the words that may follow ``prefix`` in a ``config`` path (sorted)."""
        prefix = tuple(prefix)
        return [(w, self.help(prefix + (w,))) for w in self.children(prefix)]

    def names_sensitive_attr(self, word: str) -> bool:
        """Whether ``word`` is, or abbreviates, a sensitive attribute of any table.

        Any table, not one: the history form of a line is decided without the
        mode it was typed in, so a word that could name a secret is treated as one.
        """
        return bool(word) and any(a.sensitive and a.name.startswith(word) for t in self._all_tables()
                                  for a in t.attrs)

    def _all_tables(self) -> list[TableSpec]:
        out: list[TableSpec] = []
        todo = list(self.tables)
        while todo:
            t = todo.pop()
            out.append(t)
            todo.extend(t.subtables)
        return out

    def resolve_path(self, words: list[str]) -> Path | None:
        """Resolve abbreviated ``config`` words to a table path (None if not a table)."""
        out: list[str] = []
        for w in words:
            nxt = resolve_word(w, self.children(out))
            if nxt is None:
                return None
            out.append(nxt)
        return tuple(out) if self.table(out) is not None else None


from .schema_pki import TABLES as _PKI_TABLES  # noqa: E402 - its declarations use the classes above
from .schema_admin import TABLES as _ADMIN_TABLES  # noqa: E402 - likewise
from .schema_acme import TABLES as _ACME_TABLES  # noqa: E402 - likewise

SCHEMA = Schema(
    tables=(
        TableSpec(GLOBAL, "object", "Configure global attributes.", _GLOBAL_ATTRS),
        TableSpec(CONSOLE, "object", "Configure console.", _CONSOLE_ATTRS),
        TableSpec(CA, "table", "CA certificate.", (_s("name", 79, help="Name."),) + _CA_ATTRS, key="name",
                  key_size=79, summary=("name", "range", "source")),
        TableSpec(LOCAL, "table", "Local keys and certificates.", (_s("name", 35, help="Name."),) + _LOCAL_ATTRS,
                  key="name", key_size=35, summary=("name", "range", "source", "enroll-protocol")),
        TableSpec(SETTING, "object", "VPN certificate setting.", _SETTING_ATTRS, subtables=(_CRL,)),
        *_PKI_TABLES,
        *_ADMIN_TABLES,
        *_ACME_TABLES,
    ),
    word_help={
        ("system",): "Configure system.",
        ("vpn",): "Configure VPN.",
        ("vpn", "certificate"): "Configure certificates.",
    },
)
