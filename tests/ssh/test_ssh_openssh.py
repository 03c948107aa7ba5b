"""The OpenSSH client under pexpect: a person typing, with Tab completion and `?` help."""

from __future__ import annotations

import shutil
import sys

import pexpect
import pytest

pytestmark = [pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _ssh(port: int, user: str = "admin", rows: int = 40) -> pexpect.spawn:
    child = pexpect.spawn("ssh", ["-tt", "-p", str(port), "-o", "StrictHostKeyChecking=no",
                                  "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                                  "-o", "PubkeyAuthentication=no", "-F", "/dev/null", f"{user}@127.0.0.1"],
                          encoding="utf-8", timeout=10, dimensions=(rows, 120), env={"TERM": "xterm", "PATH": "/usr/bin:/bin"})
    child.logfile_read = sys.stdout if "-s" in sys.argv else None
    return child


def test_openssh_typing_with_tab_and_help(serve) -> None:
    srv = serve(users_toml='[users.trainee]\npassword = "lab"\n')
    child = _ssh(srv.port, "trainee")
    try:
        child.expect("(?i)password:")
        child.sendline("lab")
        child.expect_exact("FortiProxy # ")
        # Tab completes each word in place
        child.send("conf\t")
        child.expect_exact("config")
        child.send(" vpn cert\t")
        child.expect_exact("certificate")
        child.send(" loc\t")
        child.expect_exact("local")
        child.send("\r")
        child.expect_exact("FortiProxy (local) # ")
        child.send("edit ssh-cert\r")
        child.expect_exact("new entry 'ssh-cert' added")
        child.expect_exact("FortiProxy (ssh-cert) # ")
        # `?` lists the choices, is not echoed, and the partial line comes back
        child.send("set enroll-protocol ?")
        child.expect(r"\r\nnone\s{4,}\S")
        child.expect(r"\r\nest\s{4,}\S")
        child.expect_exact("FortiProxy (ssh-cert) # set enroll-protocol ")
        child.send("est\r")
        child.expect_exact("FortiProxy (ssh-cert) # ")
        child.send("set auto-regenerate-days 3O\x7f0\r")  # a typo fixed with Backspace
        child.expect_exact("FortiProxy (ssh-cert) # ")
        child.send("end\r")
        child.expect_exact("\r\n\r\nFortiProxy # ")
        child.send("show vpn certificate local ssh-cert\r")
        child.expect_exact('edit "ssh-cert"')
        child.expect_exact("set enroll-protocol est")
        child.expect_exact("set auto-regenerate-days 30")
        child.expect_exact("FortiProxy # ")
        child.send("exit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    entry = srv.registry.devices["trainee"].cmdb.entry(("vpn", "certificate", "local"), "ssh-cert")
    assert entry.get("enroll-protocol") == "est" and entry.get("auto-regenerate-days") == 30


def test_openssh_pager_and_question(serve) -> None:
    srv = serve()
    child = _ssh(srv.port, rows=12)
    try:
        child.expect_exact("FortiProxy # ")  # factory admin, empty password: no prompt
        child.send("get vpn certificate local\r")
        child.expect_exact("--More--")
        child.send(" ")
        child.expect_exact("--More--")
        child.send("q")
        child.expect_exact("FortiProxy # ")
        child.send("execute factoryreset\r")
        child.expect_exact("Do you want to continue? (y/n) ")
        child.send("n\r")
        child.expect_exact("FortiProxy # ")
        child.send("exit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
