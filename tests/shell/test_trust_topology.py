"""The trust rules against every PKI topology knob of the lab responder (real TLS, real shell).

For each knob the client runs an enrollment, a regenerate, a rekey and ``ca import est`` with and
without a pin.  Real-server shapes (an issuing intermediate CA, a TLS certificate from a separate
root) succeed; hostile ones (a rogue extra root, two self-signed roots naming each other) are
refused with the configuration file and the CMDB exactly as they were.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fortishell.clock import Clock
from fortishell.lab.ca import LabCA
from fortishell.lab.topology import EVIL_TWIN, ROGUE_ROOT, SUB_CA, TLS_ROOT
from fortishell.shell.device import Device
from fortishell.shell.session import Session

ROOT = Path(__file__).resolve().parents[2]
LAB_CONF = ROOT / "sample-configs" / "lab.conf"  # G_CA_Cert_1 = the lab root, no est-url
LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
URL = "https://testrfc7030.com:8443"
CA = ("vpn", "certificate", "ca")
LOCAL = ("vpn", "certificate", "local")


def generate(name: str, trusted: str = "G_CA_Cert_1") -> str:
    """``generate est`` naming the CA that verifies the server and what it issues (position 9)."""
    return (f'execute vpn certificate local generate est {name} ec-secp256r1 {URL} CN={name} "" estuser estpwd '
            f'"" {trusted}')


def fp(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def import_est(pin: str = "") -> str:
    return f'execute vpn certificate ca import est {URL} "" "" "" "" "" "" "" {pin}'.rstrip()


class Box:
    def __init__(self, tmp: Path, conf: Path | None) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        path = tmp / "fortishell.conf"
        if conf is not None:
            shutil.copy(conf, path)
        self.device = Device.open(path, tmp / "state", Clock(fixed=LAB_TIME))
        self.session = Session(self.device)
        self.device.network.resolve("testrfc7030.com", 8443)  # the in-process responder, started
        self.responder = self.device.network.responder
        assert self.responder is not None

    def knobs(self, **knobs: Any) -> None:
        self.responder.faults.set(**knobs)

    def topology(self, name: str) -> LabCA:
        return self.responder.app.topology.ca(name)

    def ok(self, line: str) -> list[str]:
        result = self.session.execute(line)
        if result.question is not None:
            result = result.question.answer(True)
        assert result.rc == 0, (line, result.lines)
        return result.lines

    def state(self) -> tuple[bytes, Any, Any]:
        snap = self.device.cmdb.snapshot()
        assert self.device.config_path is not None
        return self.device.config_path.read_bytes(), snap.tables, snap.objects

    def refused(self, line: str) -> list[str]:
        """``line`` fails (a question, if asked, answered y) and changes neither file nor CMDB."""
        before = self.state()
        result = self.session.execute(line)
        if result.question is not None:
            result = result.question.answer(True)
        assert result.rc == -1, (line, result.lines)
        assert result.lines[-1] == "Command fail. Return code -1"
        assert self.state() == before, f"{line}: something was stored"
        return result.lines

    def rekey(self, name: str) -> None:
        """``est-regeneration-method create-new-key`` on ``name`` (the next regenerate makes a new key)."""
        for line in ["config vpn certificate local", f"edit {name}", "set est-regeneration-method create-new-key",
                     "end"]:
            self.ok(line)

    def public_key(self, name: str) -> bytes:
        return self.cert(name).public_key().public_bytes(serialization.Encoding.DER,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)

    def cert(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.device.cmdb.entry(LOCAL, name).get("certificate").encode())

    def ca_subjects(self) -> list[str]:
        return sorted(x509.load_pem_x509_certificate(e.get("ca").encode()).subject.rfc4514_string()
                      for e in self.device.cmdb.entries(CA) if e.key.startswith("G_CA_Cert_"))


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Box]:
    box = Box(tmp_path / "lab", LAB_CONF)
    yield box
    box.device.close()


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[Box]:
    """A device in its factory configuration: nothing of the lab trusted yet (ca import est)."""
    box = Box(tmp_path / "factory", None)
    yield box
    box.device.close()


# ------------------------------------------------------------------ real servers
def test_issuing_intermediate_enroll_and_regenerate(lab: Box) -> None:
    lab.knobs(issuing_intermediate=True)
    sub = lab.topology(SUB_CA)
    assert lab.ok(generate("t1")) == ["Done."]
    assert lab.cert("t1").issuer == sub.cert.subject
    stored = lab.device.cmdb.entry(CA, "G_CA_Cert_2")  # the intermediate, with its server's URL
    assert stored.get("est-url") == URL and x509.load_pem_x509_certificate(stored.get("ca").encode()) == sub.cert
    first = lab.cert("t1")
    # issue 18 item 3: the new certificate chains to the stored EST CA certificates, not only to
    # the CA named in the command
    assert lab.ok("execute vpn certificate local generate est t1") == ["Done."]
    assert lab.cert("t1") != first and lab.cert("t1").issuer == sub.cert.subject
    key = lab.public_key("t1")
    lab.rekey("t1")  # the rekey CSR, same trust rule
    assert lab.ok("execute vpn certificate local generate est t1") == ["Done."]
    assert lab.public_key("t1") != key and lab.cert("t1").issuer == sub.cert.subject


def test_tls_certificate_from_a_separate_root_enroll_and_regenerate(lab: Box) -> None:
    lab.knobs(tls_separate_root=True)
    tftp = lab.device.state_dir / "tftp"
    tftp.mkdir(parents=True, exist_ok=True)
    (tftp / "tlsroot.pem").write_text(lab.topology(TLS_ROOT).cert_pem)
    lab.ok("execute vpn certificate ca import tftp tlsroot.pem tftp.lab")  # G_CA_Cert_2: the TLS root
    assert lab.ok(generate("t1", "G_CA_Cert_2")) == ["Done."]
    first = lab.cert("t1")
    assert first.issuer.rfc4514_string() == "CN=estExampleCA"
    # issue 18 item 3: est-server-cert is the TLS root; the EST CA (lab root) is in the store
    assert lab.ok("execute vpn certificate local generate est t1") == ["Done."]
    assert lab.cert("t1") != first
    key = lab.public_key("t1")
    lab.rekey("t1")
    assert lab.ok("execute vpn certificate local generate est t1") == ["Done."]
    assert lab.public_key("t1") != key


def test_without_the_tls_root_the_server_is_not_trusted(lab: Box) -> None:
    lab.knobs(tls_separate_root=True)
    lines = lab.refused(generate("t1"))
    assert "SSL certificate problem" in lines[0]


@pytest.mark.parametrize("knob", ["issuing_intermediate", "tls_separate_root"])
@pytest.mark.parametrize("pinned", [True, False], ids=["pin", "question"])
def test_ca_import_est_real_servers(factory: Box, knob: str, pinned: bool) -> None:
    factory.knobs(**{knob: True})
    root = factory.responder.ca.cert
    lines = factory.ok(import_est(fp(root) if pinned else ""))
    assert lines[-1] == "Done."
    expected = ["CN=estExampleCA", "CN=estExampleSubCA"] if knob == "issuing_intermediate" else ["CN=estExampleCA"]
    assert factory.ca_subjects() == expected


def test_ca_import_est_pinning_the_intermediate_does_not_trust_the_root(factory: Box) -> None:
    factory.knobs(issuing_intermediate=True)
    lines = factory.refused(import_est(fp(factory.topology(SUB_CA).cert)))
    assert lines[0] == ("CA certificate 'CN = estExampleCA' does not chain to the pinned certificate: "
                        "self-signed certificate.")


@pytest.mark.parametrize("pinned", [True, False], ids=["pin", "question"])
def test_ca_import_est_refuses_a_reply_holding_a_certificate_that_is_not_a_ca(factory: Box, pinned: bool) -> None:
    """Every certificate of the reply must be a CA certificate; none is dropped silently."""
    factory.knobs(cacerts_not_ca=True)  # the reply also holds the TLS server certificate
    lines = factory.refused(import_est(fp(factory.responder.ca.cert) if pinned else ""))
    assert lines[0] == "Certificate 'CN = testrfc7030.com' from the server is not a CA certificate."
    assert factory.ca_subjects() == []


# ------------------------------------------------------------------ hostile servers
HOSTILE = {"rogue_root": ROGUE_ROOT, "evil_twin": EVIL_TWIN}


@pytest.mark.parametrize("knob", HOSTILE)
def test_hostile_enroll_and_regenerate_store_nothing(lab: Box, knob: str) -> None:
    assert lab.ok(generate("t1")) == ["Done."]  # enrolled while the server behaved
    lab.knobs(**{knob: True})
    lines = lab.refused(generate("t2"))
    assert lines[0].startswith("EST enrollment of certificate 't2' failed: CA certificate 2 from the server: ")
    lines = lab.refused("execute vpn certificate local generate est t1")  # reply: [leaf by R, R(, R')]
    assert lines[0] == ("EST re-enrollment of certificate 't1' failed: the issued certificate does not chain "
                        "to a trusted CA")
    lab.rekey("t1")  # configuration only: the server is not asked
    lines = lab.refused("execute vpn certificate local generate est t1")  # a rekey: same rule
    assert lines[0] == ("EST re-enrollment of certificate 't1' failed: the issued certificate does not chain "
                        "to a trusted CA")
    assert lab.responder.state.issued()  # the server did issue: the client refused what it got


@pytest.mark.parametrize("knob", HOSTILE)
def test_hostile_ca_import_est_with_the_right_pin_stores_nothing(factory: Box, knob: str) -> None:
    """Issue 18 item 6: [genuine CA, R, R'] with the genuine fingerprint pinned."""
    factory.knobs(**{knob: True})
    lines = factory.refused(import_est(fp(factory.responder.ca.cert)))
    subject = "Evil Twin" if knob == "evil_twin" else "estRogueRootCA"
    assert lines[-2].startswith(f"CA certificate 'CN = {subject}' does not chain to the pinned certificate: ")
    assert factory.ca_subjects() == []


@pytest.mark.parametrize("knob", HOSTILE)
def test_hostile_ca_import_est_without_a_pin_asks_nothing_and_stores_nothing(factory: Box, knob: str) -> None:
    factory.knobs(**{knob: True})
    result = factory.session.execute(import_est())
    assert result.question is None and result.rc == -1
    assert result.lines[-2].endswith("several self-signed certificates, none of them trusted (give the SHA-256 "
                                     "fingerprint of the one to trust).")
    assert factory.ca_subjects() == []


@pytest.mark.parametrize("knob", HOSTILE)
def test_hostile_reply_to_a_device_that_trusts_the_root_stores_nothing(lab: Box, knob: str) -> None:
    """ca import est on a device whose CA store already holds the genuine root (no pin)."""
    lab.knobs(**{knob: True})
    before = lab.ca_subjects()
    lab.refused(import_est())
    assert lab.ca_subjects() == before
