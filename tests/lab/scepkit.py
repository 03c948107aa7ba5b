"""Helpers for the lab SCEP responder tests: a requester built on scep/message.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from fortishell.scep.message import (
    MessageType, PkiMessage, build, decrypt, issuer_and_subject, new_nonce, parse_with, self_signed,
    transaction_id_for,
)

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)


@lru_cache(maxsize=4)
def rsa_key(index: int = 0) -> rsa.RSAPrivateKey:
    """A few RSA keys shared by the tests (RSA generation is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def csr_for(key: rsa.RSAPrivateKey, cn: str = "student1", challenge: str | None = None,
            ) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if challenge is not None:
        builder = builder.add_attribute(x509.oid.AttributeOID.CHALLENGE_PASSWORD, challenge.encode())
    return builder.sign(key, hashes.SHA256())


@dataclass
class Requester:
    """One SCEP requester: its key, the signer certificate, the transaction id."""

    key: rsa.RSAPrivateKey
    signer: x509.Certificate
    txid: str
    nonce: bytes = b""

    @classmethod
    def new(cls, index: int = 0, cn: str = "student1") -> "Requester":
        key = rsa_key(index)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        return cls(key, self_signed(key, name, LAB_TIME), transaction_id_for(key.public_key()))

    def request(self, recipient: x509.Certificate, payload: bytes,
                message_type: MessageType = MessageType.PKCS_REQ) -> bytes:
        self.nonce = new_nonce()
        return build(message_type, self.txid, self.nonce, payload, signer_cert=self.signer, signer_key=self.key,
                     recipient=recipient).der

    def pkcsreq(self, recipient: x509.Certificate, challenge: str | None = "fortinet-lab", cn: str = "student1") -> bytes:
        return self.request(recipient, csr_der(csr_for(self.key, cn, challenge)))

    def poll(self, recipient: x509.Certificate, issuer: x509.Name) -> bytes:
        return self.request(recipient, issuer_and_subject(issuer, self.signer.subject), MessageType.CERT_POLL)

    def read(self, der: bytes, responder: x509.Certificate) -> PkiMessage:
        """The CertRep, checked: signed by ``responder``, our transaction, our nonce echoed."""
        rep = parse_with(der, [responder])
        assert rep.message_type == MessageType.CERT_REP
        assert rep.transaction_id == self.txid and rep.recipient_nonce == self.nonce
        return rep

    def certificate(self, rep: PkiMessage) -> x509.Certificate:
        assert rep.enveloped is not None
        certs = pkcs7.load_der_pkcs7_certificates(decrypt(rep.enveloped, self.signer, self.key))
        assert len(certs) == 1
        return certs[0]


def csr_der(csr: x509.CertificateSigningRequest) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return csr.public_bytes(serialization.Encoding.DER)
