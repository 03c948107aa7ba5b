"""The lab SCEP responder's logic (lab/scepapp.py), in process: request in, reply out."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from scepkit import LAB_TIME, Requester, csr_der, csr_for

from fortishell.clock import Clock
from fortishell.lab.ca import LabCA
from fortishell.lab.scepapp import CAPS, ScepApp, ScepFaults, ScepRequest
from fortishell.lab.scepca import identity
from fortishell.lab.state import LabState
from fortishell.scep.message import FailInfo, MessageType, PkiStatus, parse_with


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lab state with the RA and the issuing sub-CA made once (RSA key generation is slow)."""
    lab = tmp_path_factory.mktemp("scep-seed") / "est-lab"
    identity(LabCA.shipped(), lab, single_ca=False)
    identity(LabCA.shipped(), lab, single_ca=True)
    return lab


@pytest.fixture()
def lab(tmp_path: Path, seeded: Path) -> Path:
    shutil.copytree(seeded, tmp_path / "est-lab")
    return tmp_path / "est-lab"


@pytest.fixture()
def clock() -> Clock:
    return Clock(fixed=LAB_TIME)


def make_app(lab: Path, clock: Clock, **kw: object) -> ScepApp:
    return ScepApp(LabCA.shipped(), LabState(lab), lab, now=clock.now, **kw)  # type: ignore[arg-type]


@pytest.fixture()
def app(lab: Path, clock: Clock) -> ScepApp:
    return make_app(lab, clock)


def post(app: ScepApp, der: bytes, path: str = "/scep"):
    return app.handle(ScepRequest("POST", f"{path}?operation=PKIOperation", der))


# ---------------------------------------------------------------- GetCACaps / GetCACert / routing
def test_getcacaps_on_both_paths(app: ScepApp) -> None:
    for path in ("/scep", "/certsrv/mscep/mscep.dll", "/scep/"):
        reply = app.handle(ScepRequest("GET", f"{path}?operation=GetCACaps"))
        assert (reply.status, reply.content_type) == (200, "text/plain")
        assert reply.body.decode().split("\n") == list(CAPS)
        assert "AES" in CAPS and "POSTPKIOperation" in CAPS and "Renewal" in CAPS
    assert app.handle(ScepRequest("GET", "/other?operation=GetCACaps")).status == 404
    assert app.handle(ScepRequest("GET", "/scep?operation=Nonsense")).status == 400
    assert app.handle(ScepRequest("GET", "/scep")).status == 400
    assert app.handle(ScepRequest("POST", "/scep?operation=GetCACaps")).status == 405


def test_getcacert_ca_plus_ra(app: ScepApp) -> None:
    reply = app.handle(ScepRequest("GET", "/scep?operation=GetCACert&message=CAIdentifier"))
    assert (reply.status, reply.content_type) == (200, "application/x-x509-ca-ra-cert")
    certs = pkcs7.load_der_pkcs7_certificates(reply.body)  # a DER SET: in encoding order, not [RA, root]
    root = LabCA.shipped().cert
    assert len(certs) == 2 and root in certs
    (ra,) = [c for c in certs if c != root]
    ra.verify_directly_issued_by(root)
    key = ra.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    usage = ra.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign


def test_getcacert_single_ca(lab: Path, clock: Clock) -> None:
    app = make_app(lab, clock, single_ca=True)
    reply = app.handle(ScepRequest("GET", "/certsrv/mscep/mscep.dll?operation=GetCACert"))
    assert (reply.status, reply.content_type) == (200, "application/x-x509-ca-cert")
    sub = x509.load_der_x509_certificate(reply.body)
    sub.verify_directly_issued_by(LabCA.shipped().cert)
    assert sub.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(sub.public_key(), rsa.RSAPublicKey)


