"""The lab TFTP server never reads or writes outside its root.

Every attempt names a REAL file (or directory) outside the root, so a missing root
check shows as the secret served or a file written outside.  The client is curl
(an independent TFTP implementation) over real UDP on 127.0.0.1; ``--path-as-is``
keeps curl from removing the ``..`` segments itself.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fortishell.lab.tftp import TftpService, resolve_in_root

SECRET = b"the trainer's private key\n"
UPLOAD = b"uploaded by a student\n" * 40


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory):
    """``tmp_path/secret.txt`` outside the root ``tmp_path/tftp`` (with ``subdir/``), a sibling
    ``tftp2/`` whose name starts like the root, and a running server (one for the module:
    stopping a tftpy server takes a select timeout)."""
    tmp_path = tmp_path_factory.mktemp("tftproot")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "tftp"
    (root / "subdir").mkdir(parents=True)
    (root / "subdir" / "ok.txt").write_bytes(b"inside\n")
    (tmp_path / "tftp2").mkdir()
    (tmp_path / "tftp2" / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    service = TftpService(root).start()
    yield tmp_path, root, service
    service.stop()


def _curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["curl", "-sS", "--path-as-is", "--max-time", "20", *args],
                          capture_output=True, timeout=30)


def _url(service: TftpService, name: str) -> str:
    return f"tftp://127.0.0.1:{service.port}/{name}"  # curl sends what follows the first '/'


def _escapes(tmp_path: Path, root: Path) -> list[str]:
    return [
        "../secret.txt",
        "subdir/../../secret.txt",
        "./../secret.txt",
        "../tftp2/secret.txt",
        f"{root}/../secret.txt",  # absolute, starting with the root (tftpy takes such a name as it is)
        f"/{root}/../secret.txt",
    ]


def test_inside_the_root_works(area) -> None:
    """The server does serve and accept files: the refusals below are refusals, not a dead server."""
    tmp_path, root, service = area
    got = _curl(_url(service, "subdir/ok.txt"))
    assert got.returncode == 0 and got.stdout == b"inside\n"
    src = tmp_path / "up.bin"
    src.write_bytes(UPLOAD)
    assert _curl("-T", str(src), _url(service, "subdir/up.bin")).returncode == 0
    assert service.wait_idle()
    assert (root / "subdir" / "up.bin").read_bytes() == UPLOAD
    # a leading '/' is relative to the root, as on a chrooted server (not the host's /)
    assert _curl(_url(service, "/subdir/ok.txt")).stdout == b"inside\n"


@pytest.mark.parametrize("index", range(6))
def test_download_outside_the_root_is_refused(area, index: int) -> None:
    tmp_path, root, service = area
    name = _escapes(tmp_path, root)[index]
    got = _curl(_url(service, name))
    assert got.returncode != 0, f"{name!r} was served: {got.stdout!r}"
    assert SECRET not in got.stdout


def test_absolute_host_path_is_not_the_host_file(area) -> None:
    tmp_path, root, service = area
    got = _curl(_url(service, f"{tmp_path}/secret.txt"))
    assert got.returncode != 0 and SECRET not in got.stdout


@pytest.mark.parametrize("index", range(6))
def test_upload_outside_the_root_lands_nowhere(area, index: int) -> None:
    tmp_path, root, service = area
    name = _escapes(tmp_path, root)[index].replace("secret.txt", "evil.txt")
    src = tmp_path / "up.bin"
    src.write_bytes(UPLOAD)
    before = sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(root))
    sent = _curl("-T", str(src), _url(service, name))
    assert service.wait_idle()
    assert sent.returncode != 0, f"upload to {name!r} accepted"
    assert sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(root)) == before
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "tftp2" / "evil.txt").exists()


def test_symlinks_do_not_lead_out_of_the_root(area) -> None:
    """A link inside the root that points outside (tftpy's own check compares paths, not
    files: only the server's resolved-path check stands here)."""
    tmp_path, root, service = area
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    os.symlink(tmp_path / "outside", root / "out")
    got = _curl(_url(service, "link.txt"))
    assert got.returncode != 0 and SECRET not in got.stdout
    got = _curl(_url(service, "out/../../secret.txt"))
    assert got.returncode != 0 and SECRET not in got.stdout
    src = tmp_path / "up.bin"
    src.write_bytes(UPLOAD)
    # an upload through the link must not replace the file it points to, nor land in a linked directory
    assert _curl("-T", str(src), _url(service, "link.txt")).returncode != 0
    assert _curl("-T", str(src), _url(service, "out/evil.txt")).returncode != 0
    assert service.wait_idle()
    assert (tmp_path / "secret.txt").read_bytes() == SECRET
    assert list((tmp_path / "outside").iterdir()) == []


def test_resolve_in_root(tmp_path: Path) -> None:
    """The server's own check, on its own (the server applies it to every request)."""
    root = tmp_path / "tftp"
    (root / "subdir").mkdir(parents=True)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    assert resolve_in_root(root, "subdir/a.cer") == (root / "subdir" / "a.cer").resolve()
    assert resolve_in_root(root, "/subdir/a.cer") == (root / "subdir" / "a.cer").resolve()
    assert resolve_in_root(root, "subdir/../a.cer") == (root / "a.cer").resolve()
    for name in ("../secret.txt", "subdir/../../secret.txt", "subdir/../..", "..", "", "/", ".", "//", "a\0b"):
        assert resolve_in_root(root, name) is None, name
    # every name is relative to the root, one that spells the root's own path too
    inside = resolve_in_root(root, f"{root}/../secret.txt")
    assert inside is not None and inside.is_relative_to(root.resolve())
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    assert resolve_in_root(root, "link.txt") is None
