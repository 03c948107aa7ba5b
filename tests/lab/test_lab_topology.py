"""The PKI topology knobs of the lab responder, set through the loopback admin endpoint (real TLS)."""

from __future__ import annotations

import base64
import json
import ssl
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from labkit import basic, client_context, csr_b64, enroll_headers, make_csr, raw_request

from fortishell.lab import cli
from fortishell.lab.habits import pkcs7_der
from fortishell.lab.topology import EVIL_TWIN, ROGUE_ROOT, SUB_CA, TLS_ROOT

EST = "/.well-known/est/"


def admin(responder, ctx: ssl.SSLContext, knobs: dict) -> dict:
    reply = raw_request(responder.port, ctx, "POST", "/.lab/faults", body=json.dumps(knobs).encode(),
                        headers={"Content-Type": "application/json"})
    assert reply.status == 200, reply.body
    return json.loads(reply.body)


def certs_in_order(body: bytes) -> list[x509.Certificate]:
    """The certificates of a reply in the order sent (BER: cryptography warns, as item 4 says)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pkcs7.load_der_pkcs7_certificates(base64.b64decode(b"".join(body.split())))


def subjects(certs: list[x509.Certificate]) -> list[str]:
    return [c.subject.rfc4514_string() for c in certs]


def test_default_topology_is_the_guides(responder, lab_ca) -> None:
    reply = raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts")
    der = pkcs7.serialize_certificates([lab_ca.cert], serialization.Encoding.DER)
    assert base64.b64decode(b"".join(reply.body.split())) == der
    assert pkcs7_der([lab_ca.cert], chain_order=True) == der  # one certificate: the same bytes either way


def test_issuing_intermediate(responder, lab_ca) -> None:
    ctx = client_context(lab_ca)
    assert admin(responder, ctx, {"issuing_intermediate": True})["issuing_intermediate"] is True
    cacerts = certs_in_order(raw_request(responder.port, ctx, "GET", EST + "cacerts").body)
    assert subjects(cacerts) == [f"CN={SUB_CA}", "CN=estExampleCA"]  # chain order, not DER order
    _, csr = make_csr("sub-issued")
    reply = raw_request(responder.port, ctx, "POST", EST + "simpleenroll", body=csr_b64(csr),
                        headers=enroll_headers(basic()))
    issued = certs_in_order(reply.body)
    assert len(issued) == 1 and issued[0].issuer.rfc4514_string() == f"CN={SUB_CA}"
    issued[0].verify_directly_issued_by(cacerts[0])


def test_tls_certificate_from_a_separate_root(responder, lab_ca) -> None:
    admin(responder, client_context(lab_ca), {"tls_separate_root": True})
    with pytest.raises(ssl.SSLCertVerificationError):
        raw_request(responder.port, client_context(lab_ca), "GET", EST + "cacerts")
    tls_root = responder.app.topology.ca(TLS_ROOT)
    ctx = ssl.create_default_context(cadata=tls_root.cert_pem)
    reply = raw_request(responder.port, ctx, "GET", EST + "cacerts")
    assert subjects(certs_in_order(reply.body)) == ["CN=estExampleCA"]  # the TLS root is not in cacerts


@pytest.mark.parametrize("knob, extra", [("rogue_root", [f"CN={ROGUE_ROOT}"]),
                                         ("evil_twin", [f"CN={EVIL_TWIN}", f"CN={EVIL_TWIN}"])])
def test_hostile_roots(responder, lab_ca, knob: str, extra: list[str]) -> None:
    ctx = client_context(lab_ca)
    admin(responder, ctx, {knob: True})
    cacerts = certs_in_order(raw_request(responder.port, ctx, "GET", EST + "cacerts").body)
    assert subjects(cacerts) == ["CN=estExampleCA", *extra]
    if knob == "evil_twin":
        r1, r2 = cacerts[1:]
        assert r1 != r2 and r1.public_key() == r2.public_key()
        r1.verify_directly_issued_by(r2)
        r2.verify_directly_issued_by(r1)
    _, csr = make_csr("hostile")
    reply = raw_request(responder.port, ctx, "POST", EST + "simpleenroll", body=csr_b64(csr),
                        headers=enroll_headers(basic()))
    issued = certs_in_order(reply.body)
    assert subjects(issued) == ["CN=hostile", *extra]  # issued by the hostile key, its roots sent along
    issued[0].verify_directly_issued_by(issued[1])


def test_lab_server_flags_have_help() -> None:
    text = " ".join(cli.build_parser().format_help().split())
    for flag in ("--issuing-intermediate", "--tls-separate-root", "--rogue-root", "--evil-twin"):
        assert flag in text
    assert "issue certificates from the intermediate CA CN=estExampleSubCA" in text
    assert "CN=Evil Twin roots with one key naming each other" in text
    args = cli.build_parser().parse_args(["--issuing-intermediate", "--evil-twin"])
    assert args.issuing_intermediate and args.evil_twin and not args.rogue_root
