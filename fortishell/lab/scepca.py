"""Who answers SCEP in the lab: an RSA registration authority, or an RSA issuing CA.

The lab root (``CN=estExampleCA``, :class:`~fortishell.lab.ca.LabCA`) has an EC
key, and SCEP moves the request's content-encryption key with RSA and signs
CertReps with the key whose certificate GetCACert handed out.  So by default the
responder is a CA+RA: an RSA-2048 RA certificate ``CN=estExampleCA SCEP RA``
issued by the lab root (keyEncipherment + digitalSignature) decrypts requests and
signs replies, and the lab root issues (``LabCA.issue``, the EST profile, the lab
serial counter).  GetCACert answers ``application/x-x509-ca-ra-cert``: a
certs-only PKCS#7 of [RA, lab root].

The single-CA knob (``lab-server --scep-single-ca``) makes an RSA issuing CA
``CN=estExampleSCEPCA``, signed by the lab root (pathlen 0; keyCertSign, cRLSign,
digitalSignature, keyEncipherment), answer by itself: GetCACert is its DER as
``application/x-x509-ca-cert``, and it issues (same profile).  Certificates it
issues chain to the lab root through it; ``lab-ca revoke`` puts their serials in
the lab root's CRL like any other (the lab has one CRL).

The keys are kept in ``<lab state>/scep/`` (``ra.pem`` + ``ra.key``,
``subca.pem`` + ``subca.key``, keys mode 0600) so a restart answers with the same
certificates; one made for another lab CA (``lab-server --new-ca``) is replaced.
Creation takes ``keys.lock`` (two processes starting at once make one pair); the
key is written before the certificate, and the certificate is what says the pair
exists.  Without a state directory they are made in memory, once per lab CA and process (every
lab network without a state directory, in tests above all, shares them: RSA key generation is
the slow part of starting the responder).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ..errors import LabError
from .ca import CA_NOT_AFTER, CA_NOT_BEFORE, LabCA
from .scepstore import SUBDIR
from .state import _atomic_write

try:  # POSIX advisory locks; elsewhere the thread lock alone is used
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

RA_NAME = "estExampleCA SCEP RA"
SUBCA_NAME = "estExampleSCEPCA"
KEY_BITS = 2048
_LOCK = threading.Lock()
_MEMORY: dict[tuple[bytes, bool], tuple[x509.Certificate, rsa.RSAPrivateKey]] = {}


@dataclass(frozen=True)
class ScepIdentity:
    """The certificate and RSA key that decrypt requests and sign CertReps, and what
    GetCACert hands out (``chain``, first the one whose key answers)."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...]
    single_ca: bool

    @property
    def content_type(self) -> str:
        return "application/x-x509-ca-cert" if self.single_ca else "application/x-x509-ca-ra-cert"


def identity(ca: LabCA, lab_dir: Path | None, *, single_ca: bool) -> ScepIdentity:
    """The RA (default) or the issuing sub-CA of ``ca``, loaded from ``lab_dir`` or made there."""
    stem = "subca" if single_ca else "ra"
    directory = Path(lab_dir) / SUBDIR if lab_dir is not None else None
    with _LOCK:
        pair = _load(directory, stem, ca) if directory is not None else None
        if pair is None:
            pair = _make(directory, stem, ca, single_ca)
    cert, key = pair
    return ScepIdentity(cert, key, (cert,) if single_ca else (cert, ca.cert), single_ca)


def _load(directory: Path, stem: str, ca: LabCA) -> tuple[x509.Certificate, rsa.RSAPrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate((directory / f"{stem}.pem").read_bytes())
        # our own file, written by _make: the slow RSA consistency check once per load is not needed
        key = serialization.load_pem_private_key((directory / f"{stem}.key").read_bytes(), None,
                                                 unsafe_skip_rsa_key_validation=True)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LabError(f"SCEP {stem} material in {directory} is damaged: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.public_key() != cert.public_key():
        raise LabError(f"SCEP {stem} material in {directory} is damaged: the key is not the certificate's")
    if not ca.chains_to_me(cert):
        return None  # made for another lab CA (--new-ca since): replaced
    return cert, key


def _make(directory: Path | None, stem: str, ca: LabCA,
          single_ca: bool) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    if directory is None:
        made = _MEMORY.get((ca.cert.fingerprint(hashes.SHA256()), single_ca))
        if made is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
            made = _MEMORY[(ca.cert.fingerprint(hashes.SHA256()), single_ca)] = _certificate(ca, key, single_ca), key
        return made
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / "keys.lock", "a+") as lockf:
            if fcntl is not None:
                fcntl.flock(lockf.fileno(), fcntl.LOCK_EX)
            pair = _load(directory, stem, ca)  # another process may have made it meanwhile
            if pair is not None:
                return pair
            key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
            cert = _certificate(ca, key, single_ca)
            key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode("ascii")
            _atomic_write(directory / f"{stem}.key", key_pem)  # mkstemp: mode 0600
            _atomic_write(directory / f"{stem}.pem", cert.public_bytes(serialization.Encoding.PEM).decode("ascii"))
            return cert, key
    except OSError as exc:
        raise LabError(f"Cannot keep the SCEP {stem} in {directory}: {exc.strerror or exc}") from None


def _certificate(ca: LabCA, key: rsa.RSAPrivateKey, single_ca: bool) -> x509.Certificate:
    name = SUBCA_NAME if single_ca else RA_NAME
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(CA_NOT_BEFORE)
        .not_valid_after(CA_NOT_AFTER)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(ca.ski, None, None), critical=False)
    )
    if single_ca:
        builder = (builder
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(True, False, True, False, False, True, True, False, False),
                                  critical=True))
    else:
        builder = (builder
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                                  critical=True))
    return builder.sign(ca.key, hashes.SHA256())


def sign_leaf(builder: x509.CertificateBuilder, ident: ScepIdentity) -> x509.Certificate:
    """Sign an end-entity builder (``ca.leaf_builder``) with the single-CA identity's key."""
    return builder.sign(ident.key, hashes.SHA256())
