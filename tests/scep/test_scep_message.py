"""The pkiMessage layer both ways: what one side builds the other reads, and what an attacker
changes is refused (scep/message.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AttributeOID, NameOID

from fortishell.est import certsonly
from fortishell.scep import message as m

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass(frozen=True)
class Parties:
    client_key: rsa.RSAPrivateKey
    client: x509.Certificate
    ra_key: rsa.RSAPrivateKey
    ra: x509.Certificate
    other_key: rsa.RSAPrivateKey
    other: x509.Certificate
    csr: x509.CertificateSigningRequest


@pytest.fixture(scope="module")
def parties() -> Parties:
    client_key = rsa.generate_private_key(65537, 2048)
    ra_key = rsa.generate_private_key(65537, 2048)
    other_key = rsa.generate_private_key(65537, 2048)
    csr = (x509.CertificateSigningRequestBuilder().subject_name(_name("dev1"))
           .add_attribute(AttributeOID.CHALLENGE_PASSWORD, b"s3cret").sign(client_key, hashes.SHA256()))
    return Parties(client_key, m.self_signed(client_key, _name("dev1"), NOW), ra_key,
                   m.self_signed(ra_key, _name("RA"), NOW), other_key, m.self_signed(other_key, _name("other"), NOW),
                   csr)


def _request(p: Parties, cipher: m.Cipher = m.Cipher.AES128) -> tuple[m.Built, str, bytes]:
    csr = p.csr
    tid, nonce = m.transaction_id_for(p.client_key.public_key()), m.new_nonce()
    built = m.build(m.MessageType.PKCS_REQ, tid, nonce, csr.public_bytes(serialization.Encoding.DER),
                    signer_cert=p.client, signer_key=p.client_key, recipient=p.ra,
                    cipher=cipher)
    return built, tid, nonce


@pytest.mark.parametrize("cipher", list(m.Cipher))
def test_request_round_trip_with_every_cipher(parties: Parties, cipher: m.Cipher) -> None:
    built, tid, nonce = _request(parties, cipher)
    msg = m.parse(built.der)
    assert (msg.message_type, msg.transaction_id, msg.sender_nonce) == (m.MessageType.PKCS_REQ, tid, nonce)
    assert msg.signer == parties.client and msg.status is None and msg.enveloped is not None
    csr = x509.load_der_x509_csr(m.decrypt(msg.enveloped, parties.ra, parties.ra_key))
    assert m.challenge_password(csr) == "s3cret"
    assert built.payload_size == len(csr.public_bytes(serialization.Encoding.DER))
    assert built.envelope_size > built.payload_size


def test_transaction_id_is_32_hex_digits_of_the_key(parties: Parties) -> None:
    tid = m.transaction_id_for(parties.client_key.public_key())
    assert len(tid) == 32 and int(tid, 16) >= 0
    assert tid == m.transaction_id_for(parties.client_key.public_key())
    assert tid != m.transaction_id_for(parties.ra_key.public_key())


def test_success_reply_carries_the_certificate_to_the_requester(parties: Parties) -> None:
    nonce = m.new_nonce()
    reply = m.build(m.MessageType.CERT_REP, "T1", m.new_nonce(), m.certs_only([parties.client]),
                    signer_cert=parties.ra, signer_key=parties.ra_key, recipient=parties.client,
                    recipient_nonce=nonce, status=m.PkiStatus.SUCCESS)
    msg = m.parse_with(reply.der, [parties.ra])
    assert msg.status == m.PkiStatus.SUCCESS and msg.recipient_nonce == nonce and msg.fail_info is None
    inner = m.decrypt(msg.enveloped or b"", parties.client, parties.client_key)
    assert certsonly.certificates(inner) == [parties.client]


def test_failure_reply_has_no_content_and_names_the_reason(parties: Parties) -> None:
    reply = m.build(m.MessageType.CERT_REP, "T1", m.new_nonce(), None, signer_cert=parties.ra,
                    signer_key=parties.ra_key, recipient=None, recipient_nonce=b"n" * 16,
                    status=m.PkiStatus.FAILURE, fail_info=m.FailInfo.BAD_REQUEST)
    msg = m.parse_with(reply.der, [parties.ra])
    assert (msg.status, msg.fail_info, msg.enveloped) == (m.PkiStatus.FAILURE, m.FailInfo.BAD_REQUEST, None)
    assert m.FAIL_INFO_NAMES[m.FailInfo.BAD_REQUEST] == "badRequest"


def test_a_reply_signed_by_someone_else_is_refused(parties: Parties) -> None:
    reply = m.build(m.MessageType.CERT_REP, "T1", m.new_nonce(), None, signer_cert=parties.other,
                    signer_key=parties.other_key, recipient=None, status=m.PkiStatus.PENDING)
    with pytest.raises(m.ScepMessageError, match="unexpected certificate"):
        m.parse_with(reply.der, [parties.ra])


def test_a_forged_signature_is_refused(parties: Parties) -> None:
    """A signer claiming the RA's name and serial but signing with another key."""
    reply = m.build(m.MessageType.CERT_REP, "T1", m.new_nonce(), None, signer_cert=parties.ra,
                    signer_key=parties.other_key, recipient=None, status=m.PkiStatus.SUCCESS)
    with pytest.raises(m.ScepMessageError, match="signature does not verify"):
        m.parse_with(reply.der, [parties.ra])


def test_changed_content_breaks_the_message_digest(parties: Parties) -> None:
    built, _, _ = _request(parties)
    msg = m.parse(built.der)
    assert msg.enveloped is not None
    tampered = built.der.replace(msg.enveloped[-40:], bytes(40))
    with pytest.raises(m.ScepMessageError, match="digest does not match"):
        m.parse(tampered)


@pytest.mark.parametrize("cut", [10, 200, 700])
def test_truncated_messages_and_envelopes_are_errors_not_crashes(parties: Parties, cut: int) -> None:
    built, _, _ = _request(parties)
    with pytest.raises(m.ScepMessageError):
        m.parse(built.der[:cut])
    enveloped = m.parse(built.der).enveloped or b""
    with pytest.raises(m.ScepMessageError):
        m.decrypt(enveloped[:cut], parties.ra, parties.ra_key)


def test_an_envelope_for_another_recipient_is_refused(parties: Parties) -> None:
    built, _, _ = _request(parties)
    with pytest.raises(m.ScepMessageError, match="not addressed"):
        m.decrypt(m.parse(built.der).enveloped or b"", parties.other, parties.other_key)


@pytest.mark.parametrize("junk", [b"", b"<html><body>404</body></html>", b"\x30\x03\x02\x01\x01"])
def test_junk_is_an_error(junk: bytes) -> None:
    with pytest.raises(m.ScepMessageError):
        m.parse(junk)


def test_issuer_and_subject_round_trip() -> None:
    payload = m.issuer_and_subject(_name("Lab CA"), _name("dev1"))
    issuer, subject = m.parse_issuer_and_subject(payload)
    assert issuer.rfc4514_string() == "CN=Lab CA" and subject.rfc4514_string() == "CN=dev1"
    with pytest.raises(m.ScepMessageError):
        m.parse_issuer_and_subject(payload[:-3])
