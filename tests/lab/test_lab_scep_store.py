"""The SCEP pending store (lab/scepstore.py) and the responder's RA / sub-CA keys (lab/scepca.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fortishell.errors import LabError
from fortishell.lab.ca import LabCA
from fortishell.lab.scepca import identity
from fortishell.lab.scepstore import PendingRequest, PendingStore


def row(txid: str, status: str = "pending") -> PendingRequest:
    return PendingRequest(transaction_id=txid, status=status, subject=f"CN={txid}",  # type: ignore[arg-type]
                          received="2023-04-06T22:37:34+00:00", csr_pem="CSR", signer_pem="SIGNER")


def test_kept_on_disk_and_decided_by_another_instance(tmp_path: Path) -> None:
    responder, trainer = PendingStore(tmp_path), PendingStore(tmp_path)  # two processes' views
    txid = "ab+/cd=="  # a base64 transaction id: never a file name
    assert responder.add(row(txid)) == row(txid)
    assert responder.add(row(txid, "approved")).status == "pending"  # sent again: kept as it was
    assert [r.transaction_id for r in trainer.all()] == [txid]
    assert trainer.decide(txid, approve=True).status == "approved"
    assert responder.get(txid).status == "approved"  # type: ignore[union-attr]
    with pytest.raises(LabError, match="already approved"):
        trainer.decide(txid, approve=False)
    with pytest.raises(LabError, match=r"No SCEP request with transaction id nope \(pending: none\)"):
        trainer.decide("nope", approve=True)
    assert sorted(p.name for p in (tmp_path / "scep").iterdir()) == ["pending.json", "pending.lock"]


def test_settle_issues_an_approved_request_once(tmp_path: Path) -> None:
    store = PendingStore(tmp_path)
    store.add(row("t1"))
    issued: list[str] = []

    def issue(req: PendingRequest) -> tuple[int, str]:
        issued.append(req.transaction_id)
        return 7, "PEM"

    assert store.settle("t1", issue) == (row("t1"), False)  # still pending: nothing issued
    assert store.settle("unknown", issue) == (None, False)
    store.decide("t1", approve=True)
    polls = [PendingStore(tmp_path) for _ in range(8)]
    results: list[tuple[PendingRequest | None, bool]] = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.settle("t1", issue))) for s in polls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert issued == ["t1"] and [fresh for _, fresh in results].count(True) == 1
    assert {(r.status, r.serial, r.cert_pem) for r, _ in results if r} == {("issued", 7, "PEM")}


def test_parallel_writers_lose_nothing(tmp_path: Path) -> None:
    stores = [PendingStore(tmp_path) for _ in range(12)]  # each its own lock: only the file lock orders them
    threads = [threading.Thread(target=s.add, args=(row(f"t{i}"),)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.transaction_id for r in PendingStore(tmp_path).all()) == sorted(f"t{i}" for i in range(12))


def test_a_failed_issue_changes_nothing(tmp_path: Path) -> None:
    store = PendingStore(tmp_path)
    store.add(row("t1"))
    store.decide("t1", approve=True)
    before = (tmp_path / "scep" / "pending.json").read_bytes()

    def broken(_req: PendingRequest) -> tuple[int, str]:
        raise LabError("CSR refused")

    with pytest.raises(LabError):
        store.settle("t1", broken)
    assert (tmp_path / "scep" / "pending.json").read_bytes() == before


def test_damaged_store_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "scep").mkdir()
    (tmp_path / "scep" / "pending.json").write_text("{not json")
    with pytest.raises(LabError) as err:
        PendingStore(tmp_path).all()
    assert len(err.value.lines) == 1 and "pending.json is unreadable" in err.value.lines[0]


def test_memory_store_without_state_dir() -> None:
    store = PendingStore(None)
    store.add(row("t1"))
    assert store.decide("t1", approve=False).status == "rejected"
    assert store.get("t1").status == "rejected"  # type: ignore[union-attr]


def test_ra_kept_across_restarts_and_replaced_for_a_new_ca(tmp_path: Path) -> None:
    shipped = LabCA.shipped()
    first = identity(shipped, tmp_path, single_ca=False)
    assert identity(shipped, tmp_path, single_ca=False).cert == first.cert  # a restart: the same RA
    assert (tmp_path / "scep" / "ra.key").stat().st_mode & 0o077 == 0
    other = LabCA.new()
    again = identity(other, tmp_path, single_ca=False)  # lab-server --new-ca since
    assert again.cert != first.cert and other.chains_to_me(again.cert)
    assert again.chain == (again.cert, other.cert) and again.content_type == "application/x-x509-ca-ra-cert"


def test_memory_identity_made_once_per_ca() -> None:
    shipped = LabCA.shipped()
    first = identity(shipped, None, single_ca=True)
    assert identity(shipped, None, single_ca=True).key is first.key  # no second RSA key generation
    assert identity(shipped, None, single_ca=False).cert != first.cert


def test_decide_takes_a_unique_prefix_in_any_case(tmp_path: Path) -> None:
    store = PendingStore(tmp_path)
    for txid in ("3A7BB17BFB3C0BD0", "3A7CC000", "9F00"):
        store.add(row(txid))
    assert store.decide("3a7b", approve=True).transaction_id == "3A7BB17BFB3C0BD0"  # typed by a trainer
    with pytest.raises(LabError, match="3A7 names more than one SCEP request: 3A7BB17BFB3C0BD0, 3A7CC000"):
        store.decide("3A7", approve=False)
    assert store.decide("9F00", approve=False).status == "rejected"
    with pytest.raises(LabError, match=r"No SCEP request with transaction id 12 \(pending: 3A7CC000\)"):
        store.decide("12", approve=True)
