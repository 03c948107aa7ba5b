"""SCEP pkiMessages (RFC 8894 §3): the signed and enveloped PKCS#7 of requests and replies, both ways.

A pkiMessage is a CMS SignedData (RFC 5652) whose signed attributes carry the
SCEP fields (messageType, transactionID, senderNonce, and in a CertRep
pkiStatus, failInfo and recipientNonce) and whose content, when there is one,
is an EnvelopedData encrypted to the other side's RSA certificate.  This
module builds and reads both, for the client (``scep/flows.py``) and for the lab
responder (``lab/scepapp.py``): pyasn1-modules gives the structures (rfc5652,
rfc5280), pyasn1's DER encoder the bytes, cryptography the keys, signatures and
ciphers.  Nothing here touches a socket, a clock or the CMDB.

Reading is liberal where real servers differ and strict where trust is at
stake:

* a reply may be BER (the Go reference server writes indefinite lengths and
  constructed OCTET STRINGs) and its envelope may use AES-128/192/256-CBC,
  3DES or single DES (what that server sends);
* the signature over the signed attributes is always verified, against the
  certificate the caller expects (:func:`parse_with`) or, for a responder
  reading a request, the one the message carries (:func:`parse`); the
  messageDigest attribute must match the content when there is one.

Every failure is a :class:`ScepMessageError` with a one-line reason.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.x509.oid import AttributeOID, NameOID
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import char, univ
from pyasn1_modules import rfc5280, rfc5652


class MessageType(IntEnum):
    CERT_REP = 3
    RENEWAL_REQ = 17
    PKCS_REQ = 19
    CERT_POLL = 20  # GetCertInitial in the drafts
    GET_CERT = 21
    GET_CRL = 22


class PkiStatus(IntEnum):
    SUCCESS = 0
    FAILURE = 2
    PENDING = 3


class FailInfo(IntEnum):
    BAD_ALG = 0
    BAD_MESSAGE_CHECK = 1
    BAD_REQUEST = 2
    BAD_TIME = 3
    BAD_CERT_ID = 4


FAIL_INFO_NAMES = {FailInfo.BAD_ALG: "badAlg", FailInfo.BAD_MESSAGE_CHECK: "badMessageCheck",
                   FailInfo.BAD_REQUEST: "badRequest", FailInfo.BAD_TIME: "badTime",
                   FailInfo.BAD_CERT_ID: "badCertId"}

# RFC 8894 §3.2.1: id-VeriSign pki attributes
_SCEP = "2.16.840.1.113733.1.9."
OID_MESSAGE_TYPE = univ.ObjectIdentifier(_SCEP + "2")
OID_PKI_STATUS = univ.ObjectIdentifier(_SCEP + "3")
OID_FAIL_INFO = univ.ObjectIdentifier(_SCEP + "4")
OID_SENDER_NONCE = univ.ObjectIdentifier(_SCEP + "5")
OID_RECIPIENT_NONCE = univ.ObjectIdentifier(_SCEP + "6")
OID_TRANSACTION_ID = univ.ObjectIdentifier(_SCEP + "7")
OID_RSA = univ.ObjectIdentifier("1.2.840.113549.1.1.1")

_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "1.3.14.3.2.26": hashes.SHA1, "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384, "2.16.840.1.101.3.4.2.3": hashes.SHA512,
    "1.2.840.113549.2.5": hashes.MD5,
}
_DIGEST_OIDS = {"sha1": "1.3.14.3.2.26", "sha256": "2.16.840.1.101.3.4.2.1", "sha384": "2.16.840.1.101.3.4.2.2",
                "sha512": "2.16.840.1.101.3.4.2.3", "md5": "1.2.840.113549.2.5"}


class Cipher(Enum):
    """Content-encryption algorithms of an envelope: (OID, key size, block cipher)."""

    AES128 = ("2.16.840.1.101.3.4.1.2", 16)
    AES192 = ("2.16.840.1.101.3.4.1.22", 24)
    AES256 = ("2.16.840.1.101.3.4.1.42", 32)
    DES3 = ("1.2.840.113549.3.7", 24)
    DES = ("1.3.14.3.2.7", 8)

    @property
    def oid(self) -> str:
        return self.value[0]

    @property
    def key_size(self) -> int:
        return self.value[1]

    def algorithm(self, key: bytes) -> algorithms.AES | TripleDES:
        if self.name.startswith("AES"):
            return algorithms.AES(key)
        return TripleDES(key * 3 if len(key) == 8 else key)  # single DES is 3DES with K1 = K2 = K3

    @classmethod
    def by_oid(cls, oid: str) -> "Cipher":
        for cipher in cls:
            if cipher.oid == oid:
                return cipher
        raise ScepMessageError(f"unsupported content encryption algorithm {oid}")


class ScepMessageError(ValueError):
    """A pkiMessage that cannot be built or read; ``str()`` is one line."""


@dataclass(frozen=True)
class Built:
    """A pkiMessage ready to send, with the sizes the device's trace reports."""

    der: bytes
    payload_size: int
    envelope_size: int


