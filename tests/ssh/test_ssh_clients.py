"""Real automation clients against the served shell: netmiko (fortinet driver, default settings)
and scrapli with scrapli_community's fortinet_fortios platform."""

from __future__ import annotations

import logging

import pytest

LOCAL = ("vpn", "certificate", "local")


def _console_output(srv) -> str:  # noqa: ANN001
    device = srv.registry.devices["admin"]
    return device.cmdb.entry(("system", "console")).get("output")


def test_netmiko_fortinet(serve) -> None:
    from netmiko import ConnectHandler

    srv = serve()
    conn = ConnectHandler(device_type="fortinet", host="127.0.0.1", port=srv.port, username="admin", password="")
    try:
        # session preparation switched the console to standard output (no --More--)
        assert _console_output(srv) == "standard"
        status = conn.send_command("get system status")
        assert "Version: FortiProxy-VM64 v7.6.1" in status and "--More--" not in status
        out = conn.send_config_set(["config vpn certificate local", "edit nm-cert", "set comments first", "next", "end"])
        assert "new entry 'nm-cert' added" in out and "Command fail" not in out
        out = conn.send_config_set(["config vpn certificate local", "edit nm-cert",
                                    "set auto-regenerate-days 30", "set comments second", "end"])
        assert "Command fail" not in out
        shown = conn.send_command("show vpn certificate local nm-cert | grep comments")
        assert shown.strip() == 'set comments "second"'
        entry = srv.registry.devices["admin"].cmdb.entry(LOCAL, "nm-cert")
        assert entry.get("auto-regenerate-days") == 30
    finally:
        conn.disconnect()
    # disconnect() restored the original console mode and left with `exit`
    assert _console_output(srv) == "more"


@pytest.mark.parametrize("transport", ["paramiko"])
def test_scrapli_fortios(serve, transport: str) -> None:
    from scrapli import Scrapli

    srv = serve()
    conn = Scrapli(host="127.0.0.1", port=srv.port, auth_username="admin", auth_password="",
                   auth_strict_key=False, platform="fortinet_fortios", transport=transport,
                   timeout_ops=10, timeout_socket=10, timeout_transport=10, ssh_config_file=False)
    conn.open()
    try:
        assert _console_output(srv) == "standard"
        resp = conn.send_command("get system status")
        assert not resp.failed and "Version: FortiProxy-VM64" in resp.result
        # the fortios platform does not implement send_configs (as against a real box);
        # configuration goes through send_commands
        with pytest.raises(NotImplementedError):
            conn.send_configs(["config vpn certificate local"])
        multi = conn.send_commands(["config vpn certificate local", "edit sc-cert",
                                    "set comments scrapli", "next", "end"])
        assert not multi.failed
        shown = conn.send_command('show vpn certificate local sc-cert | grep comments')
        assert shown.result.strip() == 'set comments "scrapli"'
        failing = conn.send_command("config vpn certificate local")
        failing = conn.send_command("set comments x")
        assert "Unknown action 0" in failing.result
        conn.send_command("end")
    finally:
        conn.close()
    assert _console_output(srv) == "more"
    logging.getLogger("scrapli").handlers.clear()
