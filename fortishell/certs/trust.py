"""Trust decisions, in one place: what a CA reply may add, what an issued certificate and a CRL
must chain to, which certificates may enter the CA store at all.

Every enrollment protocol (EST today; SCEP and ACME later) and every import command calls this
module; none decides trust on its own.  Pure functions over ``cryptography`` objects: no CMDB,
no network, no trace.  A refusal raises :class:`Untrusted` with OpenSSL's wording of the reason
(``unable to get local issuer certificate``, ``self-signed certificate in certificate chain``,
...), which the callers print.

The rules (ARCHITECTURE.md, "Trust"):

* **Anchors are chosen by the operator**: a pinned fingerprint (``ca import est`` bootstrap), the
  configured CA (``est-server-cert``), the device's CA store.  An explicitly chosen certificate
  is an anchor whatever it is; of the CA store, the self-signed certificates are anchors and the
  others usable as intermediates only (OpenSSL's store without ``X509_V_FLAG_PARTIAL_CHAIN``).
* **A CA reply** (``/cacerts``) is accepted only when *every* certificate in it is a CA
  certificate and chains to an anchor.  Certificates of the reply serve as intermediates, never
  as anchors: a self-signed certificate in a reply is refused unless it is an anchor already, or
  the one root the channel vouches for (:attr:`ReplyPolicy.vouched_root`: TLS-SRP, or the
  operator's ``y`` after seeing it), and a reply that offers several such roots is refused.
* **An issued certificate** chains to the stored CA certificates of the server that issued it
  (:func:`verify_chain` with the anchors the caller looked up), never to certificates of the
  same reply.
* **A chain** is checked as OpenSSL's ``X509_verify_cert`` does: each signature, issuer names,
  CA basic constraints (and ``keyCertSign`` when a key usage is present), path length, and the
  validity of every certificate on the device clock (``at``; ``None`` skips it).

``cryptography.x509.verification`` was considered and not used: its policy is the Web PKI
profile (leaf SAN and EKU required, critical basic constraints, RSA >= 2048, no v1 roots),
which refuses what real EST CAs issue, the guide's own root among them.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

MAX_DEPTH = 8

# OpenSSL's X509_verify_cert_error_string texts, as FortiOS prints them
NO_ISSUER = "unable to get local issuer certificate"
SELF_SIGNED_LEAF = "self-signed certificate"
SELF_SIGNED_IN_CHAIN = "self-signed certificate in certificate chain"
BAD_SIGNATURE = "certificate signature failure"
INVALID_CA = "invalid CA certificate"
NOT_CA = "not a CA certificate"
EXPIRED = "certificate has expired"
NOT_YET_VALID = "certificate is not yet valid"
PATH_LENGTH = "path length constraint exceeded"
SEVERAL_ROOTS = "several self-signed certificates, none of them trusted"


class Untrusted(ValueError):
    """A certificate (or CRL) that does not chain to a chosen anchor; ``reason`` in OpenSSL words.
    ``index``: its 1-based position in the reply, when it came in one."""

    def __init__(self, reason: str, cert: x509.Certificate | None = None, index: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.cert, self.index = reason, cert, index


@dataclass(frozen=True)
class Anchors:
    """What one operation trusts: ``anchors`` may end a chain, ``intermediates`` may only be on one."""

    anchors: tuple[x509.Certificate, ...] = ()
    intermediates: tuple[x509.Certificate, ...] = ()

    @classmethod
    def chosen(cls, certs: Iterable[x509.Certificate]) -> "Anchors":
        """Certificates the operator named (a pin, ``est-server-cert``): all anchors."""
        return cls(tuple(certs))

    @classmethod
    def store(cls, certs: Iterable[x509.Certificate]) -> "Anchors":
        """The CA store: self-signed certificates are anchors, the others intermediates."""
        listed = list(certs)
        return cls(tuple(c for c in listed if is_self_signed(c)),
                   tuple(c for c in listed if not is_self_signed(c)))

    def __add__(self, other: "Anchors") -> "Anchors":
        return Anchors(_unique(self.anchors + other.anchors), _unique(self.intermediates + other.intermediates))

    def trusts(self, cert: x509.Certificate) -> bool:
        return cert in self.anchors


@dataclass(frozen=True)
class ReplyPolicy:
    """How a CA reply is judged.  ``vouched_root``: the channel or the operator vouches for the
    reply's own root (TLS-SRP authenticated the server; bootstrap without a pin, where the
    operator answers after seeing the certificates), so the reply's root may be an anchor when
    it is the only self-signed certificate in it; several untrusted roots are refused, and so is
    an untrusted root next to one the device trusts already (a rogue extra root)."""

    anchors: Anchors
    at: _dt.datetime | None = None
    vouched_root: bool = False


@dataclass(frozen=True)
class Chain:
    """A verified path: ``certs[0]`` the certificate checked, ``certs[-1]`` the anchor."""

    certs: tuple[x509.Certificate, ...]

    @property
    def anchor(self) -> x509.Certificate:
        return self.certs[-1]


@dataclass(frozen=True)
class AcceptedReply:
    """A CA reply that passed: every certificate with its chain, in reply order."""

    certs: tuple[x509.Certificate, ...]
    chains: tuple[Chain, ...]
    root: x509.Certificate | None = None  # the vouched-for root, when one was taken as anchor


# ------------------------------------------------------------------ single certificates
def fingerprint(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def is_ca(cert: x509.Certificate) -> bool:
    """Basic constraints CA:TRUE; a v1 certificate (no extensions) counts when it is a self-signed root."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.version == x509.Version.v1 and is_self_signed(cert)