# ---------------------------------------------------------------- PKCSReq
def test_pkcsreq_success_post_and_get(app: ScepApp, lab: Path) -> None:
    ra = app.identity.cert
    for n, method in enumerate(("POST", "GET")):
        req = Requester.new(n, cn=f"student{n}")
        der = req.pkcsreq(ra, cn=f"student{n}")
        if method == "POST":
            reply = post(app, der)
        else:  # base64 in the query, its '+' left unescaped (arrives as a space)
            b64 = base64.b64encode(der).decode().replace("+", " ")
            reply = app.handle(ScepRequest("GET", f"/certsrv/mscep/mscep.dll?operation=PKIOperation&message={b64}"))
        assert (reply.status, reply.content_type) == (200, "application/x-pki-message"), reply.body
        rep = req.read(reply.body, ra)
        assert rep.status == PkiStatus.SUCCESS and rep.fail_info is None
        cert = req.certificate(rep)
        cert.verify_directly_issued_by(LabCA.shipped().cert)
        assert cert.public_key() == req.key.public_key()
        assert cert.subject.rfc4514_string() == f"CN=student{n}"
        assert cert.not_valid_before_utc == LAB_TIME  # the lab clock
        assert reply.serial == cert.serial_number and reply.outcome == "SUCCESS"
        assert reply.op == f"scep-PKCSReq:{req.txid}"
        assert LabState(lab).issued()[cert.serial_number]["op"] == "scep pkcsreq"


def test_wrong_or_missing_challenge_fails_bad_request(app: ScepApp, lab: Path) -> None:
    for challenge in ("wrong", None):
        req = Requester.new()
        reply = post(app, req.pkcsreq(app.identity.cert, challenge=challenge))
        rep = req.read(reply.body, app.identity.cert)
        assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_REQUEST)
        assert rep.enveloped is None and reply.outcome == "FAILURE(badRequest)"
    assert LabState(lab).issued() == {}


def test_challenge_is_the_configured_one(lab: Path, clock: Clock) -> None:
    app = make_app(lab, clock, challenge="s3cret")
    req = Requester.new()
    assert req.read(post(app, req.pkcsreq(app.identity.cert)).body, app.identity.cert).status == PkiStatus.FAILURE
    rep = req.read(post(app, req.pkcsreq(app.identity.cert, challenge="s3cret")).body, app.identity.cert)
    assert rep.status == PkiStatus.SUCCESS


@pytest.mark.parametrize("knob, info", [("bad_request", FailInfo.BAD_REQUEST),
                                        ("bad_message_check", FailInfo.BAD_MESSAGE_CHECK),
                                        ("bad_time", FailInfo.BAD_TIME)])
def test_fault_knobs(lab: Path, clock: Clock, knob: str, info: FailInfo) -> None:
    app = make_app(lab, clock, faults=ScepFaults(**{knob: True}))
    req = Requester.new()
    rep = req.read(post(app, req.pkcsreq(app.identity.cert)).body, app.identity.cert)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, info)


def test_bad_messages(app: ScepApp) -> None:
    # not a pkiMessage at all: no transaction to answer in
    reply = post(app, b"\x30\x03\x02\x01\x01")
    assert reply.status == 400 and reply.body.startswith(b"PKIOperation: ")
    assert app.handle(ScepRequest("GET", "/scep?operation=PKIOperation&message=%%%")).status == 400
    assert post(app, b"").status == 400
    # enveloped to someone else: the RA cannot read it
    req = Requester.new()
    other = Requester.new(1, cn="other")
    rep = req.read(post(app, req.pkcsreq(other.signer)).body, app.identity.cert)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_MESSAGE_CHECK)
    # a payload that is no CSR
    rep = req.read(post(app, req.request(app.identity.cert, b"not a CSR")).body, app.identity.cert)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_REQUEST)
    # GetCRL is not served
    rep = req.read(post(app, req.request(app.identity.cert, b"x", MessageType.GET_CRL)).body, app.identity.cert)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_REQUEST)


