"""Clock-driven renewal, expiry warnings, failed renewals with retry, est-regeneration-method."""

from __future__ import annotations

import datetime as dt

import pytest
from lifecycle_helpers import BRACKET, DEBUG_ON, ENROLL, block, local_cert, replay, ski

from fortishell.cmdb.schema import LOCAL
from fortishell.renewal import EXPIRY_WARNING, RENEWAL_FAILED
from fortishell.replay import transcript


def _configure(device, **values: int | str) -> None:
    sets = "".join(f"set {k.replace('_', '-')} {v}\n" for k, v in values.items())
    replay(device, f"config vpn certificate local\nedit est-test101\n{sets}next\nend\n")


def test_execute_date_near_expiry_warns_then_renews(device) -> None:
    replay(device, ENROLL + "\n")
    old = local_cert(device)  # valid to 2024-04-05 22:37:34
    _configure(device, auto_regenerate_days=30, auto_regenerate_days_warning=60)
    assert local_cert(device).serial_number == old.serial_number  # 364 days left: nothing due

    text = replay(device, DEBUG_ON + "execute date 2024-02-20\n")  # 45 days left: warning only
    warn = [ln for ln in block(text, "execute date 2024-02-20") if BRACKET.match(ln)]
    assert warn == [f"[{EXPIRY_WARNING.line}] {EXPIRY_WARNING.func}: Certificate est-test101 will expire "
                    "in 45 days (2024-04-05 22:37:34 GMT)"]
    assert local_cert(device).serial_number == old.serial_number
    shown = replay(device, "execute log display\n")
    assert "1 logs found." in shown
    assert 'level="warning"' in shown and "Certificate est-test101 will expire in 45 days" in shown

    text = replay(device, "execute date 2024-03-10\n")  # 26 days left: renewed at once
    assert "[2477] est_simple_reenroll: POST ret:0" in block(text, "execute date 2024-03-10")
    new = local_cert(device)
    assert new.serial_number != old.serial_number and ski(new) == ski(old)
    assert new.not_valid_after_utc == dt.datetime(2025, 3, 10, 22, 37, 34, tzinfo=dt.timezone.utc)
    shown = replay(device, "execute log filter category event\nexecute log display\n")
    assert "2 logs found." in shown
    assert shown.index("was renewed with EST") < shown.index("will expire in 45 days")  # newest first

    # the renewed certificate is neither due nor warned about again
    text = replay(device, "execute date 2024-03-11\n")
    assert not any(BRACKET.match(ln) for ln in block(text, "execute date 2024-03-11"))


def test_failed_renewal_keeps_everything_and_retries_after_back_off(device, config_path) -> None:
    replay(device, ENROLL + "\n")
    _configure(device, auto_regenerate_days=30)
    entry = device.cmdb.entry(LOCAL, "est-test101")
    cert_pem, key_pem = entry.get("certificate"), entry.get("private-key")
    saved = config_path.read_bytes()
    device.network.responder.faults.set(status_500=True)

    text = replay(device, DEBUG_ON + "execute date 2024-03-10\n")
    traced = [ln for ln in block(text, "execute date 2024-03-10") if BRACKET.match(ln)]
    assert traced[-1].startswith(f"[{RENEWAL_FAILED.line}] {RENEWAL_FAILED.func}: Failed to renew certificate "
                                 "est-test101: ")
    assert traced[-1].endswith(". Retry in 5 minutes.")
    assert "500" in traced[-1]
    entry = device.cmdb.entry(LOCAL, "est-test101")
    assert (entry.get("certificate"), entry.get("private-key")) == (cert_pem, key_pem)
    assert config_path.read_bytes() == saved
    got = replay(device, "get vpn certificate local est-test101\n")
    assert "state               : RENEWAL FAILED" in got
    shown = replay(device, "execute log display\n")
    assert 'level="error"' in shown and "Failed to renew certificate est-test101" in shown

    device.network.responder.faults.clear()
    text = replay(device, "execute time 22:40:00\n")  # 2.5 minutes later: still backing off
    assert not any(BRACKET.match(ln) for ln in block(text, "execute time 22:40:00"))
    assert device.cmdb.entry(LOCAL, "est-test101").get("certificate") == cert_pem

    text = replay(device, "execute time 22:43:00\n")  # past the 5-minute back-off: the retry succeeds
    assert "[2477] est_simple_reenroll: POST ret:0" in block(text, "execute time 22:43:00")
    assert device.cmdb.entry(LOCAL, "est-test101").get("certificate") != cert_pem
    assert "state               : OK" in replay(device, "get vpn certificate local est-test101\n")


def test_failure_state_is_not_saved(device, config_path, tmp_path) -> None:
    replay(device, ENROLL + "\n")
    _configure(device, auto_regenerate_days=30)
    device.network.responder.faults.set(status_500=True)
    replay(device, "execute date 2024-03-10\n")
    assert "RENEWAL FAILED" not in config_path.read_text()
    from fortishell.cmdb import store

    assert store.load(config_path).entry(LOCAL, "est-test101").get("state") != "RENEWAL FAILED"


@pytest.mark.parametrize("how", ["regenerate", "renew"])
def test_create_new_key_changes_the_key_and_ski(device, how) -> None:
    replay(device, ENROLL + "\n")
    _configure(device, est_regeneration_method="create-new-key")
    old = local_cert(device)
    if how == "regenerate":
        replay(device, "execute time 23:00:00\nexecute vpn certificate local generate est est-test101\ny\n")
    else:
        replay(device, "execute time 23:00:00\n")
        _configure(device, auto_regenerate_days=364)
    new = local_cert(device)
    assert new.serial_number != old.serial_number
    assert ski(new) != ski(old)
    assert new.public_key() != old.public_key()
    assert new.subject == old.subject
    shown = replay(device, "show vpn certificate local est-test101\n")
    assert "set est-regeneration-method create-new-key" in shown


@pytest.mark.parametrize("how", ["regenerate", "renew"])
def test_use_existing_key_keeps_the_key(device, how) -> None:
    replay(device, ENROLL + "\n")
    _configure(device, est_regeneration_method="use-existing-key")
    old = local_cert(device)
    if how == "regenerate":
        replay(device, "execute time 23:00:00\nexecute vpn certificate local generate est est-test101\ny\n")
    else:
        replay(device, "execute time 23:00:00\n")
        _configure(device, auto_regenerate_days=364)
    new = local_cert(device)
    assert new.serial_number != old.serial_number
    assert ski(new) == ski(old) and new.public_key() == old.public_key()


def test_a_failed_manual_regenerate_is_a_command_failure(device) -> None:
    replay(device, ENROLL + "\n")
    before = local_cert(device)
    device.network.responder.faults.set(status_500=True)
    rc, text = transcript("execute vpn certificate local generate est est-test101\ny\n", device)
    assert rc == 1
    assert "Command fail. Return code -1" in text
    assert local_cert(device).serial_number == before.serial_number
