"""The lab state on disk: a directory of the first layout (the issued index inside
``state.json``) keeps its index, and reads neither lock nor write nor fsync."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fortishell.lab.state import FIRST_SERIAL, LabState

EXE = Path(sys.executable).parent / "fortishell"

OLD_ROWS = {
    FIRST_SERIAL: {"subject": "CN=firewall-portal1", "not_after": "2024-04-05T22:39:37+00:00", "op": "simpleenroll"},
    FIRST_SERIAL + 1: {"subject": "CN=student1", "not_after": "2024-04-06T10:00:00+00:00", "op": "lab-ca sign"},
}


def _old_layout(lab: Path) -> None:
    """A state directory exactly as the first version of ``LabState`` left it: the whole index
    in ``state.json`` (``json.dumps(data, indent=1, sort_keys=True)``), PEMs under ``issued/``,
    no ``issued.log`` and no ``revoked.log``."""
    (lab / "issued").mkdir(parents=True)
    data = {"next_serial": FIRST_SERIAL + 2, "issued": {str(k): v for k, v in OLD_ROWS.items()}}
    (lab / "state.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    for serial in OLD_ROWS:
        (lab / "issued" / f"{serial}.pem").write_text(f"PEM {serial}\n")


def test_old_layout_index_survives_reads_and_writes(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    _old_layout(lab)
    state = LabState(lab)
    assert state.issued() == OLD_ROWS
    assert state.issued() == OLD_ROWS  # a read forgets nothing
    assert state.next_serial() == FIRST_SERIAL + 2  # a write (the counter) forgets nothing either
    state.record(FIRST_SERIAL + 2, subject="CN=new", not_after="x", pem="PEM new\n", op="simpleenroll")
    again = LabState(lab)  # another process, later
    assert again.issued() == {**OLD_ROWS, FIRST_SERIAL + 2: {"subject": "CN=new", "not_after": "x",
                                                            "op": "simpleenroll"}}
    assert again.next_serial() == FIRST_SERIAL + 3
    assert again.revoke(FIRST_SERIAL + 1, "2023-04-06T22:45:00+00:00") is True
    assert LabState(lab).revoked() == {FIRST_SERIAL + 1: "2023-04-06T22:45:00+00:00"}
    assert again.issued_pem(FIRST_SERIAL) == f"PEM {FIRST_SERIAL}\n"
    # migrated once: the counter file holds the counter, the index lives in issued.log
    assert json.loads((lab / "state.json").read_text()) == {"next_serial": FIRST_SERIAL + 4}
    logged = [json.loads(line)["serial"] for line in (lab / "issued.log").read_text().splitlines()]
    assert sorted(set(logged)) == [FIRST_SERIAL, FIRST_SERIAL + 1, FIRST_SERIAL + 2]


def test_lab_ca_revokes_an_old_layout_serial_after_signing(tmp_path: Path) -> None:
    """A trainer's sequence on a directory kept from the first version: sign, then revoke an old serial."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    lab = tmp_path / "lab"
    _old_layout(lab)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "student2")]))
           .sign(key, hashes.SHA256()))
    (tmp_path / "s.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(EXE), "lab-ca", "--lab-state", str(lab), *args],
                              capture_output=True, text=True, timeout=120)

    signed = run("sign", str(tmp_path / "s.csr"))
    assert signed.returncode == 0, signed.stderr
    assert x509.load_pem_x509_certificate(signed.stdout.encode()).serial_number == FIRST_SERIAL + 2
    revoked = run("revoke", str(FIRST_SERIAL))
    assert revoked.returncode == 0, revoked.stderr


def test_reads_take_no_lock_and_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = tmp_path / "lab"
    _old_layout(lab)
    state = LabState(lab)
    state.revoke(FIRST_SERIAL, "2023-04-06T22:45:00+00:00")
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in lab.iterdir() if p.is_file()}
    syncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (syncs.append(fd), real_fsync(fd))[1])
    results: dict[str, object] = {}

    def read() -> None:
        results["issued"] = LabState(lab).issued()
        results["revoked"] = LabState(lab).revoked()
        results["pem"] = LabState(lab).issued_pem(FIRST_SERIAL + 1)

    # another process holds the writers' lock for the whole read
    with open(lab / ".lock", "a+") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(10)
        blocked = reader.is_alive()
        fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    reader.join(10)
    assert not blocked, "a read waited for the writers' lock"
    assert results == {"issued": OLD_ROWS, "revoked": {FIRST_SERIAL: "2023-04-06T22:45:00+00:00"},
                       "pem": f"PEM {FIRST_SERIAL + 1}\n"}
    assert syncs == []
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in lab.iterdir() if p.is_file()}
    assert after == before


def test_a_line_torn_by_a_crash_costs_only_itself(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    state = LabState(lab)
    state.record(FIRST_SERIAL, subject="CN=a", not_after="x", pem="", op="simpleenroll")
    with open(lab / "issued.log", "a") as log:  # a crash in the middle of the next append
        log.write('{"not_after": "x", "op": "simpleenr')
    state.record(FIRST_SERIAL + 1, subject="CN=b", not_after="y", pem="", op="simpleenroll")
    assert sorted(LabState(lab).issued()) == [FIRST_SERIAL, FIRST_SERIAL + 1]
    with open(lab / "revoked.log", "a") as log:
        log.write('{"date": "2023-04-0')
    assert state.revoke(FIRST_SERIAL + 1, "2023-04-06T22:45:00+00:00") is True
    assert LabState(lab).revoked() == {FIRST_SERIAL + 1: "2023-04-06T22:45:00+00:00"}