# ---------------------------------------------------------------- RenewalReq
def test_renewal_signed_by_an_issued_certificate(app: ScepApp, lab: Path, clock: Clock) -> None:
    ra = app.identity.cert
    first = Requester.new()
    current = first.certificate(first.read(post(app, first.pkcsreq(ra)).body, ra))
    # the renewal: a new key's CSR, no challenge, signed with the current certificate and its key
    renewer = Requester(first.key, current, first.txid)
    new_key = Requester.new(1).key
    der = renewer.request(ra, csr_der(csr_for(new_key, "student1")), MessageType.RENEWAL_REQ)
    rep = renewer.read(post(app, der).body, ra)
    assert rep.status == PkiStatus.SUCCESS
    renewed = renewer.certificate(rep)
    assert renewed.public_key() == new_key.public_key() and renewed.serial_number != current.serial_number
    # a self-signed signer is no renewal
    stranger = Requester.new(1)
    der = stranger.request(ra, csr_der(csr_for(new_key, "student1")), MessageType.RENEWAL_REQ)
    rep = stranger.read(post(app, der).body, ra)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_REQUEST)
    # a revoked one neither
    LabState(lab).revoke(current.serial_number, LAB_TIME.isoformat())
    rep = renewer.read(post(app, renewer.request(ra, csr_der(csr_for(new_key)), MessageType.RENEWAL_REQ)).body, ra)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_REQUEST)
    # nor an expired one (the renewed certificate, on a lab clock past its end)
    clock.set(renewed.not_valid_after_utc + dt.timedelta(seconds=1))
    late = Requester(new_key, renewed, first.txid)
    rep = late.read(post(app, late.request(ra, csr_der(csr_for(new_key)), MessageType.RENEWAL_REQ)).body, ra)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_REQUEST)


# ---------------------------------------------------------------- manual approval
def test_manual_approval_pending_then_success(lab: Path, clock: Clock) -> None:
    app = make_app(lab, clock, faults=ScepFaults(manual=True))
    ra, root = app.identity.cert, LabCA.shipped().cert
    req = Requester.new()
    reply = post(app, req.pkcsreq(ra))
    assert req.read(reply.body, ra).status == PkiStatus.PENDING and reply.outcome == "PENDING"
    (kept,) = app.pending.all()
    assert (kept.transaction_id, kept.status, kept.subject) == (req.txid, "pending", "CN=student1")
    assert req.read(post(app, req.poll(ra, root.subject)).body, ra).status == PkiStatus.PENDING
    assert LabState(lab).issued() == {}
    app.pending.decide(req.txid, approve=True)
    reply = post(app, req.poll(ra, root.subject))
    cert = req.certificate(req.read(reply.body, ra))
    assert reply.op == f"scep-CertPoll:{req.txid}" and reply.serial == cert.serial_number
    # polled again (or the PKCSReq sent again): the same certificate, none issued twice
    assert req.certificate(req.read(post(app, req.poll(ra, root.subject)).body, ra)) == cert
    assert req.certificate(req.read(post(app, req.pkcsreq(ra)).body, ra)) == cert
    assert list(LabState(lab).issued()) == [cert.serial_number]
    assert app.pending.get(req.txid).status == "issued"  # type: ignore[union-attr]


def test_manual_approval_rejected_unknown_and_foreign_polls(lab: Path, clock: Clock) -> None:
    app = make_app(lab, clock, faults=ScepFaults(manual=True))
    ra, root = app.identity.cert, LabCA.shipped().cert
    req = Requester.new()
    post(app, req.pkcsreq(ra, challenge="wrong"))
    assert app.pending.all() == []  # a wrong challenge is refused at once, never held
    post(app, req.pkcsreq(ra))
    # a poll for this transaction signed by another key
    thief = Requester(Requester.new(1).key, Requester.new(1).signer, req.txid)
    rep = thief.read(post(app, thief.poll(ra, root.subject)).body, ra)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_MESSAGE_CHECK)
    app.pending.decide(req.txid, approve=False)
    rep = req.read(post(app, req.poll(ra, root.subject)).body, ra)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_REQUEST)
    stranger = Requester.new(1, cn="nobody")
    rep = stranger.read(post(app, stranger.poll(ra, root.subject)).body, ra)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_CERT_ID)
    assert LabState(lab).issued() == {}


# ---------------------------------------------------------------- single CA
def test_single_ca_issues_and_signs(lab: Path, clock: Clock) -> None:
    app = make_app(lab, clock, single_ca=True)
    sub = app.identity.cert
    req = Requester.new()
    reply = post(app, req.pkcsreq(sub))
    cert = req.certificate(req.read(reply.body, sub))
    cert.verify_directly_issued_by(sub)
    assert cert.issuer == sub.subject
    # its certificates renew with it too
    renewer = Requester(req.key, cert, req.txid)
    rep = renewer.read(post(app, renewer.request(sub, csr_der(csr_for(req.key)), MessageType.RENEWAL_REQ)).body, sub)
    assert rep.status == PkiStatus.SUCCESS


