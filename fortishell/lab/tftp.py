"""The lab TFTP server (RFC 1350 over UDP, by tftpy) and the device's TFTP client.

The lab network reaches it as ``tftp.lab`` / ``192.0.2.69`` port 69; it really
listens on a loopback port.  Embedded, it serves ``<state-dir>/tftp/``; for a
classroom ``fortishell lab-server --tftp-port P --tftp-root DIR`` serves it next
to the EST responder.  Uploads may create and replace files in the root, never
outside it.

The root is guarded twice.  tftpy refuses names whose normalised path leaves
the directory it is given; that directory is an empty one of our own, so every
download reaches tftpy's ``dyn_file_func`` and every upload its ``upload_open``,
and both go through :func:`resolve_in_root`: the name is taken relative to the
root (a leading ``/`` too, as on a chrooted server), symbolic links are resolved,
and what is not strictly inside the resolved root is refused (a download: ``File
not found``, as a chrooted server says; an upload: ``Access violation``).  So a
link in the root that points outside leads nowhere either.

The client side (``tftp_get`` / ``tftp_put``) is what ``execute vpn certificate
... tftp`` uses; failures raise :class:`TftpFailure` with a short reason
(``File not found``, ``timed out``).
"""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

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
        self._decoy: tempfile.TemporaryDirectory[str] | None = None

    def start(self, wait: float = 5.0) -> "TftpService":
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabError(f"Cannot use TFTP root {self.root}: {exc.strerror}") from None
        self._decoy = tempfile.TemporaryDirectory(prefix="fortishell-tftp-")  # stays empty (module note)
        decoy = self._decoy.name

        def open_download(name: str, **_peer: Any) -> BinaryIO | None:
            return _open_download(self.root, name)

        def open_upload(path: str, _context: object) -> BinaryIO | None:
            return _open_upload(self.root, os.path.relpath(path, decoy))

        try:
            server = tftpy.TftpServer(decoy, dyn_file_func=open_download, upload_open=open_upload)
        except BaseException:
            self._cleanup()
            raise
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
            self._cleanup()
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
        self._cleanup()

    def _cleanup(self) -> None:
        decoy, self._decoy = self._decoy, None
        if decoy is not None:
            decoy.cleanup()

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


def resolve_in_root(root: Path, name: str) -> Path | None:
    """The file ``name`` designates under ``root`` (relative to it, links resolved), or None
    when that is not strictly inside the resolved root (or the name cannot be a file name)."""
    if "\0" in name:
        return None
    base = os.path.realpath(root)
    full = os.path.realpath(os.path.join(base, name.lstrip("/")))
    if full == base or os.path.commonpath([base, full]) != base:
        return None
    return Path(full)


def _open_download(root: Path, name: str) -> BinaryIO | None:
    """The file to send, or None (``File not found``): outside the root, or not a regular file."""
    path = resolve_in_root(root, name)
    if path is None or not path.is_file():
        return None
    try:
        return open(path, "rb")
    except OSError:
        return None


def _open_upload(root: Path, name: str) -> BinaryIO | None:
    """Unbuffered, so an upload is on disk once its last block is acknowledged (a file
    read right after ``put`` returns is complete); None (``Access violation``) outside the
    root or when it cannot be created.  ``O_NOFOLLOW``: a link put in place after the check
    is not followed either."""
    path = resolve_in_root(root, name)
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError:
        return None
    return open(fd, "wb", buffering=0)


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