def can_sign_certificates(cert: x509.Certificate) -> bool:
    """A CA certificate whose key usage, if present, includes keyCertSign."""
    if not is_ca(cert):
        return False
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign)
    except x509.ExtensionNotFound:
        return True


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``cert`` names ``issuer`` as its issuer and carries a valid signature of its key."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):  # wrong key; unsupported key or signature type
        return False
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer and signed_by(cert, cert)


def check_validity(cert: x509.Certificate, at: _dt.datetime | None, *, start: bool = True) -> None:
    """``cert`` is valid at ``at`` (None: not checked); ``start=False`` checks the end date only."""
    if at is None:
        return
    if at.tzinfo is None:
        at = at.replace(tzinfo=_dt.timezone.utc)
    if start and at < cert.not_valid_before_utc:
        raise Untrusted(NOT_YET_VALID, cert)
    if at > cert.not_valid_after_utc:
        raise Untrusted(EXPIRED, cert)


def require_ca(certs: Sequence[x509.Certificate]) -> None:
    """Certificates entering the CA store must be CA certificates (``ca import tftp|bundle``)."""
    for index, cert in enumerate(certs, 1):
        if not is_ca(cert):
            raise Untrusted(NOT_CA, cert, index)


# ------------------------------------------------------------------ chains
def verify_chain(cert: x509.Certificate, trust: Anchors, *, at: _dt.datetime | None = None,
                 untrusted: Sequence[x509.Certificate] = (), issued_now: bool = False) -> Chain:
    """The path from ``cert`` to an anchor of ``trust``; ``untrusted`` certificates (a reply's)
    may be intermediates.  Raises :class:`Untrusted` with the reason of the best failed path.
    ``issued_now``: ``cert`` was just issued, so a start date ahead of the device clock is the
    CA's clock running ahead (a classroom lab server on real time, a device on the guide's date)
    and is not held against it; an end date already past is."""
    check_validity(cert, at, start=not issued_now)
    if trust.trusts(cert):
        return Chain((cert,))
    pool = _unique((*trust.intermediates, *untrusted))
    failure = _extend((cert,), trust, pool, at, 0, {})
    if isinstance(failure, Chain):
        return failure
    if failure == NO_ISSUER and is_self_signed(cert):
        failure = SELF_SIGNED_LEAF
    raise Untrusted(failure, cert)


def _extend(path: tuple[x509.Certificate, ...], trust: Anchors, pool: tuple[x509.Certificate, ...],
            at: _dt.datetime | None, ca_below: int, dead: dict[bytes, str]) -> Chain | str:
    """Depth-first search for an issuer of ``path[-1]``; returns a Chain or the failure reason.
    ``ca_below``: CA certificates under the next issuer that count for pathLenConstraint
    (self-issued ones do not, RFC 5280 4.2.1.9).  ``dead``: issuers already explored without
    reaching an anchor (fingerprint -> reason), not explored again (a reply of many
    certificates that sign one another costs linear time, not factorial)."""
    current = path[-1]
    if len(path) > MAX_DEPTH:
        return NO_ISSUER
    named = [c for c in (*trust.anchors, *pool) if _may_issue(c, current) and c not in path]
    issuers = [c for c in named if signed_by(current, c)]
    if not issuers:
        if current is not path[0] and is_self_signed(current):
            return SELF_SIGNED_IN_CHAIN
        return BAD_SIGNATURE if named else NO_ISSUER
    reasons: list[str] = []
    counted = ca_below + (1 if len(path) > 1 and current.subject != current.issuer else 0)
    for issuer in sorted(issuers, key=lambda c: not trust.trusts(c)):  # anchors first
        reason = _usable_issuer(issuer, at, counted)
        if reason is None and trust.trusts(issuer):
            return Chain((*path, issuer))
        if reason is None and fingerprint(issuer) in dead:
            reason = dead[fingerprint(issuer)]
        elif reason is None:
            found = _extend((*path, issuer), trust, pool, at, counted, dead)
            if isinstance(found, Chain):
                return found
            dead[fingerprint(issuer)] = found
            reason = found
        reasons.append(reason)
    return _best(reasons)