def test_certrep_is_not_signed_by_anyone_else(app: ScepApp) -> None:
    req = Requester.new()
    reply = post(app, req.pkcsreq(app.identity.cert))
    with pytest.raises(ValueError):
        parse_with(reply.body, [req.signer])
    assert parse_with(reply.body, [app.identity.cert]).signer == app.identity.cert


def test_manual_approval_refuses_a_csr_it_could_never_issue_at_once(lab: Path, clock: Clock) -> None:
    app = make_app(lab, clock, faults=ScepFaults(manual=True))
    req = Requester.new()
    no_cn = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(x509.oid.NameOID.ORGANIZATION_NAME, "lab")])).add_attribute(
        x509.oid.AttributeOID.CHALLENGE_PASSWORD, b"fortinet-lab").sign(req.key, hashes.SHA256())
    rep = req.read(post(app, req.request(app.identity.cert, csr_der(no_cn))).body, app.identity.cert)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_REQUEST)
    assert app.pending.all() == []  # not held for a trainer to approve in vain


def test_the_approval_path_holds_requests_and_approve_all_decides_them(lab: Path, clock: Clock) -> None:
    """The embedded lab has no --scep-manual: /approval/scep holds every PKCSReq (the PENDING exercise),
    /scep beside it still issues at once; lab-ca approve --all (decide_all) settles every held one."""
    app = make_app(lab, clock)
    ra, root = app.identity.cert, LabCA.shipped().cert
    held, other, direct = Requester.new(), Requester.new(1, cn="student2"), Requester.new(2, cn="student3")
    for req in (held, other):
        assert req.read(post(app, req.pkcsreq(ra, cn=req.signer.subject.rfc4514_string()[3:]),
                             "/approval/scep").body, ra).status == PkiStatus.PENDING
    assert direct.read(post(app, direct.pkcsreq(ra, cn="student3")).body, ra).status == PkiStatus.SUCCESS
    decided = app.pending.decide_all(approve=True)
    assert sorted(r.transaction_id for r in decided) == sorted([held.txid, other.txid])
    assert app.pending.decide_all(approve=True) == []  # nothing left waiting
    for req in (held, other):
        assert req.read(post(app, req.poll(ra, root.subject), "/approval/scep").body, ra).status == PkiStatus.SUCCESS


@pytest.mark.parametrize("single_ca", [False, True], ids=["ca-plus-ra", "single-ca"])
def test_a_refused_csr_uses_no_serial(lab: Path, clock: Clock, single_ca: bool) -> None:
    """A CSR the lab will not sign (no CN) is refused before a serial is allocated: the next accepted
    request gets the very next serial, so the lab's serials have no gap."""
    app = make_app(lab, clock, single_ca=single_ca)
    state = LabState(lab)
    first = state.next_serial()  # what the counter stands at now (taken here, so the next is first + 1)
    req = Requester.new(cn="no-cn")
    no_cn = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(x509.oid.NameOID.ORGANIZATION_NAME, "lab")])).add_attribute(
        x509.oid.AttributeOID.CHALLENGE_PASSWORD, b"fortinet-lab").sign(req.key, hashes.SHA256())
    rep = req.read(post(app, req.request(app.identity.cert, csr_der(no_cn))).body, app.identity.cert)
    assert (rep.status, rep.fail_info) == (PkiStatus.FAILURE, FailInfo.BAD_REQUEST)
    good = Requester.new(1, cn="student1")
    rep = good.read(post(app, good.pkcsreq(app.identity.cert, cn="student1")).body, app.identity.cert)
    assert rep.status == PkiStatus.SUCCESS
    cert = good.certificate(rep)
    assert cert.serial_number == first + 1
    assert sorted(LabState(lab).issued()) == [first + 1]
    assert LabState(lab).next_serial() == first + 2  # persisted: a fresh reader continues after it
