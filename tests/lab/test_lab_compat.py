"""The private library names in fortishell/lab/compat.py: fail loudly when a library changes them."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from fortishell.lab import compat
from fortishell.lab.ca import LabCA

PRINTABLE_STRING_TAG = 0x13


def test_cryptography_still_has_the_private_asn1_type_enum():
    assert hasattr(x509.name, "_ASN1Type"), "cryptography renamed x509.name._ASN1Type: update fortishell/lab/compat.py"
    assert hasattr(x509.name._ASN1Type, "PrintableString")


def test_printable_name_attribute_encodes_as_printable_string():
    name = x509.Name([compat.printable_name_attribute(NameOID.COMMON_NAME, "estExampleCA")])
    der = name.public_bytes()
    value = b"estExampleCA"
    at = der.index(value)
    assert der[at - 2] == PRINTABLE_STRING_TAG and der[at - 1] == len(value), der.hex()


def test_lab_ca_subject_is_printable_string():
    der = LabCA.shipped().cert.public_bytes(serialization.Encoding.DER)
    at = der.index(b"estExampleCA")
    assert der[at - 2] == PRINTABLE_STRING_TAG
