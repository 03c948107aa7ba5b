"""AcmeApp: the lab ACME server's logic (RFC 8555): request -> reply, no sockets.

Serves the directory, nonces, accounts (JWS with an EC P-256 ``jwk`` or
``kid``; signatures, nonces and the ``url`` header checked), orders for
``dns`` identifiers, ``http-01`` challenges (validated through the
``validate`` callable the server gives: a real HTTP fetch from the device),
finalization (the CSR must name exactly the order's identifiers) and the
certificate chain (leaf + the lab CA), issued from the lab CA for 90 days on
the lab clock.  The records (:mod:`.acmestate`) live in memory (the embedded
``acme.lab``: a restart forgets them, as pebble does) or, given a
:class:`~.acmestate.RecordFile` (a classroom ``lab-server``), also on disk: each
signed request's change is saved before it is answered, and a change that
cannot be saved is undone and answered ``500 serverInternal``.

Choices: the protected ``url`` must match the request's path (the host part
may differ: the device reaches ``acme.lab`` through the lab host map); only
ES256 account keys; no EAB, key roll-over or revocation (the directory does
not announce them).  Knobs (:class:`AcmeFaults`): ``invalid_challenges``
(every validation fails), ``bad_nonces`` (the next N signed requests get
``badNonce``), ``rate_limited`` (``newOrder`` answers 429 ``rateLimited`` with
``Retry-After``), ``slow_validation`` (seconds before a validation completes;
the authorization stays ``pending`` with ``Retry-After: 1`` meanwhile).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..acme import jws
from .acmestate import Account, Authz, Order, RecordFile, Records
from .ca import LabCA
from .state import LabState

PROBLEM = "urn:ietf:params:acme:error:"
log = logging.getLogger("fortishell.lab")
ISSUED_DAYS = 90
# (domain, token, address of the client that said the challenge is ready) -> (answer, or why it failed)
Validator = Callable[[str, str, str], "tuple[bool, str]"]


@dataclass
class AcmeFaults:
    """The lab ACME server's knobs (see the module docstring); ``lab-server --acme-*`` flags
    (``ACME_FAULT_HELP``), or set from Python (``device.acme.lab.faults``)."""

    invalid_challenges: bool = False
    bad_nonces: int = 0
    rate_limited: bool = False
    slow_validation: float = 0.0

    def describe(self) -> str:
        """The knobs in force, for ``lab-server``'s start-up line ('' when none)."""
        knobs = [name.replace("_", "-") if value is True else
                 f"{name.replace('_', '-')}={value:g}{'s' if isinstance(value, float) else ''}"
                 for name, value in vars(self).items() if value]
        return ", ".join(knobs)


# knob -> help of its `lab-server --acme-KNOB` flag (booleans are switches; the others take a value)
ACME_FAULT_HELP = {
    "invalid_challenges": "every http-01 validation fails (unauthorized), whatever the device answers "
                          "(default: off)",
    "bad_nonces": "answer the next N signed requests badNonce, fresh nonce or not (default: 0)",
    "rate_limited": "newOrder answers 429 rateLimited with Retry-After: 3600 (default: off)",
    "slow_validation": "validate http-01 SECONDS (0-600) after the device says it is ready; the "
                       "authorization stays pending, with Retry-After: 1, meanwhile (default: 0)",
}


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


