"""The device's file transfers: TFTP get/put and plain-HTTP downloads, through the lab network.

``execute vpn certificate ... tftp`` and ``crl import auto`` call these; the lab
network (``device.network``) says where a lab host's port really is.  An
address outside the lab is unreachable (the lab has no internet): TFTP reports
a time-out at once instead of waiting for one, HTTP says it cannot resolve or
connect, as curl would.  Failures raise :class:`fortishell.errors.CertError`
with one line; the texts are our choice (FortiOS does not document them).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import CertError
from ..lab.network import REFUSED
from ..lab.tftp import TFTP_PORT, TftpFailure, tftp_get, tftp_put

HTTP_TIMEOUT = 10.0


def _tftp_addr(network: Any, server: str, failed: str) -> tuple[str, int]:
    """Where the TFTP server ``server`` is; a lab host without TFTP answers with an ICMP port
    unreachable at once (connection refused), an address outside the lab never answers."""
    addr = network.resolve(server, TFTP_PORT, "udp")
    if addr is None:
        raise CertError(f"Failed to connect to tftp server {server}: timed out")
    if addr == REFUSED:
        raise CertError(f"{failed}: Connection refused")
    return addr  # type: ignore[no-any-return]


def download(network: Any, server: str, filename: str) -> bytes:
    """A file from a TFTP server of the lab."""
    failed = f"Failed to get file '{filename}' from tftp server {server}"
    try:
        return tftp_get(_tftp_addr(network, server, failed), filename)
    except TftpFailure as exc:
        raise CertError(f"Failed to get file '{filename}' from tftp server {server}: {exc}") from None


def upload(network: Any, server: str, filename: str, data: bytes) -> None:
    """A file to a TFTP server of the lab."""
    failed = f"Failed to send file '{filename}' to tftp server {server}"
    try:
        tftp_put(_tftp_addr(network, server, failed), filename, data)
        network.tftp_settle()
    except TftpFailure as exc:
        raise CertError(f"Failed to send file '{filename}' to tftp server {server}: {exc}") from None


def http_get(network: Any, url: str) -> bytes:
    """GET ``url`` (plain HTTP) through the lab host map; curl-style errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or 80
    except ValueError:
        raise CertError(f"URL using bad/illegal format or missing URL: {url}") from None
    if parts.scheme != "http" or not host:
        raise CertError(f"Protocol \"{parts.scheme}\" not supported or disabled: {url}")
    addr = network.resolve(host, port)
    if addr is None:
        raise CertError(f"Could not resolve host: {host}")
    target = f"http://{addr[0]}:{addr[1]}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
    start = time.monotonic()
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT, trust_env=False) as client:
            resp = client.get(target, headers={"Host": parts.netloc})
    except httpx.ConnectError:
        ms = int((time.monotonic() - start) * 1000)
        raise CertError(f"Failed to connect to {host} port {port} after {ms} ms: Connection refused") from None
    except httpx.TimeoutException:
        raise CertError(f"Operation timed out after {int(HTTP_TIMEOUT * 1000)} milliseconds") from None
    except httpx.HTTPError as exc:
        raise CertError(f"Failure when receiving data from the peer ({type(exc).__name__})") from None
    if resp.status_code != 200:
        raise CertError(f"The requested URL returned error: {resp.status_code}")
    return resp.content
