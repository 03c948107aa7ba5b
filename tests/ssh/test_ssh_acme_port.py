"""`serve --acme-http-port`: the served devices answer ACME http-01 on that loopback port."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from fortishell.ssh.devices import DeviceRegistry, ServeOptions


def test_served_devices_take_the_acme_http_port(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    registry = DeviceRegistry(ServeOptions(tmp_path, shared=True, acme_http_port=port))
    device = registry.device_for("admin")
    try:
        assert device.acme_http_port == port
        device.acme.responder.serve("tok", "tok.thumb")
        resp = httpx.get(f"http://127.0.0.1:{port}/.well-known/acme-challenge/tok", timeout=5)
        assert (resp.status_code, resp.text) == (200, "tok.thumb")
    finally:
        device.close()
