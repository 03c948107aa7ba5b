"""`serve --https-port`: the REST door beside SSH on the same devices, over real HTTPS."""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from rest_helpers import Served

EXE = Path(sys.executable).parent / "fortishell"


def test_rest_write_is_seen_by_an_ssh_session(box: Served) -> None:
    token = box.token()
    with box.client(token) as c:
        r = c.put("/api/v2/cmdb/system/global", json={"hostname": "from-rest", "admintimeout": 42})
        assert r.status_code == 200, r.text
        assert r.json()["revision_changed"] is True
    out = box.ssh("show system global")
    assert 'set hostname "from-rest"' in out
    assert "set admintimeout 42" in out


def test_ssh_change_is_seen_over_rest(box: Served) -> None:
    token = box.token()
    out = box.ssh("config vpn certificate local\nedit web-1\nset comments \"made over ssh\"\nnext\nend\n")
    assert "Command fail" not in out, out
    with box.client(token) as c:
        r = c.get("/api/v2/cmdb/vpn.certificate/local/web-1")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["results"][0]["comments"] == "made over ssh"
        assert body["results"][0]["q_origin_key"] == "web-1"


def test_rest_write_goes_to_the_journal_and_survives_a_restart(served, tmp_path: Path) -> None:
    box = served()
    token = box.token()
    with box.client(token) as c:
        assert c.put("/api/v2/cmdb/system/global", json={"alias": "durable"}).status_code == 200
    box.server.stop()
    again = served(state=box.state)
    assert 'set alias "durable"' in again.config_text()


def test_admin_certificate_is_made_once_and_kept(served) -> None:
    box = served()
    first = box.cert.read_bytes()
    key = box.state / "rest_admin.key"
    assert key.stat().st_mode & 0o777 == 0o600
    box.server.stop()
    again = served(state=box.state)
    assert again.cert.read_bytes() == first
    with again.client() as c:  # verifies the kept certificate for 127.0.0.1
        assert c.get("/api/v2/monitor/system/status").status_code == 401


def test_ssh_can_be_switched_off(served) -> None:
    box = served(ssh=False)
    assert box.server.port == 0
    token = box.token()
    with box.client(token) as c:
        assert c.get("/api/v2/monitor/system/status").json()["status"] == "success"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_token_and_errors(box: Served) -> None:
    token = box.token()
    url = f"{box.base_url}/api/v2/monitor/system/status"
    out = subprocess.run(["curl", "-sS", "--cacert", str(box.cert), "-H", f"Authorization: Bearer {token}", url],
                         capture_output=True, text=True, timeout=30)
    assert '"status_message"' not in out.stdout and '"version":"v7.6.1"' in out.stdout, out
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(box.cert),
                          "-X", "PATCH", "-H", f"Authorization: Bearer {token}",
                          f"{box.base_url}/api/v2/cmdb/system/global"], capture_output=True, text=True, timeout=30)
    assert out.stdout == "405"


def test_fortishell_serve_command_serves_https(tmp_path: Path) -> None:
    """The real `fortishell serve --https-port 0 --no-ssh`: its start-up line, then HTTPS."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([str(EXE), "serve", "--https-port", "0", "--no-ssh",
                             "--shared", "--state-dir", str(tmp_path / "st")],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"REST API on https://127\.0\.0\.1:(\d+)/api/v2/", line)
        assert m and "SSH on" not in line, line
        port = int(m.group(1))
        with httpx.Client(verify=ssl.create_default_context(cafile=str(tmp_path / "st" / "rest_admin.crt"))) as c:
            r = c.post(f"https://127.0.0.1:{port}/api/v2/authentication",
                       json={"username": "admin", "secretkey": ""})
            assert r.json()["status_message"] == "LOGIN_SUCCESS"
            key = r.json()["session_key"]
            r = c.get(f"https://127.0.0.1:{port}/api/v2/cmdb/system/global",
                      headers={"Authorization": f"Bearer {key}"})
            assert r.json()["results"]["hostname"] == "FortiProxy"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_no_ssh_without_https_port_is_refused(tmp_path: Path) -> None:
    out = subprocess.run([str(EXE), "serve", "--no-ssh", "--state-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "--no-ssh needs --https-port" in out.stderr