@dataclass(frozen=True)
class PkiMessage:
    """A read pkiMessage whose signature was verified with ``signer``."""

    message_type: MessageType
    transaction_id: str
    sender_nonce: bytes
    recipient_nonce: bytes | None
    status: PkiStatus | None
    fail_info: FailInfo | None
    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    enveloped: bytes | None  # DER ContentInfo(EnvelopedData), still encrypted


# ------------------------------------------------------------------ small helpers
def new_nonce() -> bytes:
    return os.urandom(16)


def transaction_id_for(public_key: rsa.RSAPublicKey) -> str:
    """The transaction ID: a hash of the request's public key (RFC 8894 §3.2.1.1.1), as 32 hex
    digits (the device's trace prints that many: an MD5 over the SubjectPublicKeyInfo, as sscep)."""
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.MD5())
    digest.update(spki)
    return digest.finalize().hex().upper()


def self_signed(key: rsa.RSAPrivateKey, subject: x509.Name, now: _dt.datetime) -> x509.Certificate:
    """The requester's transient signer certificate (RFC 8894 §2.3): self-signed, its CSR's subject."""
    name = subject if len(subject) else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SCEP client")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5)).not_valid_after(now + _dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))


def challenge_password(csr: x509.CertificateSigningRequest) -> str | None:
    """The CSR's challengePassword attribute, if it has one."""
    try:
        value = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
    except x509.AttributeNotFound:
        return None
    return value.decode("utf-8", "replace")


def _decode(data: bytes, spec: univ.Asn1Item, what: str) -> univ.Asn1Item:
    try:
        value, rest = ber_decoder.decode(data, asn1Spec=spec)
    except PyAsn1Error as exc:
        raise ScepMessageError(f"{what} is not valid ASN.1 ({_short(exc)})") from None
    if rest and rest.strip(b"\x00"):
        raise ScepMessageError(f"{what} has trailing data")
    return value


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:80]


def _name(name: x509.Name) -> rfc5280.Name:
    return der_decoder.decode(name.public_bytes(), asn1Spec=rfc5280.Name())[0]


def _issuer_and_serial(cert: x509.Certificate) -> rfc5652.IssuerAndSerialNumber:
    ias = rfc5652.IssuerAndSerialNumber()
    ias["issuer"] = _name(cert.issuer)
    ias["serialNumber"] = cert.serial_number
    return ias


def _matches(ias: univ.Asn1Item, cert: x509.Certificate) -> bool:
    try:
        return (int(ias["serialNumber"]) == cert.serial_number
                and der_encoder.encode(ias["issuer"]) == cert.issuer.public_bytes())
    except (PyAsn1Error, ValueError):
        return False


def _algorithm(oid: str, params: univ.Asn1Item | None = None) -> rfc5280.AlgorithmIdentifier:
    alg = rfc5280.AlgorithmIdentifier()
    alg["algorithm"] = univ.ObjectIdentifier(oid)
    if params is not None:
        alg["parameters"] = univ.Any(der_encoder.encode(params))
    return alg


