"""certs/trust.py: chains, CA replies and CRL signers, on certificates built here."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fortishell.certs import trust
from fortishell.certs.trust import Anchors, ReplyPolicy, Untrusted

UTC = dt.timezone.utc
T0 = dt.datetime(2020, 1, 1, tzinfo=UTC)
T1 = dt.datetime(2030, 1, 1, tzinfo=UTC)
NOW = dt.datetime(2024, 6, 1, tzinfo=UTC)
Key = ec.EllipticCurvePrivateKey


def key() -> Key:
    return ec.generate_private_key(ec.SECP256R1())


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def cert(subject: str, subject_key: Key, issuer: str, issuer_key: Key, *, ca: bool = True,
         path_length: int | None = None, key_usage: x509.KeyUsage | None = None, aki_of: Key | None = None,
         not_before: dt.datetime = T0, not_after: dt.datetime = T1) -> x509.Certificate:
    b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
         .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key((aki_of or issuer_key).public_key()),
                        critical=False))
    if key_usage is not None:
        b = b.add_extension(key_usage, critical=True)
    return b.sign(issuer_key, hashes.SHA256())


def usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(True, False, False, False, False, cert_sign, cert_sign, False, False)


@pytest.fixture(scope="module")
def pki() -> dict[str, object]:
    rk, ik = key(), key()
    root = cert("Root", rk, "Root", rk)
    sub = cert("Sub", ik, "Root", rk, path_length=0)
    lk = key()
    leaf = cert("leaf", lk, "Sub", ik, ca=False)
    return {"rk": rk, "ik": ik, "root": root, "sub": sub, "leaf": leaf}


def reason(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(Untrusted) as info:
        call()
    return info.value.reason


# ------------------------------------------------------------------ chains
def test_leaf_through_an_intermediate_of_the_store(pki) -> None:
    store = Anchors.store([pki["root"], pki["sub"]])
    assert store.anchors == (pki["root"],) and store.intermediates == (pki["sub"],)
    chain = trust.verify_chain(pki["leaf"], store, at=NOW)
    assert chain.certs == (pki["leaf"], pki["sub"], pki["root"])


def test_a_store_intermediate_is_no_anchor_but_a_chosen_one_is(pki) -> None:
    assert reason(lambda: trust.verify_chain(pki["leaf"], Anchors.store([pki["sub"]]))) == trust.NO_ISSUER
    assert trust.verify_chain(pki["leaf"], Anchors.chosen([pki["sub"]])).anchor == pki["sub"]


def test_validity_on_the_given_clock(pki) -> None:
    store = Anchors.store([pki["root"], pki["sub"]])
    assert reason(lambda: trust.verify_chain(pki["leaf"], store, at=T1 + dt.timedelta(days=1))) == trust.EXPIRED
    assert reason(lambda: trust.verify_chain(pki["leaf"], store, at=T0 - dt.timedelta(days=1))) == \
        trust.NOT_YET_VALID
    rk = pki["rk"]
    old_sub_key = key()
    expired_sub = cert("Old", old_sub_key, "Root", rk, not_after=dt.datetime(2021, 1, 1, tzinfo=UTC))
    leaf = cert("l2", key(), "Old", old_sub_key, ca=False)
    assert reason(lambda: trust.verify_chain(leaf, Anchors.store([pki["root"], expired_sub]), at=NOW)) == \
        trust.EXPIRED
    assert trust.verify_chain(leaf, Anchors.store([pki["root"], expired_sub]), at=None)  # not checked


def test_a_certificate_just_issued_by_a_ca_whose_clock_runs_ahead(pki) -> None:
    store = Anchors.store([pki["root"], pki["sub"]])
    ahead = cert("ahead", key(), "Sub", pki["ik"], ca=False, not_before=NOW + dt.timedelta(days=900))
    assert reason(lambda: trust.verify_chain(ahead, store, at=NOW)) == trust.NOT_YET_VALID
    assert trust.verify_chain(ahead, store, at=NOW, issued_now=True)
    gone = cert("gone", key(), "Sub", pki["ik"], ca=False, not_after=NOW - dt.timedelta(days=1))
    assert reason(lambda: trust.verify_chain(gone, store, at=NOW, issued_now=True)) == trust.EXPIRED


def test_an_issuer_that_is_not_a_ca_or_may_not_sign_certificates(pki) -> None:
    rk, ek = pki["rk"], key()
    not_ca = cert("EE", ek, "Root", rk, ca=False)
    leaf = cert("x", key(), "EE", ek, ca=False)
    assert reason(lambda: trust.verify_chain(leaf, Anchors.store([pki["root"], not_ca]))) == trust.INVALID_CA
    no_sign = cert("NoSign", ek, "Root", rk, key_usage=usage(False))
    leaf2 = cert("y", key(), "NoSign", ek, ca=False)
    assert reason(lambda: trust.verify_chain(leaf2, Anchors.store([pki["root"], no_sign]))) == trust.INVALID_CA
    signs = cert("Signs", ek, "Root", rk, key_usage=usage(True))
    leaf3 = cert("z", key(), "Signs", ek, ca=False)
    assert trust.verify_chain(leaf3, Anchors.store([pki["root"], signs]))


def test_path_length(pki) -> None:
    ik, k2 = pki["ik"], key()
    below = cert("Sub2", k2, "Sub", ik)  # Sub has pathlen 0: no CA below it
    leaf = cert("deep", key(), "Sub2", k2, ca=False)
    assert reason(lambda: trust.verify_chain(leaf, Anchors.store([pki["root"], pki["sub"], below]))) == \
        trust.PATH_LENGTH


def test_a_wrong_signature_under_the_right_name_and_key_id(pki) -> None:
    forged = cert("forged", key(), "Root", key(), aki_of=pki["rk"])  # claims Root, signed by another key
    assert reason(lambda: trust.verify_chain(forged, Anchors.store([pki["root"]]))) == trust.BAD_SIGNATURE
    look_alike = cert("look", key(), "Root", key())  # another key id: not a candidate issuer at all
    assert reason(lambda: trust.verify_chain(look_alike, Anchors.store([pki["root"]]))) == trust.NO_ISSUER


# ------------------------------------------------------------------ CA replies
def twins() -> tuple[x509.Certificate, x509.Certificate]:
    ek = key()
    return cert("Evil Twin", ek, "Evil Twin", ek), cert("Evil Twin", ek, "Evil Twin", ek)


def test_evil_twins_are_refused_even_with_the_genuine_root_trusted(pki) -> None:
    r1, r2 = twins()
    assert trust.signed_by(r1, r2) and trust.signed_by(r2, r1) and r1 != r2
    policy = ReplyPolicy(Anchors.chosen([pki["root"]]), at=NOW)
    with pytest.raises(Untrusted) as info:
        trust.accept_ca_reply([pki["root"], r1, r2], policy)
    assert (info.value.index, info.value.reason) == (2, trust.SELF_SIGNED_IN_CHAIN)


def test_many_certificates_signing_one_another_cost_little(pki) -> None:
    import time

    ek = key()
    crowd = [cert("Evil Twin", ek, "Evil Twin", ek) for _ in range(30)]
    started = time.monotonic()
    with pytest.raises(Untrusted) as info:
        trust.accept_ca_reply([pki["root"], *crowd], ReplyPolicy(Anchors.chosen([pki["root"]]), at=NOW))
    assert info.value.index == 2 and info.value.reason.startswith("self-signed certificate")
    assert time.monotonic() - started < 20  # factorial search would not end


def test_intermediates_in_chain_order_and_a_rogue_root(pki) -> None:
    policy = ReplyPolicy(Anchors.chosen([pki["root"]]), at=NOW)
    accepted = trust.accept_ca_reply([pki["sub"], pki["root"]], policy)
    assert [c.anchor for c in accepted.chains] == [pki["root"], pki["root"]]
    rk = key()
    rogue = cert("Rogue", rk, "Rogue", rk)
    with pytest.raises(Untrusted) as info:
        trust.accept_ca_reply([pki["sub"], pki["root"], rogue], policy)
    assert (info.value.index, info.value.reason) == (3, trust.SELF_SIGNED_LEAF)


def test_a_vouched_root_only_when_it_is_the_only_root(pki) -> None:
    vouched = ReplyPolicy(Anchors(), at=NOW, vouched_root=True)
    accepted = trust.accept_ca_reply([pki["sub"], pki["root"]], vouched)
    assert accepted.root == pki["root"]
    r1, r2 = twins()
    with pytest.raises(Untrusted) as info:
        trust.accept_ca_reply([pki["root"], r1, r2], vouched)
    assert info.value.reason == trust.SEVERAL_ROOTS
    rk = key()
    rogue = cert("Rogue", rk, "Rogue", rk)
    trusting = ReplyPolicy(Anchors.chosen([pki["root"]]), at=NOW, vouched_root=True)
    with pytest.raises(Untrusted) as info:  # beside the root the device trusts: not vouched for
        trust.accept_ca_reply([pki["root"], rogue], trusting)
    assert (info.value.index, info.value.reason) == (2, trust.SELF_SIGNED_LEAF)
    with pytest.raises(Untrusted) as info:  # an intermediate alone is no anchor
        trust.accept_ca_reply([pki["sub"]], vouched)
    assert info.value.reason == trust.NO_ISSUER


def test_root_key_rollover_certificates_chain_to_the_old_root() -> None:
    """RFC 7030 4.1.3: OldWithOld trusted; NewWithOld, OldWithNew and NewWithNew are accepted."""
    old, new = key(), key()
    old_with_old = cert("CA", old, "CA", old)
    new_with_old = cert("CA", new, "CA", old)
    old_with_new = cert("CA", old, "CA", new)
    new_with_new = cert("CA", new, "CA", new)
    reply = [old_with_old, new_with_old, old_with_new, new_with_new]
    accepted = trust.accept_ca_reply(reply, ReplyPolicy(Anchors.chosen([old_with_old]), at=NOW))
    assert all(c.anchor == old_with_old for c in accepted.chains)


def test_a_certificate_that_is_not_a_ca_in_a_reply(pki) -> None:
    with pytest.raises(Untrusted) as info:
        trust.accept_ca_reply([pki["root"], pki["leaf"], pki["sub"]], ReplyPolicy(Anchors.chosen([pki["root"]])))
    assert (info.value.index, info.value.reason) == (2, trust.NOT_CA)


# ------------------------------------------------------------------ CRLs and imports
def crl(issuer: str, signer: Key) -> x509.CertificateRevocationList:
    return (x509.CertificateRevocationListBuilder().issuer_name(name(issuer)).last_update(T0)
            .next_update(T1).sign(signer, hashes.SHA256()))


def test_crl_signer(pki) -> None:
    cas = [("other", cert("Other", key(), "Other", key())), ("G_CA_Cert_1", pki["root"])]
    assert trust.crl_signer(crl("Root", pki["rk"]), cas) == "G_CA_Cert_1"
    assert reason(lambda: trust.crl_signer(crl("Root", key()), cas)) == trust.BAD_SIGNATURE
    assert reason(lambda: trust.crl_signer(crl("Nobody", key()), cas)) == trust.NO_ISSUER


def test_require_ca(pki) -> None:
    trust.require_ca([pki["root"], pki["sub"]])
    with pytest.raises(Untrusted) as info:
        trust.require_ca([pki["root"], pki["leaf"]])
    assert (info.value.index, info.value.reason) == (2, trust.NOT_CA)
