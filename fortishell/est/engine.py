"""EstEngine: drives the EST flows for a certificate and stores the result, all or nothing.

``generate`` (``execute vpn certificate local generate est``) enrolls a new
certificate; ``regenerate`` / ``renew`` re-enroll an existing one with its
current certificate as TLS client certificate (guide Examples 2 and 3).  The
engine runs in the caller's thread; trace lines stream through the tracer as
the work happens.  Nothing is written to the CMDB until every check passed;
then the CA certificates, the certificate, its encrypted key and the EST
settings go in with one transaction.

Failure output (not documented by the guide; chosen to match FortiOS's
``execute`` style): the reason on one line, then ``Command fail. Return code -1``::

    EST enrollment of certificate 'est-test101' failed: <reason>
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fortishell import errors
from fortishell.trace import TracePoint

from . import catalogue as C
from . import pki, protocol
from .args import CA, LOCAL, GenerateRequest
from .protocol import EstRequest, FlowConfig, Wait
from .transport import DEFAULT_TIMEOUT, EstTransport, TransportConfig

CA_NAME_PREFIX = "G_CA_Cert_"


class _Out:
    """The protocol's Output on top of the device tracer (application ``est``)."""

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer

    def emit(self, point: TracePoint, **values: Any) -> None:
        if self._tracer is not None:
            self._tracer.emit(C.APP, point, **values)

    def raw(self, text: str) -> None:
        if self._tracer is not None:
            self._tracer.raw(C.APP, text)


class _Failed(Exception):
    """Internal: a stage failed; the trace already says why."""

    def __init__(self, reason: str, ret: int = -1) -> None:
        super().__init__(reason)
        self.reason, self.ret = reason, ret


@dataclass
class _Job:
    """Everything one enrollment needs (the ``est_ctx`` of FortiOS)."""

    name: str
    url: str
    host: str
    port: int
    ca_id: str | None = None
    http_username: str | None = None
    http_password: str | None = None
    client_cert: str | None = None
    server_cert: str | None = None
    srp_username: str | None = None
    srp_password: str | None = None
    source_ip: str | None = None
    passwd: str | None = None  # key password
    algorithm: pki.Algorithm | None = None
    subject: str | None = None
    san: str | None = None
    reconstructed: bool = False
    stored_client_cert: str | None = None  # the entry's est-client-cert, kept as is on re-enrollment
    need_pop: int = 0
    csr_attrs: bool = False
    hostinfo: bool = True
    trust: list[x509.Certificate] = field(default_factory=list)


