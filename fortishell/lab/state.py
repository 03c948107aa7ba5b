"""Persistent state of the lab responder: serial counter and issued-certificate index.

``state.json`` in the state directory holds ``{"next_serial": N}`` (written
atomically: temporary file + ``os.replace``); each issued certificate is kept as
``issued/<serial>.pem`` and indexed by one JSON line in ``issued.log`` (appended,
so the cost of an enrollment does not grow with the number already issued);
revocations are JSON lines in ``revoked.log``.

Writers (the counter, the index, revocations) hold a thread lock and an advisory
file lock (``.lock``), so parallel requests -- and several responder processes
sharing one directory -- never hand out the same serial.  Readers take no lock,
write nothing and never fsync: ``state.json`` only ever changes by an atomic
rename, and a log line torn by a crash (or still being appended) is skipped.

The first layout kept the whole index inside ``state.json`` (``{"next_serial": N,
"issued": {serial: {...}}}``).  Such a file is read as it is, and the first write
migrates it under the lock: its rows are appended to ``issued.log`` (made durable)
before ``state.json`` is replaced by the counter alone, so a crash in between only
leaves rows that are read twice, never a row lost.

Without a state directory the state lives in memory only, and the index keeps the
most recent ``MEMORY_INDEX`` certificates (memory stays flat over any number of
enrollments).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..x509text import serial_colon

FIRST_SERIAL = 476823  # the guide's first issued serial (0x74697)
MEMORY_INDEX = 1000  # issued certificates remembered without a state directory

try:  # POSIX advisory locks; elsewhere the thread lock alone is used
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class LabState:
    def __init__(self, state_dir: Path | None = None) -> None:
        self._lock = threading.Lock()
        self.dir = Path(state_dir) if state_dir is not None else None
        self._next = FIRST_SERIAL
        self._mem_revoked: dict[int, str] = {}
        self._mem_index: collections.OrderedDict[int, dict[str, str]] = collections.OrderedDict()
        if self.dir is not None:
            try:
                (self.dir / "issued").mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LabError(f"Cannot use lab state directory {self.dir}: {exc.strerror}") from None

    # ------------------------------------------------------------ file helpers
    @property
    def path(self) -> Path | None:
        return self.dir / "state.json" if self.dir else None

    def _file(self, name: str) -> Path:
        assert self.dir is not None
        return self.dir / name

    @contextlib.contextmanager
    def _writing(self) -> Iterator[dict[str, Any]]:
        """Hold both locks (writers only); yields ``state.json`` as it is, the first
        layout migrated."""
        assert self.dir is not None
        with self._lock, open(self._file(".lock"), "a+") as lockf:
            if fcntl is not None:
                fcntl.flock(lockf.fileno(), fcntl.LOCK_EX)
            data = self._read()
            if "issued" in data:
                self._migrate(data)
            yield data

    def _read(self) -> dict[str, Any]:
        path = self._file("state.json")
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return {"next_serial": FIRST_SERIAL}
        except (OSError, ValueError) as exc:
            raise LabError(f"Lab state file {path} is unreadable: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.setdefault("next_serial", FIRST_SERIAL), int):
            raise LabError(f"Lab state file {path} is unreadable: not a lab state")
        return data

    def _write_counter(self, next_serial: int) -> None:
        _atomic_write(self._file("state.json"), json.dumps({"next_serial": next_serial}, indent=1) + "\n")

    def _migrate(self, data: dict[str, Any]) -> None:
        """The first layout's index -> ``issued.log`` (durable), then ``state.json`` -> the counter."""
        lines = "".join(_index_line(serial, row) for serial, row in _old_rows(data).items())
        if lines:
            _append(self._file("issued.log"), lines)
        self._write_counter(int(data["next_serial"]))
        del data["issued"]

    # ------------------------------------------------------------ API
    def next_serial(self) -> int:
        """Allocate the next serial number (persisted before it is returned)."""
        if self.dir is None:
            with self._lock:
                serial, self._next = self._next, self._next + 1
            return serial
        with self._writing() as data:
            serial = int(data["next_serial"])
            self._write_counter(serial + 1)
        return serial

    def record(self, serial: int, *, subject: str, not_after: str, pem: str, op: str) -> None:
        """Add an issued certificate to the index (and its PEM file)."""
        row = {"subject": subject, "not_after": not_after, "op": op}
        if self.dir is None:
            with self._lock:
                self._mem_index[serial] = row
                while len(self._mem_index) > MEMORY_INDEX:
                    self._mem_index.popitem(last=False)
            return
        _atomic_write(self._file("issued") / f"{serial}.pem", pem)
        with self._writing():
            _append(self._file("issued.log"), _index_line(serial, row))

    def issued(self) -> dict[int, dict[str, str]]:
        """serial -> {subject, not_after, op} of the certificates issued (no lock taken)."""
        if self.dir is None:
            with self._lock:
                return {k: dict(v) for k, v in self._mem_index.items()}
        rows = _old_rows(self._read())  # the first layout, not migrated yet
        for row in _log_rows(self._file("issued.log")):
            try:
                serial = int(row.pop("serial"))
            except (KeyError, TypeError, ValueError):
                continue
            rows[serial] = {k: str(v) for k, v in row.items()}
        return rows

    # ------------------------------------------------------------ revocation
    def revoke(self, serial: int, when: str) -> bool:
        """Revoke an issued certificate (``when``: ISO time).  False if it was already revoked.

        ``revoked.log`` in the state directory (one JSON line per revocation) is
        what every responder, embedded or standalone, publishes in its CRL.
        """
        if self.dir is None:
            with self._lock:
                known, done = serial in self._mem_index, serial in self._mem_revoked
                if known and not done:
                    self._mem_revoked[serial] = when
        else:
            with self._writing():
                known, done = serial in self.issued(), serial in self.revoked()
                if known and not done:
                    _append(self._file("revoked.log"),
                            json.dumps({"serial": serial, "date": when}, sort_keys=True) + "\n")
        if not known:
            raise LabError(f"Serial {serial_colon(serial)} was not issued by this lab CA")
        return not done

    def revoked(self) -> dict[int, str]:
        """serial -> revocation time (ISO) of the revoked certificates (no lock taken)."""
        if self.dir is None:
            with self._lock:
                return dict(self._mem_revoked)
        rows: dict[int, str] = {}
        for row in _log_rows(self._file("revoked.log")):
            try:
                rows.setdefault(int(row["serial"]), str(row["date"]))
            except (KeyError, TypeError, ValueError):
                continue
        return rows

    def issued_pem(self, serial: int) -> str | None:
        if self.dir is None:
            return None
        try:
            return (self._file("issued") / f"{serial}.pem").read_text()
        except FileNotFoundError:
            return None