class Problem(Exception):
    def __init__(self, status: int, kind: str, detail: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail, self.headers = status, kind, detail, headers


class AcmeApp:
    def __init__(self, ca: LabCA, validate: Validator, *, now: Callable[[], _dt.datetime] | None = None,
                 faults: AcmeFaults | None = None, state: LabState | None = None,
                 records: RecordFile | None = None) -> None:
        self.ca, self.validate = ca, validate
        self.state = state  # the lab CA state: its serial counter and index (a classroom lab-server)
        self._client = ""
        self.now = now or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.faults = faults or AcmeFaults()
        self._lock = threading.RLock()
        self._nonces: set[str] = set()
        self._file = records
        self.records = records.load() if records is not None else Records()
        self.records.abandon_validations("the lab ACME server restarted before the validation finished")
        self.issued: list[x509.Certificate] = []
        self._timers: set[threading.Timer] = set()  # slow validations still to run

    # ------------------------------------------------------------ entry point
    def handle(self, method: str, path: str, body: bytes, base: str, client: str = "") -> Reply:
        """One request; ``base`` is ``https://host[:port]`` as the client addressed the server,
        ``client`` the address the request came from."""
        try:
            if path == "/directory" and method in ("GET", "HEAD"):
                return self._json(200, self._directory(base))
            if path == "/acme/new-nonce" and method in ("GET", "HEAD"):
                return Reply(200 if method == "HEAD" else 204, b"", (("Cache-Control", "no-store"),
                                                                     ("Replay-Nonce", self._nonce())))
            if method != "POST":
                raise Problem(405, "malformed", f"{method} is not allowed on {path}")
            with self._lock:
                self._client = client
                before = self.records.to_dict() if self._file is not None else None
                try:
                    reply = self._post(path, body, base)
                except Problem as p:
                    reply = self._problem(p)
                except BaseException:  # a lab server bug (answered 500 by the server): nothing half-made stays
                    if before is not None:
                        self.records = Records.from_dict(before)
                    raise
                return reply if before is None or self._saved(before) else self._problem(
                    Problem(500, "serverInternal", "the lab ACME state could not be saved"))
        except Problem as p:
            return self._problem(p)

    def _saved(self, before: dict[str, Any]) -> bool:
        """Save the records if they changed (lock held); on failure put ``before`` back: all or nothing."""
        assert self._file is not None
        after = self.records.to_dict()
        if after == before:
            return True
        try:
            self._file.save(after)
        except OSError as exc:
            log.error("lab ACME server: cannot save %s: %s", self._file.path, exc.strerror or exc)
            self.records = Records.from_dict(before)
            return False
        return True

    def _post(self, path: str, body: bytes, base: str) -> Reply:
        protected, payload, jwk_key = self._verify(path, body)
        if path == "/acme/new-account":
            return self._new_account(payload, jwk_key, base)
        account = self._account_of(protected)
        kind, _, ident = path.removeprefix("/acme/").partition("/")
        handlers: dict[str, Callable[[str, str, Any, str], Reply]] = {
            "new-order": lambda a, i, p, b: self._new_order(a, p, b),
            "acct": self._acct, "order": self._order, "authz": self._authz, "chall": self._chall,
            "finalize": self._finalize, "cert": self._cert,
        }
        handler = handlers.get(kind)
        if handler is None:
            raise Problem(404, "malformed", f"no resource at {path}")
        return handler(account, ident, payload, base)

    # ------------------------------------------------------------ JWS
    def _verify(self, path: str, body: bytes) -> tuple[dict[str, Any], Any, ec.EllipticCurvePublicKey | None]:
        try:
            protected, payload, key = jws.verify(body)
        except jws.JwsError as exc:
            raise Problem(400, "malformed", exc.lines[0] if exc.lines else "malformed JWS") from None
        if protected.get("alg") != "ES256":
            raise Problem(400, "badSignatureAlgorithm", "only ES256 is supported")
        nonce = str(protected.get("nonce") or "")
        if self.faults.bad_nonces > 0 or nonce not in self._nonces:
            self.faults.bad_nonces = max(0, self.faults.bad_nonces - 1)
            self._nonces.discard(nonce)
            raise Problem(400, "badNonce", "JWS has an invalid anti-replay nonce")
        self._nonces.discard(nonce)
        if urlsplit(str(protected.get("url") or "")).path != path:
            raise Problem(401, "unauthorized", "the JWS url header does not match the request URL")
        if key is None:
            kid = str(protected.get("kid") or "")
            account = self.records.accounts.get(urlsplit(kid).path.rsplit("/", 1)[-1])
            if account is None:
                raise Problem(400, "accountDoesNotExist", f"no account {kid}")
            key = account.key
        if not jws.check_signature(body, key):
            raise Problem(403, "unauthorized", "JWS verification error")
        return protected, payload, key if protected.get("jwk") else None

    def _account_of(self, protected: dict[str, Any]) -> str:
        kid = str(protected.get("kid") or "")
        if not kid:
            raise Problem(400, "malformed", "a kid is required")
        account_id = urlsplit(kid).path.rsplit("/", 1)[-1]
        status = self.records.accounts[account_id].status
        if status != "valid":
            raise Problem(403, "unauthorized", f"account {kid} is {status}")
        return account_id

    # ------------------------------------------------------------ resources
    def _directory(self, base: str) -> dict[str, Any]:
        return {"newNonce": f"{base}/acme/new-nonce", "newAccount": f"{base}/acme/new-account",
                "newOrder": f"{base}/acme/new-order",
                "meta": {"termsOfService": f"{base}/terms", "externalAccountRequired": False}}

    def _new_account(self, payload: Any, key: ec.EllipticCurvePublicKey | None, base: str) -> Reply:
        if key is None:
            raise Problem(400, "malformed", "newAccount needs a jwk")
        if not isinstance(payload, dict):
            raise Problem(400, "malformed", "newAccount payload must be an object")
        public = jws.public_jwk(key)
        for account_id, known in self.records.accounts.items():
            if known.jwk == public:
                return self._json(200, self._public(known), location=f"{base}/acme/acct/{account_id}")
        if payload.get("onlyReturnExisting"):
            raise Problem(400, "accountDoesNotExist", "no account for this key")
        if not payload.get("termsOfServiceAgreed"):
            raise Problem(403, "userActionRequired", "the terms of service must be agreed")
        contact = [str(c) for c in payload.get("contact") or []]
        if any(not c.startswith("mailto:") for c in contact):
            raise Problem(400, "unsupportedContact", "only mailto: contacts are supported")
        account_id = self.records.new_id()
        self.records.accounts[account_id] = Account(key, public, contact)
        return self._json(201, self._public(self.records.accounts[account_id]),
                          location=f"{base}/acme/acct/{account_id}")

    def _acct(self, account: str, ident: str, payload: Any, base: str) -> Reply:
        if ident != account:
            raise Problem(403, "unauthorized", "not your account")
        known = self.records.accounts[account]
        if isinstance(payload, dict) and payload.get("status") == "deactivated":
            known.status = "deactivated"
        return self._json(200, self._public(known), location=f"{base}/acme/acct/{account}")

    def deactivate(self, account_url: str) -> None:
        """The lab operator revokes an account (tests, the classroom)."""
        with self._lock:
            before = self.records.to_dict() if self._file is not None else None
            self.records.accounts[urlsplit(account_url).path.rsplit("/", 1)[-1]].status = "deactivated"
            if before is not None:
                self._saved(before)

    def _new_order(self, account: str, payload: Any, base: str) -> Reply:
        if self.faults.rate_limited:
            raise Problem(429, "rateLimited", "too many new orders recently", (("Retry-After", "3600"),))
        idents = payload.get("identifiers") if isinstance(payload, dict) else None
        if not isinstance(idents, list) or not idents:
            raise Problem(400, "malformed", "an order needs identifiers")
        domains: list[str] = []
        for ident in idents:
            if not isinstance(ident, dict) or ident.get("type") != "dns":
                raise Problem(400, "unsupportedIdentifier", "only dns identifiers are supported")
            if not _dns_name(str(ident.get("value"))):
                raise Problem(400, "rejectedIdentifier",
                              f'Cannot issue for "{ident.get("value")}": Domain name is not a valid DNS name')
            domains.append(str(ident["value"]).lower())
        order_id = self.records.new_id()
        authzs = []
        for domain in domains:
            authz_id = self.records.new_id()
            self.records.authzs[authz_id] = Authz(domain, jws.b64u(secrets.token_bytes(32)), orders=[order_id])
            authzs.append(authz_id)
        self.records.orders[order_id] = Order(account, domains, authzs)
        return self._json(201, self._order_obj(order_id, base), location=f"{base}/acme/order/{order_id}")

    def _order(self, account: str, ident: str, payload: Any, base: str) -> Reply:
        self._own(account, ident)
        return self._json(200, self._order_obj(ident, base), location=f"{base}/acme/order/{ident}")

    def _authz(self, account: str, ident: str, payload: Any, base: str) -> Reply:
        authz = self.records.authzs.get(ident)
        if authz is None or self.records.orders[authz.orders[0]].account != account:
            raise Problem(404, "malformed", f"no authorization {ident}")
        headers = (("Retry-After", "1"),) if authz.challenge_status == "processing" else ()
        return self._json(200, self._authz_obj(ident, base), extra=headers)

    def _chall(self, account: str, ident: str, payload: Any, base: str) -> Reply:
        authz = self.records.authzs.get(ident)
        if authz is None or self.records.orders[authz.orders[0]].account != account:
            raise Problem(404, "malformed", f"no challenge {ident}")
        if authz.challenge_status == "pending" and payload is not None:
            authz.challenge_status = "processing"
            authz.client = self._client
            if self.faults.slow_validation > 0:
                timer = threading.Timer(self.faults.slow_validation, self._run_validation, (ident, True))
                timer.daemon = True
                self._timers.add(timer)
                timer.start()
            else:
                self._run_validation(ident)
        return self._json(200, self._challenge_obj(ident, base),
                          extra=(("Link", f'<{base}/acme/authz/{ident}>;rel="up"'),))

    def close(self) -> None:
        """Call off the slow validations still to run (the server stops: a stopped server
        writes nothing more; after a restart they are ``invalid``, see :mod:`.acmestate`)."""
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        for timer in timers:
            timer.join(1.0)

    def _run_validation(self, ident: str, later: bool = False) -> None:
        """Validate ``ident``'s http-01 answer; ``later``: on a timer thread (slow validation), the
        outcome is saved here (a request's changes are saved when it is answered)."""
        with self._lock:
            authz = self.records.authzs[ident]
            key = self.records.accounts[self.records.orders[authz.orders[0]].account].key
        expected = f"{authz.token}.{_thumbprint(key)}"
        if self.faults.invalid_challenges:
            ok, detail = False, "the lab server's invalid_challenges knob is on"
        else:
            answer, detail = self.validate(authz.domain, authz.token, authz.client)
            ok = answer and detail.strip() == expected
            if answer and not ok:
                detail = f'the key authorization file from the server did not match ("{detail.strip()[:80]}")'
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t is not threading.current_thread()}
            before = self.records.to_dict() if later and self._file is not None else None
            authz = self.records.authzs.get(ident, authz)
            if authz.challenge_status != "processing":
                return  # a restart or an undone change already decided it
            authz.challenge_status = authz.status = "valid" if ok else "invalid"
            authz.validated = _stamp(self.now())
            if not ok:
                authz.error = {"type": PROBLEM + ("unauthorized" if "match" in detail or "knob" in detail
                                                  else "connection"),
                               "detail": f"{authz.domain}: {detail}", "status": 403}
            for order_id in authz.orders:
                order = self.records.orders[order_id]
                states = {self.records.authzs[a].status for a in order.authzs}
                if "invalid" in states:
                    order.status, order.error = "invalid", authz.error
                elif states == {"valid"}:
                    order.status = "ready"
            if before is not None:
                self._saved(before)  # not saved: undone, the authorization stays processing (logged)

    def _finalize(self, account: str, ident: str, payload: Any, base: str) -> Reply:
        order = self._own(account, ident)
        if order.status != "ready":
            raise Problem(403, "orderNotReady", f"order {ident} is {order.status}")
        try:
            csr = x509.load_der_x509_csr(jws.b64u_decode(str((payload or {}).get("csr") or "")))
        except (ValueError, jws.JwsError):
            raise Problem(400, "badCSR", "the CSR is not a DER PKCS#10 request") from None
        if not csr.is_signature_valid:
            raise Problem(400, "badCSR", "the CSR signature is not valid")
        try:
            names = sorted(n.lower() for n in csr.extensions.get_extension_for_class(
                x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            names = []
        if names != sorted(order.domains):
            raise Problem(400, "badCSR", f"the CSR names {names}, the order {sorted(order.domains)}")
        cert = self._issue(csr, order.domains)
        cert_id = self.records.new_id()
        self.records.certs[cert_id] = "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii")
                                       for c in (cert, self.ca.cert))
        order.status, order.cert = "valid", cert_id
        return self._json(200, self._order_obj(ident, base), location=f"{base}/acme/order/{ident}")

    def _cert(self, account: str, ident: str, payload: Any, base: str) -> Reply:
        pem = self.records.certs.get(ident)
        if pem is None or not any(o.cert == ident and o.account == account for o in self.records.orders.values()):
            raise Problem(404, "malformed", f"no certificate {ident}")
        return Reply(200, pem.encode("ascii"), (("Content-Type", "application/pem-certificate-chain"),
                                                ("Replay-Nonce", self._nonce())))

    def _issue(self, csr: x509.CertificateSigningRequest, domains: list[str]) -> x509.Certificate:
        now = self.now().astimezone(_dt.timezone.utc).replace(microsecond=0)
        key = csr.public_key()
        serial = self.state.next_serial() if self.state is not None else x509.random_serial_number()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])]))
            .issuer_name(self.ca.cert.subject)
            .public_key(key)
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(now + _dt.timedelta(days=ISSUED_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False)
        )
        cert = builder.sign(self.ca.key, hashes.SHA256())
        if self.state is not None:
            self.state.record(serial, subject=cert.subject.rfc4514_string(),
                              not_after=cert.not_valid_after_utc.isoformat(),
                              pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), op="acme")
        self.issued.append(cert)
        return cert

    # ------------------------------------------------------------ objects
    def _own(self, account: str, ident: str) -> Order:
        order = self.records.orders.get(ident)
        if order is None or order.account != account:
            raise Problem(404, "malformed", f"no order {ident}")
        return order

    def _order_obj(self, ident: str, base: str) -> dict[str, Any]:
        order = self.records.orders[ident]
        obj: dict[str, Any] = {
            "status": order.status, "identifiers": [{"type": "dns", "value": d} for d in order.domains],
            "authorizations": [f"{base}/acme/authz/{a}" for a in order.authzs],
            "finalize": f"{base}/acme/finalize/{ident}",
            "expires": _stamp(self.now() + _dt.timedelta(days=7)),
        }
        if order.cert:
            obj["certificate"] = f"{base}/acme/cert/{order.cert}"
        if order.error:
            obj["error"] = order.error
        return obj

    def _authz_obj(self, ident: str, base: str) -> dict[str, Any]:
        authz = self.records.authzs[ident]
        return {"status": authz.status, "identifier": {"type": "dns", "value": authz.domain},
                "challenges": [self._challenge_obj(ident, base)],
                "expires": _stamp(self.now() + _dt.timedelta(days=7))}

    def _challenge_obj(self, ident: str, base: str) -> dict[str, Any]:
        authz = self.records.authzs[ident]
        obj: dict[str, Any] = {"type": "http-01", "url": f"{base}/acme/chall/{ident}", "token": authz.token,
                               "status": authz.challenge_status}
        if authz.validated:
            obj["validated"] = authz.validated
        if authz.error:
            obj["error"] = authz.error
        return obj

    @staticmethod
    def _public(account: Account) -> dict[str, Any]:
        return {"status": account.status, "contact": account.contact, "orders": ""}

    # ------------------------------------------------------------ replies
    def _nonce(self) -> str:
        nonce = jws.b64u(secrets.token_bytes(16))
        with self._lock:
            self._nonces.add(nonce)
        return nonce

    def _json(self, status: int, obj: Any, *, location: str | None = None,
              extra: tuple[tuple[str, str], ...] = ()) -> Reply:
        headers = [("Content-Type", "application/json"), ("Replay-Nonce", self._nonce()), *extra]
        if location:
            headers.append(("Location", location))
        return Reply(status, json.dumps(obj, indent=2).encode("utf-8"), tuple(headers))

    def _problem(self, p: Problem) -> Reply:
        body = json.dumps({"type": PROBLEM + p.kind, "detail": p.detail, "status": p.status}).encode("utf-8")
        return Reply(p.status, body, (("Content-Type", "application/problem+json"), ("Replay-Nonce", self._nonce()),
                                      *p.headers))


def _thumbprint(key: ec.EllipticCurvePublicKey) -> str:
    import hashlib

    canonical = json.dumps(jws.public_jwk(key), sort_keys=True, separators=(",", ":")).encode("ascii")
    return jws.b64u(hashlib.sha256(canonical).digest())


def _dns_name(value: str) -> bool:
    labels = value.rstrip(".").split(".")
    return len(labels) >= 2 and all(0 < len(lab) < 64 and lab.replace("-", "").isalnum() for lab in labels)


def _stamp(when: _dt.datetime) -> str:
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
