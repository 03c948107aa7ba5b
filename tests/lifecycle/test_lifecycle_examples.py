"""The guide's Examples 2 (automatic renewal) and 3 (manual regenerate) through script replay."""

from __future__ import annotations

import datetime as dt

from lifecycle_helpers import BRACKET, DEBUG_ON, ENROLL, block, guide_lines, local_cert, replay, ski

from fortishell.fidelity import match_in_order

EXAMPLE2_EDIT = """config vpn certificate local
edit est-test101
set auto-regenerate-days 364
next
end
"""


def test_example2_renewal_follows_the_commit(device) -> None:
    replay(device, ENROLL + "\n")
    old = local_cert(device)
    text = replay(device, "execute time 22:55:09\n" + DEBUG_ON + EXAMPLE2_EDIT)

    # the whole renewal trace sits between `next` and the following prompt
    after_next = block(text, "next")
    assert after_next[0] == "[1024] reconstruct_est_ctx: Reconstruction succeeded"
    assert after_next[-2:] == ["[592] est_ctx_clear_tmp_data: trace", ""]
    assert not any(BRACKET.match(ln) for ln in block(text, "end"))
    assert sum(ln.startswith("[1024] ") for ln in text.split("\n")) == 1  # renewed once, no loop

    report = match_in_order(guide_lines("example2"), text.split("\n"))
    assert report.ok, "\n".join(report.summary())

    new = local_cert(device)
    assert ski(new) == ski(old)
    assert new.serial_number != old.serial_number
    assert new.not_valid_after_utc - old.not_valid_after_utc == dt.timedelta(minutes=17, seconds=35)
    assert new.not_valid_before_utc == dt.datetime(2023, 4, 6, 22, 55, 9, tzinfo=dt.timezone.utc)
    assert new.public_key() == old.public_key()  # use-existing-key (the default): same key pair

    shown = replay(device, "config vpn certificate local\nget est-test101\nend\n")
    assert "        Valid to:    2024-04-05 22:55:09  GMT" in shown
    assert "state               : OK" in shown
    assert "Certificate est-test101 was renewed with EST" in replay(device, "execute log display\n")


def test_example2_with_debug_off_prints_nothing(device) -> None:
    replay(device, ENROLL + "\nexecute time 22:55:09\n")
    old = local_cert(device)
    text = replay(device, EXAMPLE2_EDIT)
    assert block(text, "next") == [""]
    assert local_cert(device).serial_number != old.serial_number


def test_example3_yes_regenerates_with_the_same_key(device) -> None:
    replay(device, ENROLL + "\n")
    old = local_cert(device)
    text = replay(device, "execute date 2023-04-13\nexecute time 17:23:40\n" + DEBUG_ON
                  + "execute vpn certificate local generate est est-test101\ny\n")
    assert ("Certificate 'est-test101' already exists, re-generate will ignore all the options you have provided.\n"
            "Are you sure to re-generate the certificate?\n"
            "Do you want to continue? (y/n) y\n") in text
    report = match_in_order(guide_lines("example3"), text.split("\n"))
    assert report.ok, "\n".join(report.summary())
    new = local_cert(device)
    assert ski(new) == ski(old)
    assert new.serial_number != old.serial_number
    assert new.not_valid_before_utc == dt.datetime(2023, 4, 13, 17, 23, 40, tzinfo=dt.timezone.utc)
    answered = block(text, "execute vpn certificate local generate est est-test101")
    assert answered[-2:] == ["Done.", ""]


def test_example3_no_changes_nothing(device, config_path) -> None:
    replay(device, ENROLL + "\n")
    before = device.cmdb.snapshot()
    saved = config_path.read_bytes()
    text = replay(device, DEBUG_ON + "execute vpn certificate local generate est est-test101\nn\n")
    assert "Do you want to continue? (y/n) n" in text
    assert not any(BRACKET.match(ln) for ln in text.split("\n"))
    assert device.cmdb.snapshot() == before
    assert config_path.read_bytes() == saved
