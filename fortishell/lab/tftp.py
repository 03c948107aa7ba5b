"""The lab TFTP server (RFC 1350 over UDP, by tftpy) and the device's TFTP client.

The lab network reaches it as ``tftp.lab`` / ``192.0.2.69`` port 69; it really
listens on a loopback port.  Embedded, it serves ``<state-dir>/tftp/``; for a
classroom ``fortishell lab-server --tftp-port P --tftp-root DIR`` serves it next
to the EST responder.  Uploads may create and replace files in the root, never
outside it (tftpy refuses paths that leave the root).

The client side (``tftp_get`` / ``tftp_put``) is what ``execute vpn certificate
... tftp`` uses; failures raise :class:`TftpFailure` with a short reason
(``File not found``, ``timed out``).
"""

from __future__ import annotations

import io
import re
import logging
import threading
import time
from pathlib import Path
from typing import BinaryIO

import tftpy  # no type information (pyproject: ignore_missing_imports)

from ..errors import LabError

TFTP_PORT = 69
CLIENT_TIMEOUT = 2  # seconds per packet (loopback)
CLIENT_RETRIES = 2

logging.getLogger("tftpy").addHandler(logging.NullHandler())  # the library logs every packet
logging.getLogger("tftpy").propagate = False


class TftpFailure(Exception):
    """A TFTP transfer that did not complete (the text is the reason)."""


class TftpService:
    """A tftpy server on a background thread (``port=0``: an ephemeral port)."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root)
        self.host = host
        self.port = port
        self._server: tftpy.TftpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, wait: float = 5.0) -> "TftpService":
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabError(f"Cannot use TFTP root {self.root}: {exc.strerror}") from None
        server = tftpy.TftpServer(str(self.root), upload_open=_open_upload)
        errors: list[BaseException] = []

        def serve() -> None:
            try:
                server.listen(self.host, self.port, timeout=CLIENT_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - reported to start() below
                errors.append(exc)

        thread = threading.Thread(target=serve, name="fortishell-tftp", daemon=True)
        thread.start()
        server.is_running.wait(wait)
        if errors or not server.is_running.is_set():
            reason = errors[0] if errors else "did not start"
            raise LabError(f"Cannot start the lab TFTP server on {self.host}:{self.port}: {reason}")
        self._server, self._thread = server, thread
        self.port = int(server.listenport)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.stop(now=True)
        if thread is not None:
            thread.join(5.0)

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no transfer is in progress (tftpy acknowledges the last block of an
        upload before it writes and closes the file: a reader right after a put waits here)."""
        server = self._server
        deadline = time.monotonic() + timeout
        while server is not None and server.sessions:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True


def _open_upload(path: str, context: object) -> BinaryIO | None:
    """Unbuffered, so an upload is on disk once its last block is acknowledged (a file
    read right after ``put`` returns is complete); None (access violation) when it cannot
    be created (tftpy has already checked that ``path`` stays inside the root)."""
    try:
        return open(path, "wb", buffering=0)
    except OSError:
        return None


def _client(addr: tuple[str, int]) -> tftpy.TftpClient:
    return tftpy.TftpClient(addr[0], addr[1], flock=False)  # in-memory files: nothing to lock


def _reason(exc: Exception) -> str:
    text = str(exc)
    sent = re.search(r"msg = b'([^']*)'", text)  # tftpy's text for an ERR packet
    if sent:
        text = sent.group(1)
    if isinstance(exc, tftpy.TftpTimeout) or "timed out" in text.lower():
        return "timed out"
    for known in ("File not found", "Access violation", "File already exists", "Disk full"):
        if known.lower() in text.lower():
            return known
    return text or type(exc).__name__


def tftp_get(addr: tuple[str, int], filename: str) -> bytes:
    """Download ``filename``; raises :class:`TftpFailure`."""
    out = io.BytesIO()
    try:
        _client(addr).download(filename, out, timeout=CLIENT_TIMEOUT, retries=CLIENT_RETRIES)
    except (tftpy.TftpException, OSError) as exc:
        raise TftpFailure(_reason(exc)) from None
    return out.getvalue()


def tftp_put(addr: tuple[str, int], filename: str, data: bytes) -> None:
    """Upload ``data`` as ``filename``; raises :class:`TftpFailure`."""
    try:
        _client(addr).upload(filename, io.BytesIO(data), timeout=CLIENT_TIMEOUT, retries=CLIENT_RETRIES)
    except (tftpy.TftpException, OSError) as exc:
        raise TftpFailure(_reason(exc)) from None