def _attribute(oid: univ.ObjectIdentifier, value: univ.Asn1Item) -> rfc5652.Attribute:
    attr = rfc5652.Attribute()
    attr["attrType"] = oid
    attr["attrValues"].append(univ.Any(der_encoder.encode(value)))
    return attr


def _certificate(cert: x509.Certificate) -> rfc5652.CertificateChoices:
    choice = rfc5652.CertificateChoices()
    choice["certificate"] = der_decoder.decode(cert.public_bytes(serialization.Encoding.DER),
                                               asn1Spec=rfc5280.Certificate())[0]
    return choice


def _content_info(content_type: univ.ObjectIdentifier, content: univ.Asn1Item) -> bytes:
    info = rfc5652.ContentInfo()
    info["contentType"] = content_type
    info["content"] = univ.Any(der_encoder.encode(content))
    return bytes(der_encoder.encode(info))


# ------------------------------------------------------------------ envelopes
def envelope(payload: bytes, recipient: x509.Certificate, cipher: Cipher = Cipher.AES128) -> bytes:
    """``payload`` encrypted to ``recipient`` (RSA key transport): DER ContentInfo(EnvelopedData)."""
    public = recipient.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise ScepMessageError("the recipient certificate has no RSA key")
    key, iv = os.urandom(cipher.key_size), os.urandom(16 if cipher.name.startswith("AES") else 8)
    padder = padding.PKCS7(128 if cipher.name.startswith("AES") else 64).padder()
    encryptor = _Cipher(cipher.algorithm(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padder.update(payload) + padder.finalize()) + encryptor.finalize()

    ktri = rfc5652.KeyTransRecipientInfo()
    ktri["version"] = 0
    ktri["rid"]["issuerAndSerialNumber"] = _issuer_and_serial(recipient)
    ktri["keyEncryptionAlgorithm"] = _algorithm(str(OID_RSA), univ.Null(""))
    ktri["encryptedKey"] = public.encrypt(key, asym_padding.PKCS1v15())
    info = rfc5652.RecipientInfo()
    info["ktri"] = ktri

    enveloped = rfc5652.EnvelopedData()
    enveloped["version"] = 0
    enveloped["recipientInfos"].append(info)
    eci = enveloped["encryptedContentInfo"]
    eci["contentType"] = rfc5652.id_data
    eci["contentEncryptionAlgorithm"] = _algorithm(cipher.oid, univ.OctetString(iv))
    eci["encryptedContent"] = encrypted
    return _content_info(rfc5652.id_envelopedData, enveloped)


def decrypt(enveloped: bytes, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    """The payload of an envelope addressed to ``cert`` (BER accepted; AES, 3DES or DES)."""
    info = _decode(enveloped, rfc5652.ContentInfo(), "the envelope")
    if info["contentType"] != rfc5652.id_envelopedData:
        raise ScepMessageError("the message content is not an enveloped PKCS#7")
    data = _decode(bytes(info["content"]), rfc5652.EnvelopedData(), "the envelope")
    infos = [ri["ktri"] for ri in data["recipientInfos"] if ri.getName() == "ktri"]
    chosen = [k for k in infos if k["rid"].getName() == "issuerAndSerialNumber"
              and _matches(k["rid"]["issuerAndSerialNumber"], cert)]
    if not chosen:
        raise ScepMessageError("the envelope is not addressed to this certificate")
    try:
        content_key = key.decrypt(bytes(chosen[0]["encryptedKey"]), asym_padding.PKCS1v15())
    except ValueError:
        raise ScepMessageError("the envelope's key cannot be decrypted") from None
    eci = data["encryptedContentInfo"]
    cipher = Cipher.by_oid(str(eci["contentEncryptionAlgorithm"]["algorithm"]))
    if len(content_key) != cipher.key_size or not eci["encryptedContent"].isValue:
        raise ScepMessageError("the envelope is truncated or damaged")
    iv = bytes(_decode(bytes(eci["contentEncryptionAlgorithm"]["parameters"]), univ.OctetString(), "the IV"))
    block = 128 if cipher.name.startswith("AES") else 64
    try:
        decryptor = _Cipher(cipher.algorithm(content_key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(bytes(eci["encryptedContent"])) + decryptor.finalize()
        unpadder = padding.PKCS7(block).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise ScepMessageError("the envelope is truncated or damaged") from None


# ------------------------------------------------------------------ signed messages
def build(message_type: MessageType, transaction_id: str, sender_nonce: bytes, payload: bytes | None, *,
          signer_cert: x509.Certificate, signer_key: rsa.RSAPrivateKey, recipient: x509.Certificate | None,
          cipher: Cipher = Cipher.AES128, recipient_nonce: bytes | None = None, status: PkiStatus | None = None,
          fail_info: FailInfo | None = None, extra_certs: Sequence[x509.Certificate] = (),
          digest: hashes.HashAlgorithm | None = None, enveloped: bytes | None = None) -> Built:
    """A signed pkiMessage; ``payload`` (when given) is enveloped to ``recipient`` first
    (``enveloped``: an envelope made already, signed as it is)."""
    algorithm = digest or hashes.SHA256()
    if enveloped is not None:
        content: bytes | None = enveloped
    elif payload is not None:
        if recipient is None:
            raise ScepMessageError("an enveloped payload needs a recipient certificate")
        content = envelope(payload, recipient, cipher)
    else:
        content = None

    attrs = [
        _attribute(rfc5652.id_contentType, rfc5652.id_data),
        _attribute(OID_MESSAGE_TYPE, char.PrintableString(str(int(message_type)))),
        _attribute(OID_TRANSACTION_ID, char.PrintableString(transaction_id)),
        _attribute(OID_SENDER_NONCE, univ.OctetString(sender_nonce)),
    ]
    if recipient_nonce is not None:
        attrs.append(_attribute(OID_RECIPIENT_NONCE, univ.OctetString(recipient_nonce)))
    if status is not None:
        attrs.append(_attribute(OID_PKI_STATUS, char.PrintableString(str(int(status)))))
    if fail_info is not None:
        attrs.append(_attribute(OID_FAIL_INFO, char.PrintableString(str(int(fail_info)))))
    hasher = hashes.Hash(algorithm)
    hasher.update(content or b"")
    attrs.append(_attribute(rfc5652.id_messageDigest, univ.OctetString(hasher.finalize())))

    signer = rfc5652.SignerInfo()
    signer["version"] = 1
    signer["sid"]["issuerAndSerialNumber"] = _issuer_and_serial(signer_cert)
    signer["digestAlgorithm"] = _algorithm(_DIGEST_OIDS[algorithm.name], univ.Null(""))
    for attr in attrs:
        signer["signedAttrs"].append(attr)
    to_sign = der_encoder.encode(_as_set(signer["signedAttrs"]))
    signature = signer_key.sign(to_sign, asym_padding.PKCS1v15(), algorithm)
    signer["signatureAlgorithm"] = _algorithm(str(OID_RSA), univ.Null(""))
    signer["signature"] = signature

    signed = rfc5652.SignedData()
    signed["version"] = 1
    signed["digestAlgorithms"].append(_algorithm(_DIGEST_OIDS[algorithm.name], univ.Null("")))
    signed["encapContentInfo"]["eContentType"] = rfc5652.id_data
    if content is not None:
        signed["encapContentInfo"]["eContent"] = content
    for cert in (signer_cert, *extra_certs):
        signed["certificates"].append(_certificate(cert))
    signed["signerInfos"].append(signer)
    der = _content_info(rfc5652.id_signedData, signed)
    return Built(der, len(payload or b""), len(content or b""))


def _as_set(signed_attrs: univ.Asn1Item) -> univ.SetOf:
    """The signed attributes as the plain ``SET OF`` the signature covers (RFC 5652 §5.4)."""
    plain = univ.SetOf(componentType=rfc5652.Attribute())
    for attr in signed_attrs:
        plain.append(attr)
    return plain


def parse(der: bytes) -> PkiMessage:
    """Read a pkiMessage signed by a certificate it carries (a responder reading a request)."""
    return _parse(der, None)


def parse_with(der: bytes, signers: Sequence[x509.Certificate]) -> PkiMessage:
    """Read a pkiMessage that must be signed by one of ``signers`` (a client reading a CertRep)."""
    return _parse(der, tuple(signers))


def _parse(der: bytes, signers: tuple[x509.Certificate, ...] | None) -> PkiMessage:
    info = _decode(der, rfc5652.ContentInfo(), "the reply")
    if info["contentType"] != rfc5652.id_signedData:
        raise ScepMessageError("the message is not a signed PKCS#7")
    signed = _decode(bytes(info["content"]), rfc5652.SignedData(), "the signed PKCS#7")
    carried = _carried_certificates(signed)
    if len(signed["signerInfos"]) != 1:
        raise ScepMessageError("the message must have exactly one signer")
    signer_info = signed["signerInfos"][0]
    sid = signer_info["sid"]
    pool = signers if signers is not None else carried
    if sid.getName() != "issuerAndSerialNumber":
        raise ScepMessageError("the signer is not named by issuer and serial number")
    found = [c for c in pool if _matches(sid["issuerAndSerialNumber"], c)]
    if not found:
        raise ScepMessageError("the message is signed by an unexpected certificate" if signers is not None
                               else "the message does not carry its signer's certificate")
    signer = found[0]
    econtent = signed["encapContentInfo"]["eContent"]
    content = bytes(econtent) if econtent.isValue else None
    attrs = _verify(signer_info, signer, content)
    return _fields(attrs, signer, carried, content)


def _carried_certificates(signed: univ.Asn1Item) -> tuple[x509.Certificate, ...]:
    certs = []
    if signed["certificates"].isValue:
        for choice in signed["certificates"]:
            if choice.getName() == "certificate":
                try:
                    certs.append(x509.load_der_x509_certificate(der_encoder.encode(choice["certificate"])))
                except ValueError:
                    raise ScepMessageError("the message carries a damaged certificate") from None
    return tuple(certs)


def _verify(signer_info: univ.Asn1Item, signer: x509.Certificate, content: bytes | None) -> dict[str, bytes]:
    """Check the signature over the signed attributes; returns them by OID (DER of the first value)."""
    if not signer_info["signedAttrs"].isValue:
        raise ScepMessageError("the message has no signed attributes")
    oid = str(signer_info["digestAlgorithm"]["algorithm"])
    if oid not in _DIGESTS:
        raise ScepMessageError(f"unsupported digest algorithm {oid}")
    algorithm = _DIGESTS[oid]()
    public = signer.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise ScepMessageError("the signer's certificate has no RSA key")
    try:
        to_sign = der_encoder.encode(_as_set(signer_info["signedAttrs"]))
        public.verify(bytes(signer_info["signature"]), to_sign, asym_padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise ScepMessageError("the message signature does not verify") from None
    except PyAsn1Error as exc:
        raise ScepMessageError(f"the signed attributes are damaged ({_short(exc)})") from None
    attrs: dict[str, bytes] = {}
    for attr in signer_info["signedAttrs"]:
        if len(attr["attrValues"]):
            attrs[str(attr["attrType"])] = bytes(attr["attrValues"][0])
    if content is not None:
        digest = attrs.get(str(rfc5652.id_messageDigest))
        hasher = hashes.Hash(algorithm)
        hasher.update(content)
        if digest is None or bytes(_decode(digest, univ.OctetString(), "messageDigest")) != hasher.finalize():
            raise ScepMessageError("the message digest does not match its content")
    return attrs


def _string(attrs: dict[str, bytes], oid: univ.ObjectIdentifier) -> str | None:
    raw = attrs.get(str(oid))
    if raw is None:
        return None
    try:
        value, _ = ber_decoder.decode(raw)
        return str(value)
    except PyAsn1Error:
        raise ScepMessageError(f"attribute {oid} is damaged") from None


def _octets(attrs: dict[str, bytes], oid: univ.ObjectIdentifier) -> bytes | None:
    raw = attrs.get(str(oid))
    return None if raw is None else bytes(_decode(raw, univ.OctetString(), f"attribute {oid}"))


def _fields(attrs: dict[str, bytes], signer: x509.Certificate, carried: tuple[x509.Certificate, ...],
            content: bytes | None) -> PkiMessage:
    kind, tid = _string(attrs, OID_MESSAGE_TYPE), _string(attrs, OID_TRANSACTION_ID)
    nonce = _octets(attrs, OID_SENDER_NONCE)
    if kind is None or tid is None or nonce is None:
        raise ScepMessageError("the message lacks messageType, transactionID or senderNonce")
    status_text, fail_text = _string(attrs, OID_PKI_STATUS), _string(attrs, OID_FAIL_INFO)
    try:
        message_type = MessageType(int(kind))
        status = PkiStatus(int(status_text)) if status_text is not None else None
        fail_info = FailInfo(int(fail_text)) if fail_text else None
    except ValueError:
        raise ScepMessageError(f"unknown message type or status ({kind}, {status_text}, {fail_text})") from None
    if message_type == MessageType.CERT_REP and status is None:
        raise ScepMessageError("the CertRep has no pkiStatus")
    return PkiMessage(message_type, tid, nonce, _octets(attrs, OID_RECIPIENT_NONCE), status, fail_info,
                      signer, carried, content)


# ------------------------------------------------------------------ payloads
def issuer_and_subject(issuer: x509.Name, subject: x509.Name) -> bytes:
    """A CertPoll payload: ``IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name }``."""
    seq = univ.Sequence()
    seq.setComponentByPosition(0, _name(issuer), verifyConstraints=False, matchTags=False, matchConstraints=False)
    seq.setComponentByPosition(1, _name(subject), verifyConstraints=False, matchTags=False, matchConstraints=False)
    return bytes(der_encoder.encode(seq))


def parse_issuer_and_subject(der: bytes) -> tuple[x509.Name, x509.Name]:
    seq = _decode(der, univ.Sequence(), "the IssuerAndSubject payload")
    try:
        if len(seq) != 2:
            raise IndexError(len(seq))
        return _load_name(der_encoder.encode(seq[0])), _load_name(der_encoder.encode(seq[1]))
    except (PyAsn1Error, IndexError, ValueError):
        raise ScepMessageError("the IssuerAndSubject payload is damaged") from None


def _load_name(der: bytes) -> x509.Name:
    """A DER Name as cryptography's :class:`x509.Name` (attribute types and values; compare names
    with ``rfc4514_string()``: string types are not kept)."""
    name = der_decoder.decode(der, asn1Spec=rfc5280.Name())[0]
    rdns = []
    for rdn in name["rdnSequence"]:
        atvs = []
        for atv in rdn:
            value, _ = ber_decoder.decode(bytes(atv["value"]))
            atvs.append(x509.NameAttribute(x509.ObjectIdentifier(str(atv["type"])), str(value)))
        rdns.append(x509.RelativeDistinguishedName(atvs))
    return x509.Name(rdns)


def certs_only(certs: Sequence[x509.Certificate]) -> bytes:
    """A degenerate SignedData carrying ``certs`` (a CertRep's content, a CA+RA GetCACert reply)."""
    signed = rfc5652.SignedData()
    signed["version"] = 1
    signed["digestAlgorithms"].clear()
    signed["encapContentInfo"]["eContentType"] = rfc5652.id_data
    for cert in certs:
        signed["certificates"].append(_certificate(cert))
    signed["signerInfos"].clear()
    return _content_info(rfc5652.id_signedData, signed)
