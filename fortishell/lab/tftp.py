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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import tftpy  # no type information (pyproject: ignore_missing_imports)

from ..errors import LabError

TFTP_PORT = 69
CLIENT_TIMEOUT = 2  # seconds per packet (loopback)
CLIENT_RETRIES = 2

logging.getLogger("tftpy").addHandler(logging.NullHandler())  # the library logs every packet
logging.getLogger("tftpy").propagate = False
_log = logging.getLogger("fortishell.lab.tftp")


class TftpFailure(Exception):
    """A TFTP transfer that did not complete (the text is the reason)."""


@dataclass(frozen=True)
class TftpTransfer:
    """One request the lab TFTP server answered (its ``on_transfer`` hook: the access log)."""

    peer: tuple[str, int]
    op: str  # "get" (a download) or "put" (an upload)
    name: str  # as the client sent it
    status: str  # "ok", "not-found", "access-violation" or "incomplete"
    seconds: float
    size: int  # bytes sent or received


TransferHook = Callable[[TftpTransfer], None]


class TftpService:
    """A tftpy server on a background thread (``port=0``: an ephemeral port); ``on_transfer``
    is told of each request when it ends (from the server's thread)."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0,
                 on_transfer: TransferHook | None = None) -> None:
        self.root = Path(root)
        self.host = host
        self.port = port
        self.on_transfer = on_transfer
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

        def open_download(name: str, raddress: str = "?", rport: int = 0, **_: Any) -> BinaryIO | None:
            report = self._reporter((raddress, rport), "get", name)
            f = _open_download(self.root, name, report)
            if f is None:
                report(False, 0, "not-found")
            return f

        def open_upload(path: str, context: Any) -> BinaryIO | None:
            name = os.path.relpath(path, decoy)
            report = self._reporter((str(getattr(context, "host", "?")), int(getattr(context, "port", 0))), "put", name)
            f = _open_upload(self.root, name, report, int(context.getBlocksize()))
            if f is None:
                report(False, 0, "access-violation")
            return f

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

    def _reporter(self, peer: tuple[str, int], op: str, name: str) -> "Report":
        hook, started = self.on_transfer, time.monotonic()

        def report(complete: bool, size: int, refused: str = "") -> None:
            if hook is None:
                return
            status = refused or ("ok" if complete else "incomplete")
            try:
                hook(TftpTransfer(peer, op, name, status, time.monotonic() - started, size))
            except Exception:  # noqa: BLE001 - a hook's failure must not stop the server's loop
                _log.exception("TFTP transfer hook failed")

        return report

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


Report = Callable[..., None]  # (complete, size[, refused status])


class _Watched(io.FileIO):
    """A file tftpy reads (``block`` None) or writes; the transfer is reported once, when
    tftpy closes it (at the end of the session, complete or not).  Complete: the end of the
    file was read, or a block shorter than the block size written (RFC 1350's last block)."""

    def __init__(self, path: Path, mode: str, report: Report, block: int | None = None) -> None:
        super().__init__(path, mode, opener=_no_follow if "w" in mode else None)
        self._report, self._block = report, block
        self._size, self._complete = 0, False

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size) or b""
        self._size += len(data)
        if size is None or size < 0 or len(data) < size:
            self._complete = True
        return data

    def write(self, data: Any, /) -> int:  # tftpy writes bytes
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += super().write(view[done:]) or 0
        self._size += done
        if self._block is not None and done < self._block:
            self._complete = True
        return done

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()
        finally:
            self._report(self._complete, self._size)


def _no_follow(path: str, flags: int) -> int:
    """``O_NOFOLLOW``: a link put in place after the root check is not followed either."""
    return os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o666)


def _open_download(root: Path, name: str, report: Report) -> BinaryIO | None:
    """The file to send, or None (``File not found``): outside the root, or not a regular file."""
    path = resolve_in_root(root, name)
    if path is None or not path.is_file():
        return None
    try:
        return _Watched(path, "rb", report)
    except OSError:
        return None


def _open_upload(root: Path, name: str, report: Report, block: int) -> BinaryIO | None:
    """Unbuffered, so an upload is on disk once its last block is acknowledged (a file
    read right after ``put`` returns is complete); None (``Access violation``) outside the
    root or when it cannot be created."""
    path = resolve_in_root(root, name)
    if path is None:
        return None
    try:
        return _Watched(path, "wb", report, block)
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
