"""The device's ACME client against the embedded lab ACME server (acme.lab), through the real CLI."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from acmekit import LOCAL, run
from cryptography import x509

from fortishell.clock import Clock
from fortishell.shell.device import Device
from fortishell.shell.session import Session

ORDER = ("config vpn certificate local", "edit acme1", "set enroll-protocol acme2", "y",
         "set acme-ca-url https://acme.lab/directory", "set acme-domain fgt.lab.example",
         "set acme-email admin@lab.example", "end")
INTERFACE = ("config system acme", "set interface port1", "end")


def _cert(device: Device, name: str = "acme1") -> x509.Certificate | None:
    entry = device.cmdb.entry(LOCAL, name)
    pem = entry.get("certificate") if entry is not None else ""
    return x509.load_pem_x509_certificate(str(pem).encode()) if pem else None


def test_end_of_an_acme2_entry_obtains_a_certificate_from_acme_lab(device: Device, session: Session) -> None:
    assert run(session, *INTERFACE, *ORDER) == []
    cert = _cert(device)
    assert cert is not None
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["fgt.lab.example"]
    assert device.acme.lab.app.ca.chains_to_me(cert)
    entry = device.cmdb.entry(LOCAL, "acme1")
    assert entry.get("private-key").startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # the lab server really fetched the token from the device's responder
    assert any(line.startswith("GET /.well-known/acme-challenge/") and line.endswith(" 200")
               for line in device.acme.responder.log)
    status = json.loads("\n".join(run(session, "diagnose sys acme status-full fgt.lab.example")))
    assert status["finished"] is True and status["errors"] == 0
    assert status["last"]["status"] == "valid"
    assert status["next-run"] == "Wed, 11 Mar 2026 09:00:00 GMT"  # 90 days - 30 days window
    details = run(session, "get system acme acc-details")
    assert run(session, "get sys acme acc") == details  # abbreviated as any CLI word
    assert details[0] == "== [ ACME-acme.lab-0000 ]"
    assert details[1:5] == ["ACME CA URL: https://acme.lab/directory", "Account URL: https://acme.lab/acme/acct/1",
                            "Status: valid", "Email: admin@lab.example"]


def test_the_account_is_reused_and_survives_a_restart(tmp_path: Path, device: Device, session: Session) -> None:
    run(session, *INTERFACE, *ORDER)
    run(session, "config vpn certificate local", "edit acme2", "set enroll-protocol acme2", "y",
        "set acme-ca-url https://acme.lab/directory", "set acme-domain www.lab.example", "end")
    assert _cert(device, "acme2") is not None
    assert [line for line in run(session, "get system acme acc-details") if line.startswith("==")] == [
        "== [ ACME-acme.lab-0000 ]"]
    assert len(device.acme.lab.app.records.accounts) == 1
    text = (tmp_path / "fortishell.conf").read_text()
    assert "set privatekey ENC " in text and "BEGIN PRIVATE KEY" not in text
    device.persistence.close()
    device.owner.release()  # the process ends: its lock goes with it (cmdb/owner.py)
    again = Device.open(tmp_path / "fortishell.conf", tmp_path / "state2", Clock(fixed=device.clock.now()))
    try:
        assert run(Session(again), "get system acme acc-details") == run(session, "get system acme acc-details")
        status = json.loads("\n".join(run(Session(again), "diagnose sys acme status-full fgt.lab.example")))
        assert status["finished"] is True and status["cert"]["serial"] == f"{_cert(device).serial_number:x}"
        assert status["next-run"] == "Wed, 11 Mar 2026 09:00:00 GMT"
        assert run(Session(again), "diagnose sys acme status-full unknown.lab.example") == ["{}"]
    finally:
        again.close()


def test_without_an_acme_interface_the_challenge_fails_and_nothing_is_stored(device: Device,
                                                                             session: Session) -> None:
    out = run(session, *ORDER)
    assert len(out) == 1
    assert out[0].startswith("ACME certificate 'acme1' (fgt.lab.example) failed: the http-01 challenge for "
                             "fgt.lab.example failed: fgt.lab.example: Fetching "
                             "http://fgt.lab.example/.well-known/acme-challenge/")
    assert out[0].endswith(": Connection refused (connection)")
    assert _cert(device) is None
    assert not device.cmdb.entry(LOCAL, "acme1").get("private-key")
    status = json.loads("\n".join(run(session, "diagnose sys acme status-full fgt.lab.example")))
    assert status["finished"] is False and status["errors"] == 1
    assert "http-01 challenge" in status["last"]["detail"]
    # the configuration stays; setting the interface and ending the entry again succeeds
    assert run(session, *INTERFACE, "config vpn certificate local", "edit acme1", "end") == []
    assert _cert(device) is not None


def test_lab_knobs_invalid_challenge_rate_limit_and_bad_nonces(device: Device, session: Session) -> None:
    run(session, *INTERFACE)
    lab = device.acme.lab
    lab.faults.invalid_challenges = True
    out = run(session, *ORDER)
    assert len(out) == 1 and "invalid_challenges knob" in out[0] and "(unauthorized)" in out[0]
    lab.faults.invalid_challenges = False
    lab.faults.rate_limited = True
    out = run(session, "config vpn certificate local", "edit acme1", "end")
    assert out == ["ACME certificate 'acme1' (fgt.lab.example) failed: too many new orders recently (rateLimited)"]
    assert _cert(device) is None
    lab.faults.rate_limited = False
    lab.faults.bad_nonces = 3  # fewer than the client's retry limit: retried, then it works
    assert run(session, "config vpn certificate local", "edit acme1", "end") == []
    assert _cert(device) is not None
    assert lab.faults.bad_nonces == 0


def test_a_deactivated_account_is_reported_in_one_line(device: Device, session: Session) -> None:
    run(session, *INTERFACE, *ORDER)
    lab = device.acme.lab
    lab.app.deactivate("https://acme.lab/acme/acct/1")
    out = run(session, "config vpn certificate local", "edit acme1", "set acme-domain new.lab.example", "end")
    assert out == ["ACME certificate 'acme1' (new.lab.example) failed: account https://acme.lab/acme/acct/1 is "
                   "deactivated (unauthorized)"]
    assert _cert(device).extensions.get_extension_for_class(  # type: ignore[union-attr]
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == ["fgt.lab.example"]
    details = run(session, "get system acme acc-details")
    assert details[:4] == ["== [ ACME-acme.lab-0000 ]", "ACME CA URL: https://acme.lab/directory",
                           "Account URL: https://acme.lab/acme/acct/1", "Status: deactivated"]
    # the next order registers a new account and succeeds
    assert run(session, "config vpn certificate local", "edit acme1", "end") == []
    assert [line for line in run(session, "get system acme acc-details") if line.startswith(("==", "Status"))] == [
        "== [ ACME-acme.lab-0000 ]", "Status: deactivated", "== [ ACME-acme.lab-0001 ]", "Status: valid"]
    assert _cert(device).extensions.get_extension_for_class(  # type: ignore[union-attr]
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == ["new.lab.example"]


def test_unreachable_untrusted_and_non_acme_directories(device: Device, session: Session) -> None:
    import socket

    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    run(session, *INTERFACE)
    out = run(session, "config vpn certificate local", "edit a1", "set enroll-protocol acme2", "y",
              f"set acme-ca-url https://127.0.0.1:{closed}/directory", "set acme-domain fgt.lab.example", "end")
    assert len(out) == 1 and re.fullmatch(  # curl's wording, as EST's (est/curlerrors.py)
        rf"ACME certificate 'a1' \(fgt\.lab\.example\) failed: cannot connect to https://127\.0\.0\.1:{closed}/"
        rf"directory: Failed to connect to 127\.0\.0\.1 port {closed} after \d+ ms: Connection refused", out[0]), out
    out = run(session, "config vpn certificate local", "edit a1", "set acme-ca-url https://acme.lab/terms", "end")
    assert out == ["ACME certificate 'a1' (fgt.lab.example) failed: https://acme.lab/terms is not an ACME "
                   "directory (HTTP 405)"]
    with device.cmdb.transaction() as tx:
        tx.delete(("vpn", "certificate", "ca"), "LabCA")
    out = run(session, "config vpn certificate local", "edit a1", "set acme-ca-url https://acme.lab/directory", "end")
    assert out == ["ACME certificate 'a1' (fgt.lab.example) failed: cannot connect to https://acme.lab/directory: "
                   "SSL certificate problem: unable to get local issuer certificate"]
    assert _cert(device, "a1") is None


def test_renewal_in_the_window_on_the_device_clock(device: Device, session: Session) -> None:
    run(session, *INTERFACE, *ORDER)
    first = _cert(device)
    assert first is not None
    device.poll_renewals()
    assert _cert(device).serial_number == first.serial_number  # type: ignore[union-attr]
    device.clock.set(first.not_valid_after_utc - dt.timedelta(days=31))  # not yet in the 30-day window
    device.poll_renewals()
    assert _cert(device).serial_number == first.serial_number  # type: ignore[union-attr]
    device.clock.set(first.not_valid_after_utc - dt.timedelta(days=29))
    device.poll_renewals()
    renewed = _cert(device)
    assert renewed is not None and renewed.serial_number != first.serial_number
    assert renewed.not_valid_before_utc == device.clock.now().replace(microsecond=0)
    assert any("Certificate acme1 was renewed with ACME" in line for line in device.eventlog.display())
    status = json.loads("\n".join(run(session, "diagnose sys acme status-full fgt.lab.example")))
    assert status["notified-renewed"] is True
    assert status["last"]["status-description"].startswith("The certificate for the managed domain has been "
                                                           "renewed successfully")


def test_a_failed_renewal_backs_off_and_keeps_the_certificate(device: Device, session: Session) -> None:
    run(session, *INTERFACE, *ORDER)
    first = _cert(device)
    assert first is not None
    device.acme.lab.faults.invalid_challenges = True
    device.clock.set(first.not_valid_after_utc - dt.timedelta(days=10))
    device.poll_renewals()
    assert _cert(device).serial_number == first.serial_number  # type: ignore[union-attr]
    assert any("Failed to renew certificate acme1 with ACME" in line and "retry in 5 minutes" in line
               for line in device.eventlog.display())
    status = json.loads("\n".join(run(session, "diagnose sys acme status-full fgt.lab.example")))
    assert status["errors"] == 1 and status["last"]["status"] == "unauthorized"
    assert status["next-run"] == (device.clock.now() + dt.timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    device.acme.lab.faults.invalid_challenges = False
    device.poll_renewals()  # inside the back-off: not tried
    assert _cert(device).serial_number == first.serial_number  # type: ignore[union-attr]
    device.clock.set(device.clock.now() + dt.timedelta(minutes=6))
    device.poll_renewals()
    assert _cert(device).serial_number != first.serial_number  # type: ignore[union-attr]


def test_a_rate_limited_renewal_waits_as_long_as_the_ca_says(device: Device, session: Session) -> None:
    """``rateLimited`` with ``Retry-After: 3600``: the next try is an hour later, not the back-off's 5 minutes."""
    run(session, *INTERFACE, *ORDER)
    first = _cert(device)
    assert first is not None
    device.acme.lab.faults.rate_limited = True
    device.clock.set(first.not_valid_after_utc - dt.timedelta(days=10))
    device.poll_renewals()
    assert any("Failed to renew certificate acme1 with ACME: " in line and "(rateLimited); retry in 60 minutes" in line
               for line in device.eventlog.display()), device.eventlog.display()
    status = json.loads("\n".join(run(session, "diagnose sys acme status-full fgt.lab.example")))
    assert status["last"]["status"] == "rateLimited"
    assert status["next-run"] == (device.clock.now() + dt.timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    device.acme.lab.faults.rate_limited = False
    device.clock.set(device.clock.now() + dt.timedelta(minutes=6))
    device.poll_renewals()  # the back-off alone would try now: the CA asked for an hour
    assert _cert(device).serial_number == first.serial_number  # type: ignore[union-attr]
    device.clock.set(device.clock.now() + dt.timedelta(minutes=55))
    device.poll_renewals()
    assert _cert(device).serial_number != first.serial_number  # type: ignore[union-attr]


def test_debug_trace_of_an_order(device: Device, session: Session) -> None:
    lines: list[str] = []
    device.set_sink(lines.append)
    run(session, "diagnose debug application acme -1", "diagnose debug enable", *INTERFACE, *ORDER)
    assert lines[0] == "[212] acme_get_directory: GET https://acme.lab/directory"
    assert "[645] acme_http01: Monitoring challenge status for fgt.lab.example: valid" in lines
    assert lines[-1].startswith("[812] acme_store: Certificate acme1 saved (valid until 2026-04-10 09:00:00 GMT)")


def test_setting_acme2_asks_the_terms_of_service_question(device: Device, session: Session) -> None:
    run(session, "config vpn certificate local", "edit t1")  # acme-ca-url exists once acme2 is set: the default
    result = session.execute("set enroll-protocol acme2")
    assert result.question is not None
    assert result.question.text == ["By enabling this feature you declare that you agree to the Terms of Service at "
                                    "https://acme-v02.api.letsencrypt.org/directory", "Do you want to continue? (y/n)"]
    assert result.question.answer(False).lines == []
    assert session.frame.buf.get("enroll-protocol") == "none"
    assert not session.frame.buf.is_set("enroll-protocol")
    assert run(session, "set enroll-protocol acme2", "y") == []
    assert session.frame.buf.get("enroll-protocol") == "acme2"
    assert session.execute("set enroll-protocol acme2").question is None  # already acme2: no question


def test_certificate_details_show_the_acme_status(device: Device, session: Session) -> None:
    run(session, "config vpn certificate local", "edit acme1", "set enroll-protocol acme2", "y",
        "set acme-ca-url https://acme.lab/directory", "set acme-domain fgt.lab.example", "end")
    failed = run(session, "get vpn certificate local details acme1")
    assert failed[-4:-1] == ["ACME details:", failed[-3], "Staging status: Nothing in staging"]
    assert failed[-3].startswith("Status: The ACME order failed: ACME certificate 'acme1' (fgt.lab.example) failed: ")
    run(session, *INTERFACE, "config vpn certificate local", "edit acme1", "end")
    details = run(session, "get vpn certificate local details acme1")
    assert details[:2] == ["== [ acme1 ]", "Name:        acme1"]
    assert details[-4:] == ["ACME details:", "Status: The certificate for the managed domain has been obtained and can "
                            "be used (valid since Sat, 10 Jan 2026 09:00:00 GMT).",
                            "Staging status: Nothing in staging", ""]
    everything = run(session, "get vpn certificate local details")
    start = everything.index("== [ acme1 ]")
    assert everything[start:start + len(details)] == details
    assert everything.count("ACME details:") == 1  # only the acme2 entry


def test_slow_validation_waits_retry_after_and_ctrl_c_cancels(device: Device, session: Session) -> None:
    import threading
    import time

    run(session, *INTERFACE)
    device.acme.lab.faults.slow_validation = 1.2  # pending with Retry-After: 1 meanwhile
    device.acme.sleep = None  # real (cancellable) waits
    lines: list[str] = []
    device.set_sink(lines.append)
    run(session, "diagnose debug application acme -1", "diagnose debug enable")
    start = time.monotonic()
    assert run(session, *ORDER) == []
    assert "[652] acme_poll: Retry-After 1s" in lines
    assert time.monotonic() - start >= 1.0
    # a second certificate, cancelled while it waits for the validation
    device.acme.lab.faults.slow_validation = 30
    out: list[str] = []
    worker = threading.Thread(target=lambda: out.extend(run(
        session, "config vpn certificate local", "edit acme2", "set enroll-protocol acme2", "y",
        "set acme-ca-url https://acme.lab/directory", "set acme-domain www.lab.example", "end")))
    seen = len(lines)
    worker.start()
    deadline = time.monotonic() + 10
    while "[652] acme_poll: Retry-After 1s" not in lines[seen:] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert device.cancel()
    worker.join(5)
    assert not worker.is_alive()
    assert out == ["ACME certificate 'acme2' (www.lab.example) cancelled."]
    assert not device.cmdb.entry(LOCAL, "acme2").get("certificate")


def test_an_unreadable_ca_entry_is_skipped_not_fatal(device: Device, session: Session) -> None:
    from acmekit import trust

    trust(device, "Broken", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert run(session, *INTERFACE, *ORDER) == []
    assert _cert(device) is not None


def test_a_domain_the_ca_will_not_issue_for_is_one_line(device: Device, session: Session) -> None:
    out = run(session, *INTERFACE, "config vpn certificate local", "edit bad", "set enroll-protocol acme2", "y",
              "set acme-ca-url https://acme.lab/directory", "set acme-domain localhost_", "end")
    assert out == ["ACME certificate 'bad' (localhost_) failed: Cannot issue for \"localhost_\": Domain name is not "
                   "a valid DNS name (rejectedIdentifier)"]
    assert not device.cmdb.entry(LOCAL, "bad").get("certificate")


def test_source_ip_of_config_system_acme_is_the_address_the_ca_sees(device: Device, session: Session) -> None:
    """``config system acme`` / ``set source-ip``: the device connects to the ACME server from that address."""
    out = run(session, "config system acme", "set interface port1", "set source-ip 127.0.0.2", "end", *ORDER)
    assert out == []
    assert _cert(device) is not None
    clients = {line.split()[1].rsplit(":", 1)[0] for line in device.acme.lab.log}
    assert clients == {"127.0.0.2"}, device.acme.lab.log
    # an address the device does not have: one line, nothing stored
    out = run(session, "config system acme", "set source-ip 192.0.2.77", "end",
              "config vpn certificate local", "edit acme1", "set acme-domain other.lab.example", "end")
    assert out == ["ACME certificate 'acme1' (other.lab.example) failed: cannot connect to "
                   "https://acme.lab/directory: bind failed with errno 99: Cannot assign requested address"]
    assert _cert(device).extensions.get_extension_for_class(  # type: ignore[union-attr]
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == ["fgt.lab.example"]


def test_the_new_key_is_sealed_from_the_key_itself_not_parsed_again(device: Device, session: Session,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading an RSA key back from PEM checks it (tens of milliseconds): the order seals the key it
    made without that round trip.  What is stored still opens with its password and fits the certificate."""
    from cryptography.hazmat.primitives import serialization

    device.acme.lab_endpoint()  # the lab server (and its CA key) up first: only the order is watched
    real = serialization.load_pem_private_key
    parsed: list[bytes] = []

    def load(data: bytes, password: bytes | None, **kw: Any) -> Any:
        parsed.append(data)
        return real(data, password, **kw)

    monkeypatch.setattr(serialization, "load_pem_private_key", load)
    assert run(session, *INTERFACE, *ORDER) == []
    assert parsed == []
    monkeypatch.undo()
    entry = device.cmdb.entry(LOCAL, "acme1")
    key = serialization.load_pem_private_key(str(entry.get("private-key")).encode(),
                                             str(entry.get("password")).encode())
    assert key.public_key() == _cert(device).public_key()  # type: ignore[union-attr]


def test_ctrl_c_ends_an_order_blocked_on_a_server_that_does_not_answer(device: Device, session: Session,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A CA that accepted the request and never answers: Ctrl-C shuts the connection down at once
    (the request does not run into its 10 s timeout), and nothing is stored."""
    import threading
    import time

    run(session, *INTERFACE)
    lab = device.acme.lab
    release, entered = threading.Event(), threading.Event()
    answer = lab.app.handle

    def hang(*args: Any, **kw: Any) -> Any:
        entered.set()
        release.wait(20)
        return answer(*args, **kw)

    monkeypatch.setattr(lab.app, "handle", hang)
    out: list[str] = []
    worker = threading.Thread(target=lambda: out.extend(run(session, *ORDER)))
    try:
        worker.start()
        assert entered.wait(5)
        started = time.monotonic()
        assert device.cancel()
        worker.join(8)
        assert not worker.is_alive()
        assert time.monotonic() - started < 2.0
    finally:
        release.set()
        worker.join(20)
    assert out == ["ACME certificate 'acme1' (fgt.lab.example) cancelled."]
    assert _cert(device) is None
