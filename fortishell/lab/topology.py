"""The PKI topology knobs of the lab responder: the shapes real EST servers have, and hostile ones.

The default topology (every knob off) is the guide's: the lab root ``CN=estExampleCA`` signs the
TLS server certificate and every issued certificate, and ``/cacerts`` holds the root alone.  The
knobs (``faults.py``, ``lab-server --help``, ``POST /.lab/faults``) change it:

=====================  ======================================================================
issuing_intermediate   real server: certificates are issued by ``CN=estExampleSubCA`` (signed
                       by the root); ``/cacerts`` holds ``[intermediate, root]`` in chain order
                       (as servers send it, not in DER SET order); the enroll reply holds the
                       new certificate alone
tls_separate_root      real server: the TLS server certificate comes from ``CN=estTlsRootCA``,
                       a root that is not in ``/cacerts``
rogue_root             hostile: ``/cacerts`` also holds a self-signed ``CN=estRogueRootCA``;
                       enroll replies are issued by it and carry it along
evil_twin              hostile: ``/cacerts`` is ``[root, R, R']``, two self-signed
                       ``CN=Evil Twin`` certificates with one key, each naming the other;
                       enroll replies are issued by that key and carry ``R, R'`` along
=====================  ======================================================================

With any of these knobs on, PKCS#7 replies list their certificates in the order above (chain
order, as real servers send them: BER, not DER's sorted SET OF; encoded with pyasn1, each
certificate verbatim); with none, replies are cryptography's DER as before (guide byte counts).

The extra CAs are made once per responder, on first use (not persisted: a certificate issued by
the intermediate of an earlier responder run is not re-enrolled by a new one).  Client
certificates issued by the intermediate are accepted for re-enrollment (TLS and the app).
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field

from cryptography import x509

from .ca import LabCA
from .faults import FaultState
from .tlsio import make_ssl_context

SUB_CA = "estExampleSubCA"
TLS_ROOT = "estTlsRootCA"
ROGUE_ROOT = "estRogueRootCA"
EVIL_TWIN = "Evil Twin"


KNOBS = ("issuing_intermediate", "tls_separate_root", "rogue_root", "evil_twin")


@dataclass
class LabTopology:
    """The extra CAs of the knobs for one responder's root (thread-safe, made on first use)."""

    root: LabCA
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _made: dict[str, LabCA] = field(default_factory=dict)
    _twin: list[x509.Certificate] = field(default_factory=list)
    _contexts: dict[bool, ssl.SSLContext] = field(default_factory=dict)
    _loaded: dict[int, int] = field(default_factory=dict)  # id(context) -> issuing CAs loaded

    def ca(self, name: str) -> LabCA:
        """The CA of the knobs named ``name`` (SUB_CA, TLS_ROOT, ROGUE_ROOT, EVIL_TWIN), made on first use."""
        with self._lock:
            if name not in self._made:
                if name == SUB_CA:
                    self._made[name] = self.root.subordinate(SUB_CA)
                else:
                    made = LabCA.new(common_name=name)
                    if name == EVIL_TWIN:
                        self._twin.append(made.twin())
                    self._made[name] = made
            return self._made[name]

    # ------------------------------------------------------------ what the app sends
    def cacerts(self, f: FaultState) -> list[x509.Certificate]:
        """The ``/cacerts`` certificates, in the order sent."""
        certs = [self.ca(SUB_CA).cert, self.root.cert] if f.issuing_intermediate else [self.root.cert]
        if f.rogue_root:
            certs.append(self.ca(ROGUE_ROOT).cert)
        if f.evil_twin:
            twin = self.ca(EVIL_TWIN)
            certs += [twin.cert, self._twin[0]]
        return certs

    def issuer(self, f: FaultState) -> tuple[LabCA, list[x509.Certificate]]:
        """Who signs an enrollment, and the certificates sent after the new one."""
        if f.evil_twin:
            twin = self.ca(EVIL_TWIN)
            return twin, [twin.cert, self._twin[0]]
        if f.rogue_root:
            rogue = self.ca(ROGUE_ROOT)
            return rogue, [rogue.cert]
        if f.issuing_intermediate:
            return self.ca(SUB_CA), []
        return self.root, []

    @staticmethod
    def chain_order(f: FaultState) -> bool:
        """PKCS#7 replies in chain order: when a topology knob is on (else cryptography's DER)."""
        return any(getattr(f, knob) for knob in KNOBS)

    def issued_here(self, cert: x509.Certificate) -> bool:
        """A client certificate of this lab: signed by the root or by the issuing intermediate."""
        with self._lock:
            sub = self._made.get(SUB_CA)
        return self.root.chains_to_me(cert) or (sub is not None and sub.chains_to_me(cert))

    # ------------------------------------------------------------ TLS
    def server_context(self, base: ssl.SSLContext, f: FaultState, *, tls12_only: bool) -> ssl.SSLContext:
        """``base`` (the root's TLS certificate), or with ``tls_separate_root`` a context serving
        the separate root's; both trust client certificates of the issuing intermediate once
        it exists."""
        ctx = base
        if f.tls_separate_root:
            tls_root = self.ca(TLS_ROOT)
            with self._lock:
                if tls12_only not in self._contexts:
                    other = make_ssl_context(tls_root, tls12_only=tls12_only)
                    other.load_verify_locations(cadata=self.root.cert_pem)
                    self._contexts[tls12_only] = other
                ctx = self._contexts[tls12_only]
        with self._lock:
            sub = self._made.get(SUB_CA)
            if sub is not None and not self._loaded.get(id(ctx)):
                ctx.load_verify_locations(cadata=sub.cert_pem)
                self._loaded[id(ctx)] = 1
        return ctx
