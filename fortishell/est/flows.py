"""The composite EST operations: enroll, re-enroll, fetch CA certificates.

Sans-IO generators over the steps of ``protocol.py`` (see ``events.py`` for
what they yield).  The engine drives them for the shell, the renewal service
and ``execute vpn certificate ca import est``; tests drive them with scripted
replies.  Each one prints the whole trace of its operation, including the
final ``est_ctx_clear_tmp_data`` on failure and on cancellation (the driver
throws :class:`~fortishell.est.cancel.Cancelled` into the flow).

Storage, as the device does it: the CA certificates of the ``cacerts`` reply
are imported in their own transaction when ``CA certs imported!`` prints (a
later failure keeps them, and the trace says so); the local certificate, its
encrypted key and the EST settings are stored together at the end, all or
nothing.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..certs import trust as rules
from . import catalogue as C
from . import attrs as csr_attrs
from . import pki
from .cancel import Cancelled
from .events import FlowFailure, StoreCaCerts, StoreLocal, Stored, TlsInfo, Trace
from .protocol import Flow, FlowConfig, cacerts, csrattrs, simpleenroll, simplereenroll
from .settings import EstSettings


@dataclass(frozen=True)
class Job:
    """Everything one operation needs that the driver looked up (the ``est_ctx`` of FortiOS)."""

    settings: EstSettings
    config: FlowConfig
    trust: rules.Anchors = rules.Anchors()  # what a cacerts reply must chain to (configured CA, CA store)
    client: x509.Certificate | None = None  # the TLS client certificate (named settings.client_cert)
    current_key: pki.PrivateKey | None = None  # re-enrollment: the entry's key
    current_cert: x509.Certificate | None = None  # re-enrollment: the entry's certificate
    issuers: rules.Anchors = rules.Anchors()  # what an issued certificate must chain to: the
    #                                           server's stored EST CA certificates (engine._anchors)
    clock: Callable[[], _dt.datetime] | None = None  # the device clock, for validity (None: not checked)
    vouched_root: bool = False  # TLS-SRP authenticated the server: its cacerts root may be an anchor
    bootstrap: bool = False  # ca import est: the caller judges the reply (pin or question)

    def now(self) -> _dt.datetime | None:
        return self.clock() if self.clock is not None else None


# ------------------------------------------------------------------ pieces
def auth_lines(s: EstSettings, client: x509.Certificate | None, *, http_auth: bool = True) -> Flow[None]:
    """The ``__est_curl_set_auth`` lines."""
    yield Trace.of(C.SET_AUTH)
    if s.client_cert and client is not None:
        if not pki.has_client_auth_usage(client):
            yield Trace.of(C.CLIENT_CERT_KEY_USAGE, name=s.client_cert)
        yield Trace.of(C.CLIENT_CERT_USED, name=s.client_cert)
    if s.srp_username:
        yield Trace.of(C.SRP_USERNAME_SET)
        if s.srp_password:
            yield Trace.of(C.SRP_PASSWORD_SET)
    if http_auth and s.http_username:
        yield Trace.of(C.HTTP_USERNAME_SET)
        if s.http_password:
            yield Trace.of(C.HTTP_PASSWORD_SET)


def check_ca_certs(certs: list[x509.Certificate], job: Job) -> Flow[rules.AcceptedReply]:
    """Every received CA certificate is a CA certificate and chains to an anchor the operator
    chose (``certs/trust.py``); the reply's own certificates are never anchors."""
    policy = rules.ReplyPolicy(job.trust, at=job.now(), vouched_root=job.vouched_root)
    try:
        return rules.accept_ca_reply(certs, policy)
    except rules.Untrusted as exc:
        index = exc.index or 1
        yield Trace.of(C.CA_VERIFY_FAILED, index=index, reason=exc.reason)
        raise FlowFailure(f"CA certificate {index} from the server: {exc.reason}", "cacerts") from None


def check_issued(certs: list[x509.Certificate], key: pki.PrivateKey, anchors: rules.Anchors,
                 now: _dt.datetime | None) -> Flow[x509.Certificate]:
    """The issued certificate is for our key and chains to ``anchors`` (the server's stored CA
    certificates); the other certificates of the same reply are not used."""
    leaf = next((c for c in certs if pki.cert_matches_key(c, key)), None)
    if leaf is None:
        yield Trace.of(C.SAVE_KEY_MISMATCH)
        raise FlowFailure("the issued certificate does not match the private key", "post")
    try:
        rules.verify_chain(leaf, anchors, at=now, issued_now=True)
    except rules.Untrusted as exc:
        yield Trace.of(C.SAVE_CHAIN_FAILED, reason=exc.reason)
        if exc.reason == rules.NO_ISSUER:
            raise FlowFailure("the issued certificate does not chain to a trusted CA", "post") from None
        raise FlowFailure(f"the issued certificate cannot be verified: {exc.reason}", "post") from None
    yield Trace.of(C.SAVE_RECEIVED_CERT, count=1)
    yield Trace.of(C.PRINT_X509, text=pki.x509_text(leaf))
    return leaf


