"""csrattrs decoded without loading pyasn1-modules' RFC 7030 schema (with the CMS and
attribute-certificate modules it pulls in, ~0.15 s of CPU in every enrolling process); the
schema decoder stays the judge of every body whose shape the schemaless one does not know,
and both agree on every body here."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from pyasn1.codec.der import encoder
from pyasn1.type import univ

from fortishell.est import attrs
from fortishell.est.pki import PkiError
from fortishell.lab.habits import RFC7030_CSRATTRS_EXAMPLE


def _b64(der: bytes) -> bytes:
    return base64.b64encode(der)


def _attribute(oid: str, *values: object) -> univ.Sequence:
    seq = univ.Sequence()
    seq.setComponentByPosition(0, univ.ObjectIdentifier(oid))
    vals = univ.SetOf(componentType=univ.Any())
    for i, v in enumerate(values):
        vals.setComponentByPosition(i, univ.Any(encoder.encode(v)))  # type: ignore[arg-type]
    seq.setComponentByPosition(1, vals)
    return seq


def _csrattrs(*items: object) -> bytes:
    seq = univ.SequenceOf(componentType=univ.Any())
    for i, item in enumerate(items):
        seq.setComponentByPosition(i, univ.Any(encoder.encode(item)))  # type: ignore[arg-type]
    return encoder.encode(seq)


BODIES = {
    "rfc7030 example": RFC7030_CSRATTRS_EXAMPLE.encode(),
    "bare oids": _b64(_csrattrs(univ.ObjectIdentifier("1.2.840.113549.1.9.7"),
                                univ.ObjectIdentifier("2.16.840.1.101.3.4.2.2"))),
    "attribute of strings and oids": _b64(_csrattrs(_attribute("1.2.840.10045.2.1", univ.ObjectIdentifier("1.3.132.0.35"),
                                                               univ.OctetString(b"x")))),
    "empty": _b64(_csrattrs()),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_the_schemaless_decoder_agrees_with_the_schema(name: str) -> None:
    body = BODIES[name]
    assert attrs.decode_csrattrs(body) == attrs.decode_with_schema(base64.b64decode(body))


def test_bodies_of_another_shape_are_judged_by_the_schema() -> None:
    for bad in (_b64(encoder.encode(univ.Integer(5))), _b64(_csrattrs(univ.Integer(1))), base64.b64encode(b"\x30\x03\x02")):
        with pytest.raises(PkiError):
            attrs.decode_csrattrs(bad)


def test_decoding_csrattrs_does_not_load_the_rfc7030_schema() -> None:
    code = ("import sys; from fortishell.est import attrs; from fortishell.lab.habits import RFC7030_CSRATTRS_EXAMPLE as E; "
            "got = attrs.decode_csrattrs(E.encode()); "
            "assert [a.oid for a in got][0] == '1.2.840.113549.1.9.7', got; "
            "print(sorted(m for m in sys.modules if m.startswith('pyasn1_modules.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "rfc7030" not in out.stdout and "rfc5652" not in out.stdout, out.stdout
