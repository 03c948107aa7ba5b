"""Persistent state of the lab responder: serial counter and issued-certificate index.

``state.json`` in the state directory holds ``{"next_serial": N}`` (written
atomically: temporary file + ``os.replace``); each issued certificate is kept as
``issued/<serial>.pem`` and indexed by one JSON line in ``issued.log`` (appended,
so the cost of an enrollment does not grow with the number already issued).
Everything happens under a thread lock and an advisory file lock, so parallel
requests -- and several responder processes sharing one directory -- never hand
out the same serial.  Without a state directory the state lives in memory only,
and the index keeps the most recent ``MEMORY_INDEX`` certificates (memory stays
flat over any number of enrollments).  A ``state.json`` of an older layout with
an ``issued`` map is still read.
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
        self._mem: dict[str, Any] = {"next_serial": FIRST_SERIAL}
        self._mem_index: collections.OrderedDict[str, dict[str, str]] = collections.OrderedDict()
        if self.dir is not None:
            try:
                (self.dir / "issued").mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LabError(f"Cannot use lab state directory {self.dir}: {exc.strerror}") from None

    # ------------------------------------------------------------ file helpers
    @property
    def path(self) -> Path | None:
        return self.dir / "state.json" if self.dir else None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold both locks; yields the current state, writes it back on success."""
        with self._lock:
            if self.dir is None:
                yield self._mem
                return
            with open(self.dir / ".lock", "a+") as lockf:
                if fcntl is not None:
                    fcntl.flock(lockf.fileno(), fcntl.LOCK_EX)
                data = self._read()
                yield data
                self._write(data)

    def _read(self) -> dict[str, Any]:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"next_serial": FIRST_SERIAL}
        except (OSError, ValueError) as exc:
            raise LabError(f"Lab state file {self.path} is unreadable: {exc}") from None
        if not isinstance(data, dict):
            raise LabError(f"Lab state file {self.path} is unreadable: not a JSON object")
        data.setdefault("next_serial", FIRST_SERIAL)
        return data

    def _write(self, data: dict[str, Any]) -> None:
        assert self.dir is not None and self.path is not None
        _atomic_write(self.path, json.dumps({"next_serial": data["next_serial"]}, indent=1) + "\n")

    # ------------------------------------------------------------ API
    def next_serial(self) -> int:
        """Allocate the next serial number (persisted before it is returned)."""
        with self._locked() as data:
            serial = int(data["next_serial"])
            data["next_serial"] = serial + 1
        return serial

    def record(self, serial: int, *, subject: str, not_after: str, pem: str, op: str) -> None:
        """Add an issued certificate to the index (and its PEM file)."""
        row = {"subject": subject, "not_after": not_after, "op": op}
        if self.dir is None:
            with self._lock:
                self._mem_index[str(serial)] = row
                while len(self._mem_index) > MEMORY_INDEX:
                    self._mem_index.popitem(last=False)
            return
        _atomic_write(self.dir / "issued" / f"{serial}.pem", pem)
        line = json.dumps({"serial": serial, **row}, sort_keys=True) + "\n"
        with self._locked():
            with open(self.dir / "issued.log", "a", encoding="utf-8") as log:
                log.write(line)
                log.flush()
                os.fsync(log.fileno())

    def issued(self) -> dict[int, dict[str, str]]:
        """serial -> {subject, not_after, op} of the certificates issued (see the module note)."""
        if self.dir is None:
            with self._lock:
                return {int(k): dict(v) for k, v in self._mem_index.items()}
        with self._locked() as data:
            rows = {int(k): dict(v) for k, v in data.get("issued", {}).items()}  # older layout
            try:
                with open(self.dir / "issued.log", encoding="utf-8") as log:
                    for text in log:
                        try:
                            row = json.loads(text)
                            serial = int(row.pop("serial"))
                            rows[serial] = {k: str(v) for k, v in row.items()}
                        except (ValueError, KeyError, TypeError):
                            continue  # a line torn by a crash: skip it
            except FileNotFoundError:
                pass
            return rows

    # ------------------------------------------------------------ revocation
    def revoke(self, serial: int, when: str) -> bool:
        """Revoke an issued certificate (``when``: ISO time).  False if it was already revoked.

        ``revoked.log`` in the state directory (one JSON line per revocation) is
        what every responder, embedded or standalone, publishes in its CRL.
        """
        if serial not in self.issued():
            raise LabError(f"Serial {serial} (0x{serial:x}) was not issued by this lab CA")
        if serial in self.revoked():
            return False
        row = {"serial": serial, "date": when}
        if self.dir is None:
            with self._lock:
                self._mem.setdefault("revoked", {})[str(serial)] = when
            return True
        with self._locked():
            with open(self.dir / "revoked.log", "a", encoding="utf-8") as log:
                log.write(json.dumps(row, sort_keys=True) + "\n")
                log.flush()
                os.fsync(log.fileno())
        return True

    def revoked(self) -> dict[int, str]:
        """serial -> revocation time (ISO) of the revoked certificates."""
        if self.dir is None:
            with self._lock:
                return {int(k): str(v) for k, v in self._mem.get("revoked", {}).items()}
        rows: dict[int, str] = {}
        try:
            with open(self.dir / "revoked.log", encoding="utf-8") as log:
                for text in log:
                    try:
                        row = json.loads(text)
                        rows.setdefault(int(row["serial"]), str(row["date"]))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line torn by a crash: skip it
        except FileNotFoundError:
            pass
        return rows

    def issued_pem(self, serial: int) -> str | None:
        if self.dir is None:
            return None
        try:
            return (self.dir / "issued" / f"{serial}.pem").read_text()
        except FileNotFoundError:
            return None


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