def _may_issue(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    """OpenSSL's issuer match: the subject is the issuer name and, when both are present, the
    authority key identifier is the issuer's subject key identifier."""
    if issuer.subject != cert.issuer:
        return False
    aki, ski = _extension(cert, x509.AuthorityKeyIdentifier), _extension(issuer, x509.SubjectKeyIdentifier)
    if isinstance(aki, x509.AuthorityKeyIdentifier) and aki.key_identifier is not None \
            and isinstance(ski, x509.SubjectKeyIdentifier):
        return aki.key_identifier == ski.digest
    return True


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):  # absent; undecodable extensions
        return None


def _usable_issuer(issuer: x509.Certificate, at: _dt.datetime | None, ca_below: int) -> str | None:
    if not can_sign_certificates(issuer):
        return INVALID_CA
    try:
        check_validity(issuer, at)
    except Untrusted as exc:
        return exc.reason
    try:
        limit = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length
    except x509.ExtensionNotFound:
        limit = None
    if limit is not None and ca_below > limit:
        return PATH_LENGTH
    return None


def _best(reasons: list[str]) -> str:
    """The most telling reason among failed paths (a definite fault before 'no issuer')."""
    order = (BAD_SIGNATURE, INVALID_CA, EXPIRED, NOT_YET_VALID, PATH_LENGTH, SELF_SIGNED_IN_CHAIN, NO_ISSUER)
    return min(reasons, key=lambda r: order.index(r) if r in order else 0)


# ------------------------------------------------------------------ CA replies
def accept_ca_reply(certs: Sequence[x509.Certificate], policy: ReplyPolicy) -> AcceptedReply:
    """Accept a CA reply only when every certificate is a CA certificate chaining to an anchor
    (module doc).  The reply's certificates are intermediates for one another, never anchors;
    the vouched-for root (at most one) is the exception.  Raises :class:`Untrusted`."""
    anchors = policy.anchors
    root = None
    if policy.vouched_root:
        roots = _unique(tuple(c for c in certs if is_self_signed(c)))
        unvouched = [r for r in roots if not _verifies(r, anchors, certs, policy.at)]
        if len(unvouched) > 1:
            raise Untrusted(SEVERAL_ROOTS, unvouched[1], _index(certs, unvouched[1]))
        if len(unvouched) == 1 and len(roots) == 1:  # beside a root already trusted: refused below
            root = unvouched[0]
            anchors = anchors + Anchors.chosen([root])
    chains = []
    for index, cert in enumerate(certs, 1):
        try:
            chain = verify_chain(cert, anchors, at=policy.at, untrusted=[c for c in certs if c is not cert])
        except Untrusted as exc:
            raise Untrusted(exc.reason, cert, index) from None
        if not is_ca(cert):
            raise Untrusted(NOT_CA, cert, index)
        chains.append(chain)
    return AcceptedReply(tuple(certs), tuple(chains), root)


def _verifies(cert: x509.Certificate, anchors: Anchors, certs: Sequence[x509.Certificate],
              at: _dt.datetime | None) -> bool:
    try:
        verify_chain(cert, anchors, at=at, untrusted=[c for c in certs if c is not cert])
    except Untrusted:
        return False
    return True


def pinned(certs: Sequence[x509.Certificate], pin: bytes) -> x509.Certificate | None:
    """The certificate of ``certs`` whose SHA-256 fingerprint is ``pin``."""
    return next((c for c in certs if fingerprint(c) == pin), None)


# ------------------------------------------------------------------ CRLs
def crl_signer(crl: x509.CertificateRevocationList,
               cas: Sequence[tuple[str, x509.Certificate]]) -> str:
    """The name of the CA certificate that signed ``crl``: its subject is the CRL's issuer, it is
    a CA and its key verifies the CRL's signature (a look-alike key with the right name does
    not).  Raises :class:`Untrusted`."""
    named = [(name, ca) for name, ca in cas if ca.subject == crl.issuer]
    for name, ca in named:
        key = ca.public_key()
        try:
            valid = crl.is_signature_valid(key)  # type: ignore[arg-type]  # CRL-signing key types
        except (TypeError, ValueError):
            valid = False
        if valid and is_ca(ca):
            return name
    raise Untrusted(BAD_SIGNATURE if named else NO_ISSUER)


# ------------------------------------------------------------------ helpers
def _unique(certs: tuple[x509.Certificate, ...]) -> tuple[x509.Certificate, ...]:
    out: list[x509.Certificate] = []
    for cert in certs:
        if cert not in out:
            out.append(cert)
    return tuple(out)


def _index(certs: Sequence[x509.Certificate], cert: x509.Certificate) -> int:
    return next(i for i, c in enumerate(certs, 1) if c == cert)