def pop_password(attrs: list[csr_attrs.CsrAttr], tls: TlsInfo | None) -> Flow[str | None]:
    """The challengePassword for proof-of-possession (RFC 7030 3.5), when the server asks for it."""
    if not csr_attrs.wants_pop(attrs):
        return None
    if tls is None or not tls.tls_unique:
        raise FlowFailure("the server requires proof-of-possession but tls-unique is not available", "post")
    yield Trace.of(C.CSR_POP)
    return pki.tls_unique_password(tls.tls_unique)


def store_local(s: EstSettings, leaf: x509.Certificate, key: pki.PrivateKey, password: str) -> Flow[None]:
    """Store certificate, encrypted key and settings in one transaction; trace it."""
    values = {"certificate": pki.cert_pem(leaf), "private-key": pki.encrypt_key(key, password),
              "password": password, **s.entry_values()}
    reply = yield StoreLocal(s.name, tuple(values.items()))
    if not isinstance(reply, Stored):
        raise TypeError("a Stored reply must be sent back for StoreLocal")
    yield Trace.of(C.CMDB_UPDATED, name=s.name)
    yield Trace.of(C.SAVE_DONE)


def ctx_dump(s: EstSettings, *, need_pop: int = 0, csr_attrs: bool = False, hostinfo: bool = True,
             client: bool = True) -> Trace:
    """The ``est_ctx:`` dump.  A new enrollment prints ``(null)`` for unset strings; a context
    reconstructed from the CMDB prints the CMDB's empty strings."""
    null = "" if s.from_cmdb else "(null)"

    def text(value: str | None) -> str:
        return value if value else null

    alg = s.key_algorithm
    values: dict[str, object] = {
        "is_global": 1, "vfid": 0, "svr_original_url": s.url,
        "svr_hostinfo": "Exists" if hostinfo else "NULL", "ca_identifier": text(s.ca_id),
        "http_username": text(s.http_username), "http_password": text(s.http_password),
        "clt_cert": text(s.client_cert if client else None),
        "svr_cert": text(s.server_cert), "srp_username": text(s.srp_username),
        "srp_password": text(s.srp_password), "source_ip": s.source_ip or "(null)",
        "need_pop": need_pop, "newcert_name": s.name, "passwd": s.key_password or "(null)",
        "rsa_keysize": alg.rsa_bits if alg else 0,
        "ec_curvename": (alg.curve if alg and alg.curve else "(null)"),
        "subject": s.subject or "(null)", "sub_alt_name": s.san or "(null)",
        "svr_cert_x509": "NULL", "csr_attrs": "Exists" if csr_attrs else "NULL", "csr": "NULL",
        "pkey": "NULL", "header_ptr": "NULL", "tmp_p10": "NULL",
    }
    return Trace.raw(C.est_ctx_dump(values))


# ------------------------------------------------------------------ operations
def abandoned(failure: FlowFailure) -> Flow[None]:
    """An operation that cannot start (its certificate, trust or key is unusable): close the trace."""
    yield Trace.of(C.CLEAR_TMP)
    raise failure


def fetch_cacerts(job: Job) -> Flow[list[x509.Certificate]]:
    """``GET cacerts`` and verify the reply; nothing is stored (the caller shows and stores)."""
    try:
        yield from auth_lines(job.settings, job.client)
        certs = yield from cacerts(job.config)
        if not job.bootstrap:
            yield from check_ca_certs(certs, job)
        return certs
    except (FlowFailure, Cancelled):
        yield Trace.of(C.CLEAR_TMP)
        raise


