"""The keywords of ``execute vpn certificate ...`` and ``execute api-user``: data only.

Help texts and argument positions of the certificate commands, with their handlers
named by :class:`~.tree.Lazy` references: building the ``execute`` tree at start
imports none of ``certs.py``, ``certs_ca.py``, ``certs_est.py``, ``certs_scep.py`` or
``apiuser.py`` (nor cryptography's x509, the EST, SCEP and transfer stacks they
bring); the module of a command is imported when the command first runs
(``tests/test_startup.py`` holds it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .tree import ArgHelp, Lazy, Node, fixed_args

if TYPE_CHECKING:
    from ..session import Session

# the curves of `generate ec` (certs/request.py validates with the same tuple; a test holds them equal)
CURVES = ("secp256r1", "secp384r1", "secp521r1")


def positions(*names: tuple[str, str]) -> ArgHelp:
    """Argument help with exactly one candidate per position."""
    return fixed_args(*[[n] for n in names])


def local_nodes() -> dict[str, Node]:
    """The ``local`` keywords besides ``generate``."""
    return {
        "export": Node("Export local certificate or certificate request.", {
            "tftp": Node("Export local certificate or certificate request to a TFTP server.",
                         handler=Lazy("certs", "do_local_export_tftp"), secret_args=(5,),
                         args=positions(("<string>", "Local certificate name."),
                                        ("<type>", "cer, p12 or csr."),
                                        ("<string>", "File name on the TFTP server."),
                                        ("<tftp server>", "TFTP server IPv4, IPv6, or FQDN."),
                                        ("<string>", "Password of the PKCS#12 file (p12 only)."))),
        }),
        "import": Node("Import local certificate.", {
            "tftp": Node("Import local certificate from a TFTP server.", handler=Lazy("certs", "do_local_import_tftp"),
                         secret_args=(4,),
                         args=positions(("<string>", "File name on the TFTP server."),
                                        ("<tftp server>", "TFTP server IPv4, IPv6, or FQDN."),
                                        ("<type>", "cer or p12 (optional)."),
                                        ("<string>", "Password of the PKCS#12 file (p12 only)."))),
        }),
    }


def generate_nodes() -> dict[str, Node]:
    """``generate rsa`` / ``generate ec`` (``generate est`` is execute.py's)."""
    common = [("<string>", "Subject (Host-IP/Domain Name/E-Mail)."), ("<string>", "Country name (optional)."),
              ("<string>", "State (optional)."), ("<string>", "City (optional)."),
              ("<string>", "Organization (optional)."), ("<string>", "Organization unit (optional)."),
              ("<string>", "Email (optional)."), ("<string>", "Subject alternative name (optional)."),
              ("<string>", "SCEP server URL (optional)."), ("<string>", "Challenge password (optional)."),
              ("<ip>", "Source IP for communications to the CA server (optional)."),
              ("<string>", "CA identifier (optional)."), ("<string>", "Private key password (optional).")]
    rsa = fixed_args([("<string>", "Local certificate name.")], [("<integer>", "Key size: 1024, 1536, 2048, 4096.")],
                     *[[c] for c in common], optional_from=3)
    ec = fixed_args([("<string>", "Local certificate name.")],
                    [(c, "Curve name.") for c in CURVES], *[[c] for c in common], optional_from=3)
    return {
        "ec": Node("Generate an elliptic curve certificate request.", handler=Lazy("certs", "do_generate_ec"),
                   args=ec, secret_args=(12, 15)),
        "rsa": Node("Generate an RSA certificate request.", handler=Lazy("certs", "do_generate_rsa"),
                    args=rsa, secret_args=(12, 15)),
    }


def ca_node() -> Node:
    """``ca``: export tftp; import bundle | tftp | est | auto."""
    est = [("<string>", "URL of the CA server. (e.g. https://example.com:1234)."),
           ("<string>", "CA Identifier (optional)."), ("<string>", "HTTP authentication username (optional)."),
           ("<string>", "HTTP authentication password (optional)."),
           ("<ip>", "Source-IP for communications to the CA server (optional)."),
           ("<string>", "Client certificate (optional)."), ("<string>", "TLS-SRP username (optional)."),
           ("<string>", "TLS-SRP password (optional)."),
           ("<fingerprint>", "SHA-256 fingerprint for authenticating the CA certificate (optional).")]
    scep = [("<string>", "URL of the CA server (e.g. http://scep.lab/scep)."),
            ("<string>", "CA identifier (optional)."),
            ("<ip>", "Source-IP for communications to the CA server (optional)."),
            ("<fingerprint>", "SHA-256 fingerprint for authenticating the CA certificate (optional).")]
    imports = {
        "auto": Node("Import CA certificate via SCEP.", handler=Lazy("certs_scep", "do_ca_import_auto"),
                     args=fixed_args(*[[h] for h in scep], optional_from=1)),
        "bundle": Node("Import certificate bundle from a TFTP server.", handler=Lazy("certs_ca", "do_ca_import_bundle"),
                       args=positions(("<string>", "File name on the TFTP server."),
                                      ("<ip>", "IP address of TFTP server."))),
        "est": Node("Import CA certificate via EST.", handler=Lazy("certs_est", "do_ca_import_est"),
                    secret_args=(4, 8), args=fixed_args(*[[h] for h in est], optional_from=1)),
        "tftp": Node("Import CA certificate from a TFTP server.", handler=Lazy("certs_ca", "do_ca_import_tftp"),
                     args=positions(("<string>", "File name on the TFTP server."),
                                    ("<tftp server>", "TFTP server IPv4, IPv6, or FQDN."))),
    }
    return Node("CA certificate.", {
        "export": Node("Export CA certificate.", {
            "tftp": Node("Export CA certificate to a TFTP server.", handler=Lazy("certs_ca", "do_ca_export_tftp"),
                         args=positions(("<string>", "CA certificate name."),
                                        ("<string>", "File name on the TFTP server."),
                                        ("<ip>", "IP address of TFTP server."))),
        }),
        "import": Node("Import CA certificate.", imports),
    })


def crl_node() -> Node:
    return Node("Certificate Revocation List.", {
        "import": Node("Import CRL.", {
            "auto": Node("Update CRL.", handler=Lazy("certs_ca", "do_crl_import_auto"),
                         args=positions(("<string>", "CRL name."))),
        }),
    })


def _api_users(sess: "Session", typed: list[str]) -> list[tuple[str, str]]:
    from ...cmdb.schema_admin import API_USER  # after cmdb.schema (which imports schema_admin)

    if typed:
        return []
    return [("<name>", "API user name.")] + [(k, "") for k in sess.cmdb.keys(API_USER)]


def api_user_node() -> Node:
    return Node("API user commands.", {
        "generate-key": Node("Generate a new API key for the API user.", handler=Lazy("apiuser", "do_generate_key"),
                             args=_api_users),
    })