def _index_line(serial: int, row: dict[str, str]) -> str:
    return json.dumps({"serial": serial, **row}, sort_keys=True) + "\n"


def _old_rows(data: dict[str, Any]) -> dict[int, dict[str, str]]:
    """The index of a first-layout ``state.json`` (rows that do not parse are left out)."""
    old = data.get("issued")
    rows: dict[int, dict[str, str]] = {}
    if isinstance(old, dict):
        for key, row in old.items():
            with contextlib.suppress(ValueError, TypeError):
                if isinstance(row, dict):
                    rows[int(key)] = {k: str(v) for k, v in row.items()}
    return rows


def _log_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a log, one a line; a line torn by a crash (or being written) is skipped."""
    try:
        with open(path, encoding="utf-8") as log:
            for text in log:
                try:
                    row = json.loads(text)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    yield row
    except FileNotFoundError:
        return


def _append(path: Path, lines: str) -> None:
    """Append whole lines durably (writers' lock held).  After a crash tore the last line,
    the new lines start on a line of their own, so the torn one alone is lost."""
    with open(path, "a+b") as log:
        if log.seek(0, os.SEEK_END) > 0:
            log.seek(-1, os.SEEK_END)
            if log.read(1) != b"\n":
                lines = "\n" + lines
        log.write(lines.encode("utf-8"))
        log.flush()
        os.fsync(log.fileno())


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` all at once (temporary file, fsync, rename): a reader sees the
    old file or the new one, never a mix (the lab services' own state files, e.g. ``acme.json``)."""
    _atomic_write(path, text)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