def enroll(job: Job) -> Flow[x509.Certificate]:
    """A new certificate: cacerts (imported) -> csrattrs -> CSR -> simpleenroll -> store."""
    s, cfg = job.settings, job.config
    try:
        yield from auth_lines(s, job.client)
        try:
            ca_certs = yield from cacerts(cfg)
            yield from check_ca_certs(ca_certs, job)
            yield StoreCaCerts(tuple(ca_certs), s.url, s.ca_id)
        except FlowFailure:
            yield Trace.of(C.ENROLL_CA_FAILED, ret=-1)
            raise
        yield Trace.of(C.CA_IMPORTED)
        try:
            attrs, tls = yield from csrattrs(cfg)
        except FlowFailure:
            yield Trace.of(C.ENROLL_ATTRS_FAILED, ret=-1)
            raise
        need_pop = int(csr_attrs.wants_pop(attrs))
        yield ctx_dump(s, need_pop=need_pop, csr_attrs=bool(attrs))
        yield Trace.of(C.SIMPLE_ENROLL_STARTED)
        try:
            algorithm = s.key_algorithm
            if algorithm is None:
                raise FlowFailure("no key algorithm", "post")
            key = pki.generate_key(csr_attrs.algorithm_for(algorithm, attrs))
            subject = pki.parse_subject(s.subject) if s.subject else _default_subject(s.name)
            san = pki.parse_san(s.san) if s.san else None
            challenge = yield from pop_password(attrs, tls)
            csr = pki.build_csr(key, subject, san, challenge_password=challenge,
                                hash_alg=csr_attrs.hash_from_attrs(attrs))
            issued = yield from simpleenroll(cfg, csr)
            # the accepted cacerts reply is stored now: the server's EST CA certificates
            leaf = yield from check_issued(issued, key, job.issuers + rules.Anchors.chosen(ca_certs), job.now())
            yield from store_local(s, leaf, key, s.key_password or pki.random_password())
        except FlowFailure:
            yield Trace.of(C.ENROLL_POST_RET, ret=-1)
            raise
        yield Trace.of(C.CLEAR_TMP)
        yield Trace.of(C.ENROLL_POST_RET, ret=0)
        yield Trace.of(C.CLEAR_TMP)
        return leaf
    except (FlowFailure, Cancelled):
        yield Trace.of(C.CLEAR_TMP)
        raise


def reenroll(job: Job) -> Flow[x509.Certificate]:
    """Re-enrollment with the current certificate as TLS client certificate (Examples 2 and 3):
    csrattrs -> CSR from the current certificate -> simplereenroll -> store.  The entry keeps its
    own ``est-client-cert``; HTTP authentication is not used."""
    stored = job.settings
    s = replace(stored, client_cert=stored.name)  # the context as the trace shows it
    cfg = job.config
    try:
        yield Trace.of(C.RECONSTRUCTED)
        yield Trace.raw(ctx_dump(s, hostinfo=False, client=False).text + "\n")
        yield Trace.of(C.REENROLL_CLIENT_CERT, name=s.name)
        yield from auth_lines(s, job.client, http_auth=False)
        if job.current_key is None or job.current_cert is None:
            raise FlowFailure(f"client certificate '{s.name}' has no certificate or private key", "auth")
        try:
            attrs, tls = yield from csrattrs(cfg)
        except FlowFailure:
            yield Trace.of(C.REENROLL_ATTRS_FAILED, ret=-1)
            raise
        yield ctx_dump(s, need_pop=int(csr_attrs.wants_pop(attrs)), csr_attrs=bool(attrs))
        yield Trace.of(C.SIMPLE_REENROLL_STARTED)
        try:
            key = job.current_key
            if stored.regeneration_method == "create-new-key":
                key = _same_kind_key(key, attrs)
            challenge = yield from pop_password(attrs, tls)
            csr = pki.csr_from_cert(job.current_cert, key, challenge_password=challenge,
                                    hash_alg=csr_attrs.hash_from_attrs(attrs))
            yield Trace.of(C.CSR_FROM_CERT, name=s.name)
            issued = yield from simplereenroll(cfg, csr)
            leaf = yield from check_issued(issued, key, job.issuers, job.now())  # the rule of enroll
            yield from store_local(stored, leaf, key, stored.key_password or pki.random_password())
        except FlowFailure:
            yield Trace.of(C.REENROLL_POST_RET, ret=-1)
            raise
        yield Trace.of(C.CLEAR_TMP)
        yield Trace.of(C.REENROLL_POST_RET, ret=0)
        yield Trace.of(C.CLEAR_TMP)
        return leaf
    except (FlowFailure, Cancelled):
        yield Trace.of(C.CLEAR_TMP)
        raise


# ------------------------------------------------------------------ helpers
def _default_subject(name: str) -> x509.Name:
    """No subject given: CN=<certificate name> (FortiOS needs a non-empty subject)."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def _same_kind_key(key: pki.PrivateKey, attrs: list[csr_attrs.CsrAttr]) -> pki.PrivateKey:
    """A new key like ``key`` (an EC key takes the curve the server names in csrattrs)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return pki.generate_key(csr_attrs.algorithm_for(pki.Algorithm("ec", curve=key.curve.name), attrs))
    return pki.generate_key(pki.Algorithm("rsa", rsa_bits=key.key_size))
