"""Certs-only PKCS#7 read without loading pyasn1-modules' RFC 2315 (it pulls in the X.509
schema modules: ~0.18 s of CPU in every enrolling process): the ContentInfo wrapper is
declared beside the SignedData the module already declares, and reads every lab reply
shape as RFC 2315's own ContentInfo does."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pyasn1.codec.ber import decoder as ber_decoder

from fortishell.est import certsonly
from fortishell.lab.ca import LabCA
from fortishell.lab.habits import pkcs7_der


@pytest.mark.parametrize("chain_order", [False, True])
def test_contentinfo_reads_as_rfc2315s(chain_order: bool) -> None:
    from pyasn1_modules import rfc2315

    ca = LabCA.shipped()
    der = pkcs7_der([ca.cert, ca.server_cert], chain_order=chain_order)
    ours, _ = ber_decoder.decode(der, asn1Spec=certsonly.ContentInfo())
    theirs, _ = ber_decoder.decode(der, asn1Spec=rfc2315.ContentInfo())
    assert ours["contentType"] == theirs["contentType"] == certsonly.SIGNED_DATA == rfc2315.signedData
    assert bytes(ours["content"]) == bytes(theirs["content"])
    order = [ca.cert, ca.server_cert]
    got = certsonly.certificates(der)
    assert (got == order) if chain_order else (sorted(c.serial_number for c in got) == sorted(c.serial_number for c in order))


def test_reading_a_certs_only_reply_loads_no_pyasn1_modules() -> None:
    ca = LabCA.shipped()
    der = pkcs7_der([ca.cert, ca.server_cert], chain_order=True)
    code = ("import sys; from fortishell.est import certsonly; "
            "got = certsonly.certificates(bytes.fromhex(sys.stdin.read())); assert len(got) == 2, got; "
            "print(sorted(m for m in sys.modules if m.startswith('pyasn1_modules')))")
    out = subprocess.run([sys.executable, "-c", code], input=der.hex(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


def test_not_signed_data_is_refused() -> None:
    from pyasn1.codec.der import encoder
    from pyasn1.type import univ

    info = certsonly.ContentInfo()
    info["contentType"] = univ.ObjectIdentifier("1.2.840.113549.1.7.1")  # data
    with pytest.raises(certsonly.PkiError, match="not a PKCS#7 certs-only"):
        certsonly.certificates(encoder.encode(info))
