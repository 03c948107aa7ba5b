"""What the client puts in its CSR (issue 18): csrattrs with attributes (RFC 7030 4.5.2) are
honoured, never a crash; a rekey CSR carries no key identifiers.  Real TLS to the lab responder;
the CSR is read back from the ``Data to be posted`` trace lines."""

from __future__ import annotations

import base64
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AttributeOID, ExtensionOID

from fortishell.est import attrs as csr_attrs
from fortishell.est import pki
from fortishell.est.args import LOCAL


def posted_csrs(lines: list[str]) -> list[x509.CertificateSigningRequest]:
    text = "\n".join(lines)
    found = re.findall(r"Data to be posted:\n\|\|\|(.*?)\n\|\|\|", text, re.S)
    return [x509.load_der_x509_csr(base64.b64decode("".join(b64.split()))) for b64 in found]


def generate(rig, name: str = "c1", alg: str = "ec-secp256r1") -> list[str]:
    return rig.generate(name, alg, rig.url, "CN=firewall-portal1", "DNS:firewall-portal1.local.ca",
                        "estuser", "estpwd", "G_CA_Cert_1")


def test_rfc7030_example_csrattrs_are_honoured(rig):
    rig.responder.faults.set(csrattrs_example=True)
    assert generate(rig) == ["Done."]
    assert "[1482] decode_csrattrs_callback: Attribute: 1.2.840.10045.2.1 id-ecPublicKey" in rig.lines
    assert "[1482] decode_csrattrs_callback: Attribute: 1.2.840.113549.1.9.14 Extension Request" in rig.lines
    assert "[1474] decode_csrattrs_callback: Object: 1.2.840.10045.4.3.3 ecdsa-with-SHA384" in rig.lines
    (csr,) = posted_csrs(rig.lines)
    key = csr.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp384r1"  # the server's curve
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA384)  # ecdsa-with-SHA384
    assert csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD)  # PoP: tls-unique
    stored = pki.load_cert(rig.cmdb.entry(LOCAL, "c1").get("certificate"))
    assert stored.public_key().public_numbers() == key.public_numbers()


def test_rsa_key_stays_rsa_but_takes_the_servers_hash(rig):
    rig.responder.faults.set(csrattrs_example=True)
    assert generate(rig, alg="rsa-2048") == ["Done."]
    (csr,) = posted_csrs(rig.lines)
    assert csr.public_key().key_size == 2048
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA384)


def test_attribute_values_of_any_type_decode():
    from pyasn1.codec.der import encoder
    from pyasn1.type import char, univ
    from pyasn1_modules import rfc7030

    attrs = rfc7030.CsrAttrs()
    item = rfc7030.AttrOrOID()
    item["attribute"]["attrType"] = univ.ObjectIdentifier("2.5.4.3")
    item["attribute"]["attrValues"].append(encoder.encode(char.UTF8String("not an OID")))
    item["attribute"]["attrValues"].append(encoder.encode(univ.ObjectIdentifier("1.3.132.0.35")))
    attrs.append(item)
    body = base64.b64encode(encoder.encode(attrs)) + b"\r\n\x00"
    assert csr_attrs.decode_csrattrs(body) == [csr_attrs.CsrAttr("2.5.4.3", True, ("1.3.132.0.35",))]


def test_rekey_csr_carries_no_key_identifiers(rig):
    assert generate(rig) == ["Done."]
    old = pki.load_cert(rig.cmdb.entry(LOCAL, "c1").get("certificate"))
    assert old.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    with rig.cmdb.transaction() as tx:
        tx.put(LOCAL, "c1", {"est-regeneration-method": "create-new-key"})
    rig.lines.clear()
    assert rig.engine.regenerate("c1") == ["Done."]
    (csr,) = posted_csrs(rig.lines)
    assert csr.public_key().public_numbers() != old.public_key().public_numbers()
    requested = {ext.oid for ext in csr.extensions}
    assert ExtensionOID.SUBJECT_KEY_IDENTIFIER not in requested
    assert ExtensionOID.AUTHORITY_KEY_IDENTIFIER not in requested
    assert requested == {ext.oid for ext in old.extensions} - pki.CA_OWNED_EXTENSIONS  # the rest is kept
    assert ExtensionOID.KEY_USAGE in requested


def test_pkcs7_in_chain_order_reads_without_cryptography_too(make_rig):
    """The pyasn1 reader (used should cryptography refuse a non-DER set) keeps the order sent."""
    from fortishell.lab import habits
    from fortishell.lab.ca import LabCA

    ca = LabCA.shipped()
    der = habits.pkcs7_der([ca.server_cert, ca.cert], chain_order=True)
    assert pki.pkcs7_certs_ber(der) == [ca.server_cert, ca.cert]
    import pytest

    with pytest.raises(pki.PkiError):
        pki.pkcs7_certs_ber(b"\x30\x03\x02\x01\x01")
