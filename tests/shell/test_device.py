"""Device: boot from file or factory defaults, save after each commit, factory reset, emit."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from fortishell.clock import Clock
from fortishell.shell.device import Device
from fortishell.shell.session import Session

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)


def test_fresh_boot_writes_the_file_and_reboot_reads_it(tmp_path: Path) -> None:
    conf = tmp_path / "box.conf"
    dev = Device.open(conf, tmp_path / "state", Clock(fixed=LAB_TIME))
    assert conf.exists() and (conf.stat().st_mode & 0o777) == 0o600
    sess = Session(dev)
    for line in ("config system global", "set hostname persisted", "end",
                 "config vpn certificate local", "edit keep-me", "set comments hi", "end"):
        assert sess.execute(line).rc == 0
    dev.close()
    again = Device.open(conf, tmp_path / "state", Clock(fixed=LAB_TIME))
    assert again.hostname == "persisted"
    assert again.cmdb.entry(("vpn", "certificate", "local"), "keep-me").get("comments") == "hi"
    assert Session(again).prompt == "persisted # "


def test_factory_reset_restores_defaults_and_debug_state(device: Device) -> None:
    sess = Session(device)
    sess.execute("config system global")
    sess.execute("set hostname other")
    sess.execute("end")
    device.tracer.set_level("est", -1)
    device.tracer.enabled = True
    device.factory_reset()
    assert device.hostname == "FortiProxy"
    assert not device.tracer.enabled and device.tracer.levels == {}
    assert "other" not in device.config_path.read_text()
    # the new CMDB is wired to the file too
    sess = Session(device)
    for line in ("config system global", "set hostname after-reset", "end"):
        sess.execute(line)
    assert 'set hostname "after-reset"' in device.config_path.read_text()


def test_emit_is_thread_safe_and_dropped_without_sink(device: Device) -> None:
    device.emit("nobody listens")  # no sink: dropped, no error
    got: list[str] = []
    device.set_sink(got.append)
    threads = [threading.Thread(target=lambda i=i: [device.emit(f"{i}-{k}") for k in range(200)]) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 800 and len(set(got)) == 800


def test_trace_lines_reach_the_sink_only_when_enabled(device: Device) -> None:
    from fortishell.trace import TracePoint

    got: list[str] = []
    device.set_sink(got.append)
    sess = Session(device)
    point = TracePoint(1728, "est_curl_req", "URL: {url}")
    sess.execute("diagnose debug application est -1")
    device.tracer.emit("est", point, url="u1")
    sess.execute("diagnose debug enable")
    device.tracer.emit("est", point, url="u2")
    assert got == ["[1728] est_curl_req: URL: u2"]


def test_failed_manual_regenerate_marks_runtime_state(tmp_path: Path) -> None:
    from fortishell.cmdb import factory, store
    from fortishell.cmdb.schema import CA, LOCAL
    from fortishell.lab.ca import LabCA
    from fortishell.replay import transcript
    from fortishell.shell.device import RENEWAL_FAILED_STATE

    cmdb = factory.factory_cmdb()
    with cmdb.transaction() as tx:
        tx.put(CA, "G_CA_Cert_1", {"ca": LabCA.shipped().cert_pem, "source": "user", "range": "global"})
    conf = tmp_path / "fortishell.conf"
    store.save(cmdb, conf)
    dev = Device.open(conf, tmp_path / "state", Clock(fixed=LAB_TIME))
    try:
        rc, text = transcript("execute vpn certificate local generate est est-test101 ec-secp256r1 "
                              'https://testrfc7030.com:8443 "CN=firewall-portal1" "" estuser estpwd G_CA_Cert_1\n',
                              dev, keep_going=False)
        assert rc == 0, text
        cert = dev.cmdb.entry(LOCAL, "est-test101").get("certificate")
        saved = conf.read_bytes()
        regenerate = "execute vpn certificate local generate est est-test101\ny\n"
        get = "get vpn certificate local est-test101\n"

        dev.network.responder.faults.set(status_500=True)
        rc, text = transcript(regenerate, dev)
        assert rc == 1 and "Command fail. Return code -1" in text
        assert dev.cmdb.entry(LOCAL, "est-test101").get("certificate") == cert
        assert f"state               : {RENEWAL_FAILED_STATE}" in transcript(get, dev)[1]
        assert conf.read_bytes() == saved  # run-time only: the file is byte-identical

        dev.network.responder.faults.clear()
        rc, text = transcript(regenerate, dev)
        assert rc == 0, text
        assert dev.cmdb.entry(LOCAL, "est-test101").get("certificate") != cert
        assert "state               : OK" in transcript(get, dev)[1]
        assert RENEWAL_FAILED_STATE not in conf.read_text()
    finally:
        dev.close()


def test_commits_without_an_acme2_entry_leave_the_acme_client_unloaded(tmp_path: Path) -> None:
    """The ACME client is loaded by the first commit of an acme2 entry, not by every commit: a device
    without one does not ask it about each commit and each command (the REST PUT's cost, issue 21)."""
    dev = Device.open(tmp_path / "box.conf", tmp_path / "state", Clock(fixed=LAB_TIME))
    try:
        sess = Session(dev)
        for line in ("config vpn certificate local", "edit plain", "set comments hi", "next", "edit plain",
                     "set comments again", "end", "config system global", "set hostname other", "end"):
            assert sess.execute(line).rc == 0
        assert dev._acme is None
        assert dev.acme.acme_entries() == []  # loaded on demand, it reads the table itself
    finally:
        dev.close()