class EstEngine:
    """The EST client of one device."""

    def __init__(self, cmdb: Any, clock: Any, tracer: Any, network: Any, *, timeout: float = DEFAULT_TIMEOUT,
                 retry_limit: int = 3, retry_budget: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.cmdb, self.clock, self.tracer, self.network = cmdb, clock, tracer, network
        self.timeout, self.retry_limit, self.retry_budget = timeout, retry_limit, retry_budget
        self.sleep = sleep
        self.out = _Out(tracer)

    # ================================================================== public
    def generate(self, req: GenerateRequest) -> list[str]:
        """Enroll a new local certificate; returns ``["Done."]`` or raises EstError."""
        if req.regenerate:
            return self.regenerate(req.name)
        job = self._job_from_request(req)
        try:
            self._enroll(job)
        except _Failed as exc:
            self.out.emit(C.CLEAR_TMP)
            raise errors.EstError(f"EST enrollment of certificate '{job.name}' failed: {exc.reason}") from None
        return ["Done."]

    def regenerate(self, name: str) -> list[str]:
        """Re-enroll an existing certificate (``generate est <existing-name>``, Example 3)."""
        try:
            self._reenroll(name)
        except _Failed as exc:
            self.out.emit(C.CLEAR_TMP)
            raise errors.EstError(f"EST re-enrollment of certificate '{name}' failed: {exc.reason}") from None
        return ["Done."]

    def renew(self, name: str) -> list[str]:
        """Automatic renewal (Example 2): the same re-enrollment, started by the renewal service."""
        return self.regenerate(name)

    # ================================================================== set-up
    def _job_from_request(self, req: GenerateRequest) -> _Job:
        parts = urlsplit(req.url)
        job = _Job(
            name=req.name, url=req.url, host=parts.hostname or "", port=parts.port or 443, ca_id=req.ca_id,
            http_username=req.http_username, http_password=req.http_password, client_cert=req.client_cert,
            server_cert=req.ca_cert, srp_username=req.srp_username, srp_password=req.srp_password,
            source_ip=req.source_ip, passwd=req.key_password, algorithm=pki.ALGORITHMS[req.algorithm],
            subject=req.subject, san=req.san,
        )
        return job

    def _trust(self, job: _Job) -> tuple[list[str], str | None]:
        """PEMs to trust: est-server-cert / option 9 alone, else every ``vpn certificate ca`` entry."""
        if job.server_cert:
            entry = self.cmdb.entry(CA, job.server_cert)
            pem = entry.get("ca") if entry is not None else None
            if entry is None:
                local = self.cmdb.entry(LOCAL, job.server_cert)
                pem = local.get("certificate") if local is not None else None
            if not pem:
                raise _Failed(f"CA certificate '{job.server_cert}' not found")
            return [pem], job.server_cert
        pems = [e.get("ca") for e in self.cmdb.entries(CA) if e.get("ca")]
        return pems, None

    def _client_identity(self, name: str) -> tuple[str, str, x509.Certificate]:
        entry = self.cmdb.entry(LOCAL, name)
        if entry is None or not entry.get("certificate") or not entry.get("private-key"):
            raise _Failed(f"client certificate '{name}' has no certificate or private key")
        try:
            key = pki.load_key(entry.get("private-key"), entry.get("password") or None)
            cert = pki.load_cert(entry.get("certificate"))
        except pki.PkiError as exc:
            raise _Failed(f"client certificate '{name}': {exc}") from None
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        return entry.get("certificate"), key_pem, cert

    def _transport(self, job: _Job, *, use_http_auth: bool = True) -> EstTransport:
        """Print the ``__est_curl_set_auth`` lines and open the transport."""
        out = self.out
        out.emit(C.SET_AUTH)
        cert_pem = key_pem = None
        if job.client_cert:
            cert_pem, key_pem, cert = self._client_identity(job.client_cert)
            if not pki.has_client_auth_usage(cert):
                out.emit(C.CLIENT_CERT_KEY_USAGE, name=job.client_cert)
            out.emit(C.CLIENT_CERT_USED, name=job.client_cert)
        if job.srp_username:
            out.emit(C.SRP_USERNAME_SET)
            if job.srp_password:
                out.emit(C.SRP_PASSWORD_SET)
        if use_http_auth and job.http_username:
            out.emit(C.HTTP_USERNAME_SET)
            if job.http_password:
                out.emit(C.HTTP_PASSWORD_SET)
        trust, label = self._trust(job)
        job.trust = []
        for pem in trust:
            try:
                job.trust.append(pki.load_cert(pem))
            except pki.PkiError:
                continue
        connect_to = self.network.resolve(job.host, job.port) if self.network is not None else None
        cfg = TransportConfig(
            host=job.host, port=job.port, connect_to=connect_to, trust_pems=trust, trust_label=label,
            client_cert_pem=cert_pem, client_key_pem=key_pem, source_ip=job.source_ip,
            http_username=job.http_username if use_http_auth else None,
            http_password=job.http_password if use_http_auth else None,
            srp_username=job.srp_username, srp_password=job.srp_password, timeout=self.timeout,
        )
        try:
            return EstTransport(cfg, out)
        except errors.TransportError as exc:
            raise _Failed(str(exc)) from None

    def _flow_config(self, job: _Job) -> FlowConfig:
        return FlowConfig(url=job.url, ca_id=job.ca_id, source_ip=job.source_ip,
                          retry_limit=self.retry_limit, retry_budget=self.retry_budget,
                          null_text="" if job.reconstructed else "NULL")

    # ================================================================== driving
    def _drive(self, flow: protocol.Flow, transport: EstTransport, cfg: FlowConfig) -> Any:
        """Run a sans-IO flow to completion over ``transport``; failures become :class:`_Failed`."""
        reply: Any = None
        try:
            while True:
                step = flow.send(reply)
                if isinstance(step, Wait):
                    self.sleep(step.seconds)
                    reply = None
                    continue
                reply = self._send(step, transport, cfg)
        except StopIteration as stop:
            return stop.value
        except protocol.FlowFailure as exc:
            raise _Failed(exc.reason) from None

    def _send(self, req: EstRequest, transport: EstTransport, cfg: FlowConfig) -> protocol.EstResponse:
        out = self.out
        out.emit(C.CURL_URL, url=cfg.url.rstrip("/") + req.path)
        out.emit(C.CURL_POST if req.method == "POST" else C.CURL_GET)
        try:
            resp = transport.send(req)
        except errors.TransportError as exc:
            out.emit(C.CURL_ERROR, error=str(exc))
            raise _Failed(str(exc)) from None
        out.emit(C.CURL_RESPONSE, status=resp.status)
        if resp.body:
            out.emit(C.CURL_BUFFER, buffer=resp.body.decode("latin-1").strip())
        return resp

    # ================================================================== enrollment
    def _enroll(self, job: _Job) -> None:
        out, cfg = self.out, self._flow_config(job)
        with self._transport(job) as transport:
            try:
                ca_certs = self._drive(protocol.get_cacerts(cfg, out), transport, cfg)
                ca_imports = self._check_ca_certs(ca_certs, job)
            except _Failed as exc:
                out.emit(C.ENROLL_CA_FAILED, ret=exc.ret)
                raise
            out.emit(C.CA_IMPORTED)
            try:
                attrs, tls = self._drive(protocol.get_csrattrs(cfg, out), transport, cfg)
            except _Failed as exc:
                out.emit(C.ENROLL_ATTRS_FAILED, ret=exc.ret)
                raise
            job.csr_attrs = bool(attrs)
            job.need_pop = int(pki.wants_pop(attrs))
            out.raw(self._ctx_dump(job))
            protocol.post_started(out, "simpleenroll")
            try:
                assert job.algorithm is not None
                key = pki.generate_key(job.algorithm)
                subject = pki.parse_subject(job.subject) if job.subject else _default_subject(job.name)
                san = pki.parse_san(job.san) if job.san else None
                csr = pki.build_csr(key, subject, san, challenge_password=self._pop(job, tls),
                                    hash_alg=pki.hash_from_attrs(attrs))
                issued = self._drive(protocol.simple_post(cfg, "simpleenroll", pki.csr_der_base64(csr), out),
                                     transport, cfg)
                leaf = self._check_issued(issued, key, ca_certs + job.trust)
                password = job.passwd or pki.random_password()
                self._store(job, leaf, key, password, ca_imports)
            except _Failed as exc:
                out.emit(C.ENROLL_POST_RET, ret=exc.ret)
                raise
        out.emit(C.CLEAR_TMP)
        out.emit(C.ENROLL_POST_RET, ret=0)
        out.emit(C.CLEAR_TMP)

    def _pop(self, job: _Job, tls: protocol.TlsInfo | None) -> str | None:
        if not job.need_pop:
            return None
        if tls is None or not tls.tls_unique:
            raise _Failed("the server requires proof-of-possession but tls-unique is not available")
        self.out.emit(C.CSR_POP)
        return pki.tls_unique_password(tls.tls_unique)

    def _check_ca_certs(self, certs: list[x509.Certificate], job: _Job) -> list[x509.Certificate]:
        """Verify the cacerts reply; return the ones not yet in ``vpn certificate ca``."""
        anchors = certs + job.trust
        for index, cert in enumerate(certs, 1):
            reason = None
            if not pki.is_self_signed(cert) and not pki.chain_to(cert, anchors):
                reason = "unable to get local issuer certificate"
            elif not _is_ca(cert):
                reason = "not a CA certificate"
            if reason:
                self.out.emit(C.CA_VERIFY_FAILED, index=index, reason=reason)
                raise _Failed(f"CA certificate {index} from the server: {reason}")
        existing = set()
        for entry in self.cmdb.entries(CA):
            try:
                existing.add(pki.load_cert(entry.get("ca")).fingerprint(_SHA256()))
            except (pki.PkiError, TypeError, AttributeError):
                continue
        fresh: list[x509.Certificate] = []
        for cert in certs:
            fp = cert.fingerprint(_SHA256())
            if fp not in existing:
                existing.add(fp)
                fresh.append(cert)
        return fresh

    def _check_issued(self, certs: list[x509.Certificate], key: pki.PrivateKey,
                      anchors: list[x509.Certificate]) -> x509.Certificate:
        leaf = next((c for c in certs if pki.cert_matches_key(c, key)), None)
        if leaf is None:
            self.out.emit(C.SAVE_KEY_MISMATCH)
            raise _Failed("the issued certificate does not match the private key")
        if not pki.chain_to(leaf, anchors + certs):
            self.out.emit(C.SAVE_CHAIN_FAILED, reason="unable to get local issuer certificate")
            raise _Failed("the issued certificate does not chain to a trusted CA")
        self.out.emit(C.SAVE_RECEIVED_CERT, count=1)
        self.out.emit(C.PRINT_X509, text=pki.x509_text(leaf))
        return leaf

    def _store(self, job: _Job, leaf: x509.Certificate, key: pki.PrivateKey, password: str,
               ca_imports: list[x509.Certificate]) -> None:
        values: dict[str, Any] = {
            "certificate": pki.cert_pem(leaf), "private-key": pki.encrypt_key(key, password),
            "password": password, "enroll-protocol": "est", "est-server": job.url,
            "est-ca-id": job.ca_id or "", "est-http-username": job.http_username or "",
            "est-http-password": job.http_password or "", "est-client-cert": (job.stored_client_cert if job.reconstructed else job.client_cert) or "",
            "est-server-cert": job.server_cert or "", "est-srp-username": job.srp_username or "",
            "est-srp-password": job.srp_password or "", "source": "user", "state": "OK", "range": "global",
            "last-updated": int(self.clock.now().timestamp()) if self.clock is not None else 0,
        }
        if job.source_ip:
            values["source-ip"] = job.source_ip
        try:
            with self.cmdb.transaction() as tx:
                for cert in ca_imports:
                    tx.put(CA, self._next_ca_name(tx), {
                        "ca": pki.cert_pem(cert), "source": "user", "range": "global", "est-url": job.url,
                        "ca-identifier": job.ca_id or "",
                    })
                tx.put(LOCAL, job.name, values)
        except errors.FortiError as exc:
            raise _Failed("; ".join(exc.lines) or "the configuration refused the certificate") from None
        self.out.emit(C.CMDB_UPDATED, name=job.name)
        self.out.emit(C.SAVE_DONE)

    def _next_ca_name(self, tx: Any) -> str:
        n = 1
        while tx.get(CA, f"{CA_NAME_PREFIX}{n}") is not None:
            n += 1
        return f"{CA_NAME_PREFIX}{n}"

    # ================================================================== re-enrollment
    def _job_from_entry(self, name: str) -> tuple[_Job, Any]:
        entry = self.cmdb.entry(LOCAL, name)
        if entry is None:
            raise _Failed(f"certificate '{name}' does not exist")
        if entry.get("enroll-protocol") != "est" or not entry.get("est-server"):
            raise _Failed(f"certificate '{name}' was not enrolled with EST")
        url = entry.get("est-server")
        parts = urlsplit(url)
        job = _Job(
            name=name, url=url, host=parts.hostname or "", port=parts.port or 443,
            ca_id=entry.get("est-ca-id") or None, http_username=entry.get("est-http-username") or None,
            http_password=entry.get("est-http-password") or None, client_cert=name,
            server_cert=entry.get("est-server-cert") or None, srp_username=entry.get("est-srp-username") or None,
            srp_password=entry.get("est-srp-password") or None,
            source_ip=(entry.get("source-ip") if entry.get("source-ip") not in ("", "0.0.0.0") else None),
            passwd=entry.get("password") or None, reconstructed=True, hostinfo=False,
            stored_client_cert=entry.get("est-client-cert") or None,
        )
        return job, entry

    def _reenroll(self, name: str) -> None:
        out = self.out
        job, entry = self._job_from_entry(name)
        out.emit(C.RECONSTRUCTED)
        out.raw(self._ctx_dump(job, client=False) + "\n")
        out.emit(C.REENROLL_CLIENT_CERT, name=name)
        cfg = self._flow_config(job)
        _, _, current = self._client_identity(name)
        try:
            key = pki.load_key(entry.get("private-key"), entry.get("password") or None)
        except pki.PkiError as exc:
            raise _Failed(str(exc)) from None
        with self._transport(job, use_http_auth=False) as transport:
            try:
                attrs, tls = self._drive(protocol.get_csrattrs(cfg, out), transport, cfg)
            except _Failed as exc:
                out.emit(C.REENROLL_ATTRS_FAILED, ret=exc.ret)
                raise
            job.csr_attrs, job.hostinfo = bool(attrs), True
            job.need_pop = int(pki.wants_pop(attrs))
            out.raw(self._ctx_dump(job))
            protocol.post_started(out, "simplereenroll")
            try:
                if entry.get("est-regeneration-method") == "create-new-key":
                    key = _same_kind_key(key)
                csr = pki.csr_from_cert(current, key, challenge_password=self._pop(job, tls),
                                        hash_alg=pki.hash_from_attrs(attrs))
                out.emit(C.CSR_FROM_CERT, name=name)
                issued = self._drive(protocol.simple_post(cfg, "simplereenroll", pki.csr_der_base64(csr), out),
                                     transport, cfg)
                leaf = self._check_issued(issued, key, job.trust + issued)
                self._store(job, leaf, key, job.passwd or pki.random_password(), [])
            except _Failed as exc:
                out.emit(C.REENROLL_POST_RET, ret=exc.ret)
                raise
        out.emit(C.CLEAR_TMP)
        out.emit(C.REENROLL_POST_RET, ret=0)
        out.emit(C.CLEAR_TMP)

    # ================================================================== est_ctx
    def _ctx_dump(self, job: _Job, *, client: bool = True) -> str:
        """The ``est_ctx:`` dump.  A new enrollment prints ``(null)`` for unset
        strings; a reconstructed context prints the CMDB's empty strings."""
        null = "" if job.reconstructed else "(null)"

        def s(value: str | None) -> str:
            return value if value else null

        alg = job.algorithm
        values = {
            "is_global": 1, "vfid": 0, "svr_original_url": job.url,
            "svr_hostinfo": "Exists" if job.hostinfo else "NULL", "ca_identifier": s(job.ca_id),
            "http_username": s(job.http_username), "http_password": s(job.http_password),
            "clt_cert": s(job.client_cert if client or not job.reconstructed else None),
            "svr_cert": s(job.server_cert), "srp_username": s(job.srp_username),
            "srp_password": s(job.srp_password), "source_ip": job.source_ip or "(null)",
            "need_pop": job.need_pop, "newcert_name": job.name, "passwd": job.passwd or "(null)",
            "rsa_keysize": alg.rsa_bits if alg else 0,
            "ec_curvename": (alg.curve if alg and alg.curve else "(null)"),
            "subject": job.subject or "(null)", "sub_alt_name": job.san or "(null)",
            "svr_cert_x509": "NULL", "csr_attrs": "Exists" if job.csr_attrs else "NULL", "csr": "NULL",
            "pkey": "NULL", "header_ptr": "NULL", "tmp_p10": "NULL",
        }
        return C.est_ctx_dump(values)


# ---------------------------------------------------------------------- helpers
def _SHA256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return cert.version == x509.Version.v1  # a v1 root carries no extensions


def _default_subject(name: str) -> x509.Name:
    """No subject given: CN=<certificate name> (FortiOS needs a non-empty subject)."""
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def _same_kind_key(key: pki.PrivateKey) -> pki.PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(key, ec.EllipticCurvePrivateKey):
        return pki.generate_key(pki.Algorithm("ec", curve=key.curve.name))
    return pki.generate_key(pki.Algorithm("rsa", rsa_bits=key.key_size))
