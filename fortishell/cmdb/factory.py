"""The factory-default configuration (``execute factoryreset`` state).

Owns what a fresh FortiProxy holds: ``system global`` / ``system console``
defaults, ``vpn certificate setting`` defaults, and the factory certificates
(``source factory``) in ``vpn certificate local`` and ``vpn certificate ca``.

The certificates and keys are real, made with ``cryptography``.  Generating
them (RSA-4096, DSA-2048) takes seconds, so they are generated once::

    python -m fortishell.cmdb.factory --regenerate

into ``fortishell/cmdb/material/factory.json`` and loaded from there.  That
file is shipped emulator material: its keys protect nothing and are not
secret (each key is stored as an encrypted PEM next to its password, like the
device stores them).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
from pathlib import Path as FsPath
from typing import Any

from .model import Cmdb
from .schema import CA, LOCAL

MATERIAL = FsPath(__file__).with_name("material") / "factory.json"
SERIAL = "FPXVM4TM25000001"
LAST_UPDATED = 1730937600  # 2024-11-07 00:00:00 UTC, the firmware build date
_NOT_BEFORE = _dt.datetime(2015, 1, 1, tzinfo=_dt.timezone.utc)
_NOT_AFTER = _dt.datetime(2038, 1, 19, 3, 14, 7, tzinfo=_dt.timezone.utc)

_COMMENTS = {
    "Fortinet_CA_SSL": "This is the default CA certificate the SSL Inspection will use when generating new "
                       "server certificates.",
    "Fortinet_CA_Untrusted": "This is the default CA certificate the SSL Inspection will use when generating "
                             "new server certificates for untrusted sites.",
    "Fortinet_SSL": "This is the default server certificate any SSL offloading will use.",
}
# (name, key kind, issuer) in the order FortiOS lists them.
_LOCAL_SPECS = (
    ("Fortinet_CA_SSL", "rsa2048", None),
    ("Fortinet_CA_Untrusted", "rsa2048", None),
    ("Fortinet_SSL", "rsa2048", "Fortinet_CA_SSL"),
    ("Fortinet_SSL_RSA1024", "rsa1024", "Fortinet_CA_SSL"),
    ("Fortinet_SSL_RSA2048", "rsa2048", "Fortinet_CA_SSL"),
    ("Fortinet_SSL_RSA4096", "rsa4096", "Fortinet_CA_SSL"),
    ("Fortinet_SSL_DSA1024", "dsa1024", "Fortinet_CA_SSL"),
    ("Fortinet_SSL_DSA2048", "dsa2048", "Fortinet_CA_SSL"),
    ("Fortinet_SSL_ECDSA256", "ec256", "Fortinet_CA_SSL"),
    ("Fortinet_SSL_ECDSA384", "ec384", "Fortinet_CA_SSL"),
    ("Fortinet_SSL_ECDSA521", "ec521", "Fortinet_CA_SSL"),
    ("Fortinet_SSL_ED448", "ed448", "Fortinet_CA_SSL"),
    ("Fortinet_SSL_ED25519", "ed25519", "Fortinet_CA_SSL"),
    ("Fortinet_Factory", "rsa2048", "Fortinet_Sub_CA"),
)


def factory_cmdb() -> Cmdb:
    """A new CMDB in the factory-default state (loads the shipped material)."""
    cmdb = Cmdb()
    material = load_material()
    with cmdb.transaction() as tx:
        for item in material["ca"]:
            tx.put(CA, item["name"], {"ca": item["certificate"], "range": "global", "source": "factory",
                                      "last-updated": LAST_UPDATED})
        for item in material["local"]:
            values: dict[str, Any] = {"password": item["password"], "private-key": item["private_key"],
                                      "certificate": item["certificate"], "range": "global",
                                      "source": "factory", "last-updated": LAST_UPDATED}
            if item["name"] in _COMMENTS:
                values["comments"] = _COMMENTS[item["name"]]
            tx.put(LOCAL, item["name"], values)
    cmdb.version = 0
    return cmdb


def load_material(path: FsPath = MATERIAL) -> dict[str, Any]:
    material: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return material


# ------------------------------------------------------------- regeneration
def _key(kind: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    if kind.startswith("rsa"):
        return rsa.generate_private_key(65537, int(kind[3:]))
    if kind.startswith("dsa"):
        return dsa.generate_private_key(int(kind[3:]))
    if kind.startswith("ec"):
        curve = {"256": ec.SECP256R1(), "384": ec.SECP384R1(), "521": ec.SECP521R1()}[kind[2:]]
        return ec.generate_private_key(curve)
    return ed25519.Ed25519PrivateKey.generate() if kind == "ed25519" else ed448.Ed448PrivateKey.generate()


def _name(cn: str, ou: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "California"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Sunnyvale"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fortinet"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.EMAIL_ADDRESS, "support@fortinet.com"),
    ])


def _cert(subject: Any, key: Any, issuer: Any, issuer_key: Any, ca: bool) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(_NOT_BEFORE).not_valid_after(_NOT_AFTER)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None if ca else None), critical=ca)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                        critical=False))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                            critical=True)
    else:
        b = b.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    algo = None if isinstance(issuer_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    return b.sign(issuer_key, algo)


def regenerate(path: FsPath = MATERIAL) -> None:
    """Generate every factory certificate and key into ``path`` (JSON)."""
    import secrets as _secrets  # here: a start never regenerates (the module costs it ~5 ms)

    from cryptography.hazmat.primitives import serialization

    def pem(cert: Any) -> str:
        return str(cert.public_bytes(serialization.Encoding.PEM).decode("ascii").strip())

    keys: dict[str, Any] = {}
    certs: dict[str, Any] = {}
    root_key = _key("rsa2048")
    root = _cert(_name("fortinet-ca", "Certificate Authority"), root_key,
                 _name("fortinet-ca", "Certificate Authority"), root_key, True)
    sub_key = _key("rsa2048")
    sub = _cert(_name("fortinet-subca2001", "Certificate Authority"), sub_key, root.subject, root_key, True)
    keys["Fortinet_Sub_CA"], certs["Fortinet_Sub_CA"] = sub_key, sub
    local = []
    for name, kind, issuer in _LOCAL_SPECS:
        key = _key(kind)
        if issuer is None:
            subject = _name(SERIAL, "Certificate Authority")
            cert = _cert(subject, key, subject, key, True)
        else:
            cert = _cert(_name(SERIAL, "FortiProxy"), key, certs[issuer].subject, keys[issuer], False)
        keys[name], certs[name] = key, cert
        password = _secrets.token_hex(16)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(password.encode()))
        local.append({"name": name, "password": password, "private_key": key_pem.decode("ascii").strip(),
                      "certificate": pem(cert)})
    ca = [{"name": "Fortinet_CA", "certificate": pem(root)},
          {"name": "Fortinet_Sub_CA", "certificate": pem(sub)},
          {"name": "Fortinet_CA_SSL", "certificate": pem(certs["Fortinet_CA_SSL"])},
          {"name": "Fortinet_CA_Untrusted", "certificate": pem(certs["Fortinet_CA_Untrusted"])}]
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"_comment": "Shipped fortishell emulator material: factory certificates and keys of the emulated "
                       "device. Not secret; they protect nothing.",
           "local": local, "ca": ca}
    path.write_text(json.dumps(doc, indent=1) + "\n", "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fortishell.cmdb.factory")
    parser.add_argument("--regenerate", action="store_true", help="generate the factory certificates anew")
    parser.add_argument("--output", type=FsPath, default=MATERIAL)
    args = parser.parse_args(argv)
    if args.regenerate:
        regenerate(args.output)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
