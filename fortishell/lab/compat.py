"""The one place the lab uses a private name of a library (tests/lab/test_lab_compat.py
fails loudly when it changes).

cryptography has no public way to choose the ASN.1 string type of a name
attribute: ``x509.NameAttribute`` takes a private ``_type`` argument whose values
live in the private ``x509.name._ASN1Type`` enum.  The reference EST test CA
encodes subject values as PrintableString, and the guide's transcripts (the
585-byte first enrollment) depend on that encoding, so the lab CA needs it.
"""

from __future__ import annotations

from cryptography import x509

_ASN1_TYPE = x509.name._ASN1Type  # private: see the module docstring


def printable_name_attribute(oid: x509.ObjectIdentifier, value: str) -> x509.NameAttribute[str]:
    """A name attribute encoded as ASN.1 PrintableString (``value`` must be printable)."""
    return x509.NameAttribute(oid, value, _type=_ASN1_TYPE.PrintableString)
