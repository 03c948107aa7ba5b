"""Interop: the device's ACME client obtains and renews a certificate from pebble (an independent
RFC 8555 server), pebble validating http-01 against the device's responder.  Pebble rejects 10% of
nonces here (PEBBLE_WFE_NONCEREJECT): the client must retry badNonce to pass reliably (the retry
itself is checked deterministically against the lab server's bad_nonces knob)."""

from __future__ import annotations

import datetime as dt
import json

from acmekit import LOCAL, run, trust
from cryptography import x509

from fortishell.shell.device import Device
from fortishell.shell.session import Session


def _cert(device: Device) -> x509.Certificate:
    return x509.load_pem_x509_certificate(str(device.cmdb.entry(LOCAL, "peb").get("certificate")).encode())


def test_obtain_and_renew_from_pebble(device: Device, session: Session, pebble_for: object) -> None:
    port = device.acme.responder.address[1]  # the device's port 80 as pebble's httpPort
    peb = pebble_for(port, nonce_reject=10)  # type: ignore[operator]
    trust(device, "PebbleRoot", peb.root_pem)
    device.clock.set(dt.datetime.now(dt.timezone.utc))  # pebble issues on real time
    lines: list[str] = []
    device.set_sink(lines.append)
    out = run(session, "diagnose debug application acme -1", "diagnose debug enable",
              "config system acme", "set interface port1", "end",
              "config vpn certificate local", "edit peb", "set enroll-protocol acme2", "y",
              f"set acme-ca-url {peb.directory}", "set acme-domain fgt.example.com",
              "set acme-email admin@example.com", "end")
    assert out == []
    first = _cert(device)
    assert first.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["fgt.example.com"]
    assert any("/.well-known/acme-challenge/" in line and line.endswith(" 200") for line in device.acme.responder.log)
    account = run(session, "get system acme acc-details")
    assert account[0] == "== [ ACME-127.0.0.1-0000 ]" and account[3] == "Status: valid"
    assert lines[0] == f"[212] acme_get_directory: GET {peb.directory}"
    # renewal: the device clock enters the 30-day window
    device.clock.set(first.not_valid_after_utc - dt.timedelta(days=20))
    device.poll_renewals()
    second = _cert(device)
    assert second.serial_number != first.serial_number
    status = json.loads("\n".join(run(session, "diagnose sys acme status-full fgt.example.com")))
    assert status["notified-renewed"] is True and status["errors"] == 0
    # the account was reused: still one
    assert [line for line in run(session, "get system acme acc-details") if line.startswith("==")] == [
        "== [ ACME-127.0.0.1-0000 ]"]


def test_external_account_binding_with_pebble(device: Device, session: Session, pebble_for: object) -> None:
    mac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
    peb = pebble_for(device.acme.responder.address[1], eab_keys={"kid-1": mac})  # type: ignore[operator]
    trust(device, "PebbleRoot", peb.root_pem)
    device.clock.set(dt.datetime.now(dt.timezone.utc))
    entry = ("config vpn certificate local", "edit peb")
    out = run(session, "config system acme", "set interface port1", "end", *entry, "set enroll-protocol acme2", "y",
              f"set acme-ca-url {peb.directory}", "set acme-domain fgt.example.com", "end")
    assert out == ["ACME certificate 'peb' (fgt.example.com) failed: the CA requires External Account Binding "
                   "(set acme-eab-key-id and acme-eab-key-hmac)"]
    out = run(session, *entry, "set acme-eab-key-id kid-1", "set acme-eab-key-hmac " + mac[:-4] + "AAAA", "end")
    assert len(out) == 1 and out[0].startswith("ACME certificate 'peb' (fgt.example.com) failed: ")
    assert out[0].endswith("(unauthorized)"), out[0]
    assert not device.cmdb.entry(LOCAL, "peb").get("certificate")
    assert run(session, "get system acme acc-details") == []  # no account was stored
    assert run(session, *entry, f"set acme-eab-key-hmac {mac}", "end") == []
    assert _cert(device) is not None
