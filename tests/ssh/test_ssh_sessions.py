"""The wire behaviour of served sessions (asyncssh client): echo, CRLF, blank line before the
prompt, exit, per-user devices, --shared, paging, Ctrl-C, authentication, the host key."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import asyncssh
import pytest

from fortishell.cmdb import store
from fortishell.shell.persist import load_saved
from fortishell.ssh.hostkey import HOST_KEY_NAME
from fortishell.ssh.users import hash_password

LOCAL = ("vpn", "certificate", "local")


def test_echo_crlf_blank_line_and_exit(serve, shell) -> None:
    srv = serve()
    sh = shell(srv.port)
    out = sh.cmd("get system status | grep Virtual")
    assert out == ("get system status | grep Virtual\r\n"
                   "Virtual domains status: 1 in NAT mode, 0 in TP mode\r\n"
                   "Virtual domain configuration: disable\r\n\r\nFortiProxy # ")
    assert "\x1b" not in out  # plain text on the wire, like a FortiOS box
    out = sh.cmd("config vpn certificate local")
    assert out.endswith("\r\n\r\nFortiProxy (local) # ")
    out = sh.cmd("edt x")  # unknown verb inside config
    assert "Unknown action 0\r\n\r\nFortiProxy (local) # " in out
    sh.cmd("end")
    sh.send("exit\r")
    assert sh.closed()


def test_per_user_devices_are_isolated(serve, shell, tmp_path: Path) -> None:
    srv = serve(users_toml='[users.alice]\npassword = "a1"\n[users.bob]\npassword = "b2"\n')
    alice = shell(srv.port, "alice", "a1")
    bob = shell(srv.port, "bob", "b2")
    alice.cmd("config vpn certificate local")
    alice.cmd("edit only-alice")
    alice.cmd("end")
    assert "only-alice" in alice.cmd("show vpn certificate local only-alice")
    assert 'edit "only-alice"' not in bob.cmd("show vpn certificate local only-alice")
    # each user's configuration is saved under the state directory (the file and its journal)
    assert "only-alice" in store.dumps(load_saved(tmp_path / "state" / "users" / "alice" / "fortishell.conf"))
    assert "only-alice" not in store.dumps(load_saved(tmp_path / "state" / "users" / "bob" / "fortishell.conf"))
    # a user's second session sees the same device
    alice2 = shell(srv.port, "alice", "a1")
    assert 'edit "only-alice"' in alice2.cmd("show vpn certificate local only-alice")


def test_shared_device_commits_seen_by_others(serve, shell) -> None:
    srv = serve(shared=True, users_toml='factory-admin = true\n[users.alice]\npassword = "a1"\n')
    admin = shell(srv.port)
    alice = shell(srv.port, "alice", "a1")
    admin.cmd("config vpn certificate local")
    admin.cmd("edit shared1")
    admin.cmd("set comments pending")
    # not committed yet: the other admin does not see it, and has its own mode stack
    assert 'edit "shared1"' not in alice.cmd("show vpn certificate local shared1")
    admin.cmd("next")
    admin.cmd("end")
    assert 'set comments "pending"' in alice.cmd("show vpn certificate local shared1")
    assert alice.cmd("config system global").endswith("FortiProxy (global) # ")
    alice.cmd("set hostname FPX-Shared")
    alice.cmd("end")
    assert admin.cmd("get system status | grep Hostname").endswith("FPX-Shared # ")
    assert len(srv.registry.devices) == 1


def test_paging_more_space_enter_q(serve, shell) -> None:
    srv = serve()
    sh = shell(srv.port, rows=10)
    sh.send("get system status\r")
    first = sh.read_until("--More--")
    assert first.count("\r\n") == 10  # the echoed line, then 9 lines = one page (rows - 1)
    sh.send(" ")  # next page
    second = sh.read_until("--More--")
    assert second.startswith("\r        \r")  # --More-- erased
    assert second.count("\r\n") == 9
    sh.send("\r")  # one more line
    third = sh.read_until("--More--")
    assert third.count("\r\n") == 1
    sh.send("q")
    rest = sh.read_until("# ")
    assert rest == "\r        \r\r\nFortiProxy # "  # --More-- erased, the rest dropped, blank line, prompt
    # standard output: no pager; debug / non get-show output is never paged
    sh.cmd("config system console")
    sh.cmd("set output standard")
    sh.cmd("end")
    out = sh.cmd("get system status")
    assert "--More--" not in out and "Last reboot reason" in out


def test_ctrl_c_cancels_a_running_enrollment(serve, shell) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the TCP connection, never answers the TLS handshake
    port = silent.getsockname()[1]
    srv = serve()
    sh = shell(srv.port)
    try:
        sh.send(f"execute vpn certificate local generate est t1 ec-secp256r1 https://127.0.0.1:{port} CN=x\r")
        sh.read_until(f"127.0.0.1:{port} CN=x\r\n")
        time.sleep(0.5)
        started = time.monotonic()
        sh.send("\x03")
        out = sh.read_until("# ", timeout=3)
        assert time.monotonic() - started < 1.5  # the enrollment alone would wait 10 s
        # the enrollment is cancelled (it stores nothing) and says so, then a blank line and the prompt
        assert out == ("EST enrollment of certificate 't1' cancelled.\r\nCommand fail. Return code -1\r\n"
                       "\r\nFortiProxy # ")
        sh.send("show vpn certificate local t1\r")
        assert "entry not found in datasource" in sh.read_until("# ", timeout=3)  # nothing was stored
    finally:
        silent.close()


def test_password_and_public_key_auth(serve, shell, tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    pub = key.export_public_key().decode().strip()
    users = (f'factory-admin = false\n[users.carol]\npassword-hash = "{hash_password("c4rol", rounds=1000)}"\n'
             f'[users.dave]\nauthorized-keys = ["{pub}"]\n')
    srv = serve(users_toml=users)
    assert shell(srv.port, "carol", "c4rol").cmd("get system status | grep Hostname").endswith("# ")
    with pytest.raises(asyncssh.PermissionDenied):
        shell(srv.port, "carol", "wrong")
    with pytest.raises(asyncssh.PermissionDenied):
        shell(srv.port, "admin", "")  # factory admin switched off

    import asyncio

    async def with_key() -> str:
        async with asyncssh.connect("127.0.0.1", srv.port, username="dave", client_keys=[key],
                                    known_hosts=None, agent_path=None) as conn:
            proc = await conn.create_process(term_type="vt100")
            proc.stdin.write("exit\r")
            return await asyncio.wait_for(proc.stdout.read(), 10)

    assert "FortiProxy # " in asyncio.run(with_key())


def test_host_key_generated_once(serve, tmp_path: Path) -> None:
    state = tmp_path / "keep"
    srv = serve(state_dir=state)
    first = (state / HOST_KEY_NAME).read_bytes()
    assert (state / HOST_KEY_NAME).stat().st_mode & 0o077 == 0
    srv.stop()
    serve(state_dir=state)
    assert (state / HOST_KEY_NAME).read_bytes() == first


def test_background_output_reaches_the_session(serve, shell) -> None:
    srv = serve()
    sh = shell(srv.port)
    sh.send("config vpn")
    time.sleep(0.2)
    device = srv.registry.devices["admin"]
    t = threading.Thread(target=device.emit, args=("[1728] est_curl_req: URL: background",))
    t.start()
    t.join()
    out = sh.read_until("FortiProxy # config vpn")
    assert "\r\n[1728] est_curl_req: URL: background\r\n" in out
    out = sh.cmd(" certificate local")  # the line typed so far is still there
    assert out.endswith("FortiProxy (local) # ")


def test_more_ignores_other_keys_and_keeps_typed_ahead_lines(serve, shell) -> None:
    srv = serve()
    sh = shell(srv.port, rows=10)
    sh.send("get system status\r")
    sh.read_until("--More--")
    sh.send("x")  # a key the pager does not know: nothing at all happens
    sh.send("zz")  # a run of characters arrives as one paste: ignored key by key, none of them pages
    sh.send(" ")
    page = sh.read_until("--More--")
    assert page.startswith("\r        \r") and "--More----More--" not in page and "x" not in page.split("\r\n")[0]
    # q, then the next command typed ahead in the same packet: the command still runs
    sh.send("qget system status | grep Release\r")
    out = sh.read_until("Release Version Information: GA")
    assert "--More--" not in out.replace("\r        \r", "", 1)
    assert "FortiProxy # get system status | grep Release" in out
    sh.read_until("FortiProxy # ")
