"""A locked, recorded room (issue 22): `fortishell users add`, `serve --exercise` with only the users
file's users, logins logged, every terminal session recorded per user, the room graded by
`lab grade` (each user's latest transcript)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from fortishell.classroom.grading import latest_per_user
from fortishell.ssh.users import UsersFileError, load_users

pytestmark = pytest.mark.timeout(120)
EXE = Path(sys.executable).parent / "fortishell"
ROOT = Path(__file__).resolve().parents[2]
EXERCISE = "example1-enroll"


def _script(name: str) -> list[str]:
    lines = (ROOT / "sample-configs" / f"{name}.cli").read_text().splitlines()
    return [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def users_add(state: Path, name: str, password: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), "--state-dir", str(state), "users", "add", name, "--password-stdin", *extra],
                          input=password + "\n", capture_output=True, text=True, timeout=60)


class Served:
    """`fortishell serve` in a subprocess; its standard error read on a thread (the login lines)."""

    def __init__(self, args: list[str], state: Path) -> None:
        env = dict(os.environ, FORTISHELL_STATE_DIR=str(state), PYTHONWARNINGS="ignore")
        self.proc = subprocess.Popen([str(EXE), "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stderr is not None
        self.banner = self.proc.stderr.readline()
        m = re.search(r"SSH on 127\.0\.0\.1:(\d+)", self.banner)
        assert m, self.banner + self.proc.stderr.read()
        self.port = int(m.group(1))
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def stop(self) -> str:
        self.proc.terminate()
        assert self.proc.wait(timeout=30) == 0
        self._reader.join(10)
        return "".join(self.lines)


@pytest.fixture()
def served() -> Iterator[list[Served]]:
    running: list[Served] = []
    yield running
    for s in running:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait(10)


def _refused(port: int, user: str, password: str) -> None:
    async def login() -> None:
        async with asyncssh.connect("127.0.0.1", port, username=user, password=password, known_hosts=None,
                                    client_keys=None, agent_path=None, preferred_auth="password"):
            pass

    import asyncio

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(login())


def test_users_add_writes_a_hash_and_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = users_add(state, "alice", "s3cret pass")
    assert done.returncode == 0, done.stderr
    path = state / "users.toml"
    text = path.read_text()
    assert "s3cret" not in text and 'password-hash = "pbkdf2-sha256$' in text
    assert (path.stat().st_mode & 0o777) == 0o600
    users = load_users(path)
    assert users.names == ["alice"]  # no factory admin in a users file
    assert users.get("alice").check_password("s3cret pass") and not users.get("alice").check_password("s3cret")
    # a second user is appended; comments and the first entry are kept
    assert users_add(state, "bob.b", "pw2").returncode == 0
    assert load_users(path).names == ["alice", "bob.b"] and path.read_text().startswith(text)
    before = path.read_text()
    for name, password, message in [("alice", "x", "user alice already exists"),
                                    ("carol", "", "an empty password is not accepted"),
                                    ("bad name", "x", "is not a valid login name")]:
        refused = users_add(state, name, password)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
        assert refused.stderr.startswith("fortishell users: ") and "Traceback" not in refused.stderr
        assert path.read_text() == before
    # --users chooses the file
    other = tmp_path / "room.toml"
    assert users_add(state, "dave", "pw3", "--users", str(other)).returncode == 0
    assert load_users(other).names == ["dave"]


def test_users_add_asks_twice_without_echo(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    path = tmp_path / "u.toml"
    child = pexpect.spawn(str(EXE), ["users", "add", "erin", "--users", str(path)], encoding="utf-8", timeout=30)
    child.expect("New password: ")
    child.sendline("typed-secret")
    child.expect("Confirm password: ")
    child.sendline("typed-secret")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and "typed-secret" not in (child.before or "")
    assert load_users(path).get("erin").check_password("typed-secret")
    child = pexpect.spawn(str(EXE), ["users", "add", "fred", "--users", str(path)], encoding="utf-8", timeout=30)
    child.expect("New password: ")
    child.sendline("one")
    child.expect("Confirm password: ")
    child.sendline("two")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1 and "the two passwords differ" in (child.before or "")
    assert load_users(path).names == ["erin"]


def test_users_file_factory_admin_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "u.toml"
    path.write_text('[users.a]\npassword = "x"\n')
    assert load_users(path).names == ["a"]
    path.write_text('factory-admin = true\n[users.a]\npassword = "x"\n')
    assert load_users(path).names == ["a", "admin"] and not load_users(path).get("admin").needs_auth
    path.write_text('factory-admin = true\n[users.admin]\npassword = "mine"\n')
    assert load_users(path).get("admin").check_password("mine")  # the file's admin wins
    for text, message in [("", "no users"), ("factory-admin = false\n", "no users"),
                          ('factory_admin = true\n[users.a]\n', "unknown setting(s) factory_admin"),
                          ('factory-admin = "yes"\n[users.a]\n', "factory-admin must be true or false")]:
        path.write_text(text)
        with pytest.raises(UsersFileError, match=re.escape(message)):
            load_users(path)


def test_latest_per_user_keeps_other_transcripts(tmp_path: Path) -> None:
    room = tmp_path / "users"
    paths = [room / "a" / "transcripts" / "a-ex-20260101-100000.txt",
             room / "a" / "transcripts" / "a-ex-20260101-090000.txt",
             room / "b" / "transcripts" / "b-ex-20260101-080000.txt",
             tmp_path / "loose.txt"]
    graded, earlier = latest_per_user(paths)
    assert graded == sorted([paths[0], paths[2], paths[3]]) and earlier == [paths[1]]


def test_locked_recorded_room_graded(served: list[Served], tmp_path: Path, shell: Callable[..., Any]) -> None:
    state = tmp_path / "state"
    for name, password in (("alice", "alice-pw"), ("bob", "bob-pw")):
        assert users_add(state, name, password).returncode == 0
    s = Served(["--exercise", EXERCISE], state)  # the users file of the state directory, by default
    served.append(s)
    assert "users: alice, bob" in s.banner and "admin" not in s.banner
    _refused(s.port, "admin", "")  # no factory admin
    _refused(s.port, "alice", "wrong")
    room = state / "rooms" / EXERCISE

    alice = shell(s.port, "alice", "alice-pw", rows=2000)
    for line in _script(EXERCISE):
        alice.cmd(line)
    alice.send("exit\r")
    assert alice.closed()
    bob = shell(s.port, "bob", "bob-pw", rows=2000)  # an earlier session of bob's, then his latest
    bob.send("exit\r")
    assert bob.closed()
    bob = shell(s.port, "bob", "bob-pw", rows=2000)
    for line in _script(EXERCISE)[:2]:  # bob stops half-way
        bob.cmd(line)
    bob.send("exit\r")
    assert bob.closed()
    err = s.stop()

    # one line per login and failed login: time, user, peer address, result
    when, peer = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r"127\.0\.0\.1:\d+"
    assert re.search(rf"^{when} login failed user=alice from={peer} reason=wrong-password$", err, re.M), err
    assert re.search(rf"^{when} login failed user=admin from={peer} reason=unknown-user$", err, re.M), err
    assert len(re.findall(rf"^{when} login ok user=alice from={peer} method=password$", err, re.M)) == 1, err
    assert len(re.findall(rf"^{when} login ok user=bob from={peer} method=password$", err, re.M)) == 2, err
    logged = (room / "logins.log").read_text()
    assert "login failed user=alice" in logged and "session end user=alice" in logged
    assert "Traceback" not in err

    alice_t = sorted((room / "users" / "alice" / "transcripts").iterdir())
    bob_t = sorted((room / "users" / "bob" / "transcripts").iterdir())
    assert len(alice_t) == 1 and len(bob_t) == 2
    assert re.fullmatch(rf"alice-{EXERCISE}-\d{{8}}-\d{{6}}\.txt", alice_t[0].name)
    assert alice_t[0].read_text().startswith(f"FortiProxy # {_script(EXERCISE)[0]}\n")

    graded = subprocess.run([str(EXE), "--state-dir", str(state), "lab", "grade", EXERCISE, str(room), "--json"],
                            capture_output=True, text=True, timeout=120)
    report = json.loads(graded.stdout)
    verdicts = {Path(t["transcript"]).parent.parent.name: t["passed"] for t in report["transcripts"]}
    assert verdicts == {"alice": True, "bob": False}, graded.stdout
    assert report["earlier"] == [str(bob_t[0])] and graded.returncode == 1
    assert "1 earlier transcript(s)" in graded.stderr

    # --reset starts every device afresh and keeps what was recorded
    assert (room / "users" / "alice" / "fortishell.conf").exists()
    again = Served(["--exercise", EXERCISE, "--reset"], state)
    served.append(again)
    again.stop()
    assert not (room / "users" / "alice" / "fortishell.conf").exists()
    assert sorted((room / "users" / "alice" / "transcripts").iterdir()) == alice_t
    assert sorted((room / "users" / "bob" / "transcripts").iterdir()) == bob_t


def test_without_users_file_the_exercise_room_says_everyone_is_admin(served: list[Served], tmp_path: Path) -> None:
    s = Served(["--exercise", EXERCISE], tmp_path / "state")
    served.append(s)
    s.stop()
    said = s.banner + "".join(s.lines)
    assert "no users file: everyone logs in as admin with an empty password" in said, said
    assert f"users add NAME --users {tmp_path / 'state' / 'users.toml'} (then restart serve)" in said
    assert f"lab grade {EXERCISE} {tmp_path / 'state' / 'rooms' / EXERCISE}\n" in said


def test_a_users_file_without_users_is_refused_in_one_line(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    users.write_text("factory-admin = false\n")
    proc = subprocess.run([str(EXE), "serve", "--port", "0", "--users", str(users)], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, FORTISHELL_STATE_DIR=str(tmp_path / "s")))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "no users" in proc.stderr


def _readme_block() -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index("## An SSH classroom, from start to grades")
    section = text[start:text.index("\n## ", start + 3)]
    blocks = re.findall(r"^```sh\n(.*?)^```", section, re.M | re.S)
    assert len(blocks) == 1
    return [ln for ln in blocks[0].splitlines() if ln.strip()]


@pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")
def test_readme_classroom_runs_as_written(served: list[Served], tmp_path: Path) -> None:
    """The README's SSH classroom: each line run as written (the installed binary for
    ``python3 -m fortishell``, the test's state directory, a free port on 127.0.0.1)."""
    pexpect = pytest.importorskip("pexpect")
    state = tmp_path / "state"
    lines = _readme_block()
    adds, (serve_line,), (ssh_line,), (grade_line,) = lines[:2], lines[2:3], lines[3:4], lines[4:]
    env = dict(os.environ, FORTISHELL_STATE_DIR=str(state), NO_COLOR="1", COLUMNS="200")

    def argv(line: str) -> list[str]:
        words = shlex.split(line.replace("~/.local/state/fortishell", str(state)))
        assert words[:3] == ["python3", "-m", "fortishell"], line
        return [str(EXE), *words[3:]]

    for line, password in zip(adds, ("alice-pw", "bob-pw")):
        child = pexpect.spawn(argv(line)[0], argv(line)[1:], encoding="utf-8", timeout=30, env=env)
        for _ in range(2):
            child.expect("password: ")
            child.sendline(password)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
    words = argv(serve_line)[2:]  # after the binary and "serve"
    words[words.index("--host") + 1] = "127.0.0.1"
    words[words.index("--port") + 1] = "0"
    s = Served(words, state)
    served.append(s)
    assert "users: alice, bob" in s.banner

    user, _host = shlex.split(ssh_line)[-1].split("@")
    assert shlex.split(ssh_line)[:3] == ["ssh", "-p", "2222"]
    child = pexpect.spawn("ssh", ["-tt", "-p", str(s.port), "-o", "StrictHostKeyChecking=no",
                                  "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                                  "-o", "PubkeyAuthentication=no", "-F", "/dev/null", f"{user}@127.0.0.1"],
                          encoding="utf-8", timeout=60, dimensions=(2000, 200),
                          env={"TERM": "xterm", "PATH": "/usr/bin:/bin"})
    try:
        child.expect("(?i)password:")
        child.sendline(f"{user}-pw")
        child.expect_exact("FortiProxy # ")
        for line in _script(EXERCISE):  # each line typed at the prompt after the previous one's output
            child.send(line + "\r")
            child.expect(r"\r\n\r\nFortiProxy (\([^)]*\) )?# ")
        child.send("exit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    s.stop()
    graded = subprocess.run(argv(grade_line), capture_output=True, text=True, env=env, timeout=120)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "1 of 1 passed" in graded.stdout and f"{user}-{EXERCISE}-" in graded.stdout


class _FullDisk:
    """A transcript file on a disk that fills up after ``room`` characters."""

    def __init__(self, path: Path, room: int) -> None:
        self.path, self.room, self.written = path, room, ""

    def write(self, text: str) -> int:
        if len(self.written) + len(text) > self.room:
            raise OSError(28, "No space left on device")
        self.written += text
        self.path.write_text(self.written)
        return len(text)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_transcript_that_cannot_be_written_does_not_end_the_session(serve, shell, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    srv = serve(users_toml='[users.alice]\npassword = "a1"\n')
    disk = _FullDisk(tmp_path / "t.txt", 40)
    monkeypatch.setattr(srv.registry, "open_transcript", lambda user: (disk.path, disk))
    sh = shell(srv.port, "alice", "a1")
    sh.cmd("get system status | grep Hostname")
    assert "Hostname: " in sh.cmd("get system status | grep Hostname")  # the session goes on
    sh.send("exit\r")
    assert sh.closed()
    srv.stop()
    logged = (tmp_path / "state" / "logins.log").read_text()
    assert re.search(r"Z session unrecorded user=alice from=127\.0\.0\.1:\d+ reason=no-space-left-on-device$",
                     logged, re.M), logged
    assert "session end user=alice" not in logged
    # opening the transcript fails: the session goes on unrecorded too
    srv = serve(users_toml='[users.bob]\npassword = "b2"\n', state_dir=tmp_path / "state2")

    def cannot_open(user: str) -> tuple[Path, Any]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(srv.registry, "open_transcript", cannot_open)
    sh = shell(srv.port, "bob", "b2")
    assert "Hostname: " in sh.cmd("get system status | grep Hostname")
    srv.stop()
    assert "session unrecorded user=bob from=" in (tmp_path / "state2" / "logins.log").read_text()
    assert "reason=permission-denied" in (tmp_path / "state2" / "logins.log").read_text()


def test_a_user_added_while_serving_logs_in_at_once(shell, tmp_path: Path) -> None:
    from fortishell.ssh.server import ServeOptions, ServerThread
    from fortishell.ssh.users import LiveUsers

    state = tmp_path / "state"
    assert users_add(state, "alice", "a1").returncode == 0
    path = state / "users.toml"
    with ServerThread(ServeOptions(state, port=0, users=LiveUsers(path))) as srv:
        alice = shell(srv.port, "alice", "a1")
        _refused(srv.port, "carol", "c3")
        assert users_add(state, "carol", "c3").returncode == 0
        assert "Hostname: " in shell(srv.port, "carol", "c3").cmd("get system status | grep Hostname")
        # an edit that does not read keeps the users as they were
        path.write_text(path.read_text() + "[users.broken\n")
        assert "Hostname: " in shell(srv.port, "alice", "a1").cmd("get system status | grep Hostname")
        assert "Hostname: " in alice.cmd("get system status | grep Hostname")  # never dropped
    logged = (state / "logins.log").read_text()
    assert re.search(rf"Z users file {re.escape(str(path))} read again; users: alice, carol$", logged, re.M), logged
    assert "users file not read again, the users stay alice, carol: " in logged
    assert "login ok user=carol" in logged
