"""The renewal scheduler: when it renews, warns, backs off, and that it never loops."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fortishell.clock import Clock
from fortishell.cmdb import factory
from fortishell.cmdb.schema import LOCAL
from fortishell.errors import EstError
from fortishell.eventlog import EventLog
from fortishell.lab.ca import LabCA
from fortishell.renewal import RenewalService

START = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)


class LabRenewer:
    """Renews by really issuing a new certificate from the lab CA for the same key."""

    def __init__(self, cmdb, clock: Clock) -> None:
        self.cmdb, self.clock = cmdb, clock
        self.ca = LabCA.shipped()
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.calls: list[str] = []
        self.fail = False
        self.serial = 476823

    def issue(self, name: str) -> str:
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .sign(self.key, hashes.SHA256())
        )
        cert = self.ca.issue(csr, now=self.clock.now(), serial=self.serial)
        self.serial += 1
        return cert.public_bytes(__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM).decode()

    def __call__(self, name: str) -> list[str]:
        self.calls.append(name)
        if self.fail:
            raise EstError("EST renewal failed: Failed to connect to testrfc7030.com port 8443: Connection refused")
        with self.cmdb.transaction() as tx:
            tx.put(LOCAL, name, {"certificate": self.issue(name)})
        return []


@pytest.fixture()
def world():
    clock = Clock(fixed=START)
    cmdb = factory.factory_cmdb()
    renewer = LabRenewer(cmdb, clock)
    with cmdb.transaction() as tx:
        tx.put(LOCAL, "est-test101", {"certificate": renewer.issue("est-test101"), "enroll-protocol": "est",
                                      "est-server": "https://testrfc7030.com:8443", "source": "user"})
    log = EventLog(clock)
    service = RenewalService(cmdb, clock, renewer, log)
    return clock, cmdb, renewer, log, service


def _set_days(cmdb, days: int, attr: str = "auto-regenerate-days") -> None:
    buf = cmdb.begin_edit(LOCAL, "est-test101")
    buf.set(attr, [str(days)])
    cmdb.commit(buf)


def _not_after(cmdb) -> dt.datetime:
    pem = cmdb.entry(LOCAL, "est-test101").get("certificate")
    return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc


def test_nothing_renews_while_auto_regenerate_days_is_zero(world) -> None:
    clock, cmdb, renewer, log, service = world
    clock.advance(dt.timedelta(days=400))
    assert service.poll() == []
    assert renewer.calls == []


def test_364_days_right_after_enrollment_is_not_due_yet_at_the_same_second(world) -> None:
    clock, cmdb, renewer, log, service = world
    _set_days(cmdb, 364)  # 365 whole days left: not due
    assert service.poll() == []


def test_committing_364_days_renews_at_once_like_the_guide(world) -> None:
    clock, cmdb, renewer, log, service = world
    before = _not_after(cmdb)
    clock.advance(dt.timedelta(minutes=18))
    service.poll()  # settle the clock jump
    _set_days(cmdb, 364)
    outcomes = service.poll()
    assert [o.name for o in outcomes] == ["est-test101"] and outcomes[0].ok
    assert _not_after(cmdb) == before + dt.timedelta(minutes=18)
    # the new certificate is not due again: no loop
    service.mark()
    assert service.poll() == []
    assert renewer.calls == ["est-test101"]
    assert "Certificate est-test101 was renewed with EST" in log.display()[3]


def test_clock_moving_forward_triggers_renewal(world) -> None:
    clock, cmdb, renewer, log, service = world
    _set_days(cmdb, 30)
    assert service.poll() == []
    clock.advance(dt.timedelta(days=340))
    assert [o.name for o in service.poll()] == ["est-test101"]


def test_failed_renewal_keeps_the_certificate_and_backs_off(world) -> None:
    clock, cmdb, renewer, log, service = world
    old = cmdb.entry(LOCAL, "est-test101").get("certificate")
    renewer.fail = True
    clock.advance(dt.timedelta(minutes=18))
    _set_days(cmdb, 364)
    outcomes = service.poll()
    assert len(outcomes) == 1 and not outcomes[0].ok
    assert "Command fail. Return code -1" in outcomes[0].lines
    assert cmdb.entry(LOCAL, "est-test101").get("certificate") == old
    assert "retry in 5 minutes" in log.entries()[-1].msg
    clock.advance(dt.timedelta(minutes=4))
    assert service.poll(force=True) == []  # still backing off
    clock.advance(dt.timedelta(minutes=2))
    assert len(service.poll(force=True)) == 1  # second failure
    assert "retry in 15 minutes" in log.entries()[-1].msg
    renewer.fail = False
    clock.advance(dt.timedelta(minutes=16))
    outcomes = service.poll(force=True)
    assert outcomes and outcomes[0].ok
    assert cmdb.entry(LOCAL, "est-test101").get("certificate") != old


def test_misconfigured_days_beyond_validity_do_not_loop(world) -> None:
    clock, cmdb, renewer, log, service = world
    _set_days(cmdb, 400)
    assert len(service.poll()) == 1
    for _ in range(5):
        service.mark()
        assert service.poll() == []
    clock.advance(dt.timedelta(hours=25))
    assert len(service.poll()) == 1


def test_expiry_warning_is_logged_once(world) -> None:
    clock, cmdb, renewer, log, service = world
    _set_days(cmdb, 10, attr="auto-regenerate-days-warning")
    service.poll()
    assert log.entries() == []
    clock.advance(dt.timedelta(days=356))
    service.poll()
    service.poll(force=True)
    warnings = [e for e in log.entries() if e.level == "warning"]
    assert len(warnings) == 1
    assert "Certificate est-test101 will expire in 9 days" in warnings[0].msg
    assert renewer.calls == []


def test_the_watch_parses_a_certificate_once(world, monkeypatch) -> None:
    """Polls after every command and every second at the prompt reuse the parsed certificate."""
    from fortishell import renewal

    clock, cmdb, renewer, log, service = world
    _set_days(cmdb, 30)
    parsed: list[bytes] = []
    real = x509.load_pem_x509_certificate
    monkeypatch.setattr(x509, "load_pem_x509_certificate", lambda data, *rest: parsed.append(data) or real(data, *rest))
    renewal._load_pem.cache_clear()
    for _ in range(3):
        assert service.poll() == [] and service.due() == []
        clock.advance(dt.timedelta(seconds=1))
    assert len(parsed) == 1
