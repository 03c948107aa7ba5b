"""The users file of ``fortishell serve --users FILE``: who may log in, and how.

A TOML file::

    factory-admin = true          # also keep the factory login admin / empty password (default: false)

    [users.alice]
    password = "s3cret"                                   # plain text, or
    password-hash = "pbkdf2-sha256$200000$<salt b64>$<hash b64>"   # see hash_password()
    authorized-keys = ["ssh-ed25519 AAAA... alice@laptop"]
    authorized-keys-file = "~/.ssh/id_ed25519.pub"        # one or more OpenSSH public key lines

A user with neither a password nor keys logs in with an empty password, as
the factory ``admin`` does.  Without a users file only ``admin`` with an
empty password exists (the FortiOS factory login).

Choice (issue 22): with a users file, only its users exist (a locked room).
The factory ``admin`` with an empty password is kept only when the file says
``factory-admin = true``; a users file that defines ``admin`` itself always
has that ``admin``.  Before, the factory admin stayed unless the file said
``factory-admin = false``: such files keep working unchanged, and a file
written for the old default now locks the factory admin out (``serve`` lists
the users at start).  A users file without any user (and without
``factory-admin = true``) is refused, as nobody could log in.

``fortishell users add NAME`` appends ``[users.NAME]`` with a ``password-hash``
(:func:`hash_password`: PBKDF2-HMAC-SHA256, 200,000 rounds, 16-byte salt) to
the users file, by default ``<state dir>/users.toml``, the file ``serve``
reads when it is given no ``--users``.  ``serve`` reads its users file again
when it changes (:class:`LiveUsers`): a user added while it runs can log in at
once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

FACTORY_ADMIN = "admin"
_HASH_SCHEME = "pbkdf2-sha256"
_HASH_ROUNDS = 200_000


class UsersFileError(ValueError):
    """The users file cannot be read or is malformed (message names the file)."""


@dataclass(frozen=True)
class User:
    name: str
    password: str | None = None  # plain text
    password_hash: str | None = None  # hash_password() form
    authorized_keys: tuple[str, ...] = ()  # OpenSSH public key lines

    @property
    def needs_auth(self) -> bool:
        """False for a login with an empty password and no keys (asked for nothing)."""
        return bool(self.password or self.password_hash or self.authorized_keys)

    def check_password(self, password: str) -> bool:
        if self.password_hash:
            return verify_password(password, self.password_hash)
        return hmac.compare_digest((self.password or "").encode(), password.encode())


@dataclass(frozen=True)
class Users:
    users: dict[str, User] = field(default_factory=dict)

    def get(self, name: str) -> User | None:
        return self.users.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self.users)


class UserSource(Protocol):
    """What the servers ask of the users: :class:`Users`, or :class:`LiveUsers` (re-read on change)."""

    def get(self, name: str) -> User | None: ...

    @property
    def names(self) -> list[str]: ...


class LiveUsers:
    """The users of a users file, read again when the file changes (``fortishell users add`` while
    ``serve`` runs: the new user can log in at once, nobody's session is dropped).

    A change that does not read (a half-saved edit, a typo) keeps the users as they were; ``note``
    is told either way, once per change of the file."""

    def __init__(self, path: Path, note: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.note = note
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._users = load_users(self.path)  # the first read's errors are the caller's (serve refuses to start)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def current(self) -> Users:
        with self._lock:
            stamp = self._stat()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._users = load_users(self.path)
                    message = f"users file {self.path} read again; users: {', '.join(self._users.names)}"
                except UsersFileError as err:
                    message = f"users file not read again, the users stay {', '.join(self._users.names)}: {err}"
                if self.note is not None:
                    self.note(message)
            return self._users

    def get(self, name: str) -> User | None:
        return self.current().get(name)

    @property
    def names(self) -> list[str]:
        return self.current().names


def factory_users() -> Users:
    """No users file: the factory login ``admin`` with an empty password."""
    return Users({FACTORY_ADMIN: User(FACTORY_ADMIN)})


def load_users(path: Path | None) -> Users:
    """Read a users file (``None``: the factory users)."""
    if path is None:
        return factory_users()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsersFileError(f"{path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsersFileError(f"{path}: {exc}") from exc
    table = data.get("users", {})
    if not isinstance(table, dict):
        raise UsersFileError(f"{path}: [users] must be a table")
    users: dict[str, User] = {}
    factory = data.get("factory-admin", False)
    if not isinstance(factory, bool):
        raise UsersFileError(f"{path}: factory-admin must be true or false")
    unknown = set(data) - {"factory-admin", "users"}
    if unknown:
        raise UsersFileError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    if factory:
        users[FACTORY_ADMIN] = User(FACTORY_ADMIN)
    for name, spec in table.items():
        if not isinstance(spec, dict):
            raise UsersFileError(f"{path}: users.{name} must be a table")
        users[name] = _user(path, name, spec)
    if not users:
        raise UsersFileError(f"{path}: no users (add one with: fortishell users add NAME --users {path}; "
                             "or set factory-admin = true)")
    return Users(users)


def _user(path: Path, name: str, spec: dict[str, Any]) -> User:
    unknown = set(spec) - {"password", "password-hash", "authorized-keys", "authorized-keys-file"}
    if unknown:
        raise UsersFileError(f"{path}: users.{name}: unknown setting(s) {', '.join(sorted(unknown))}")
    keys = list(spec.get("authorized-keys", []))
    key_file = spec.get("authorized-keys-file")
    if key_file:
        kpath = Path(os.path.expanduser(str(key_file)))
        if not kpath.is_absolute():
            kpath = path.parent / kpath
        try:
            keys += [ln.strip() for ln in kpath.read_text(encoding="utf-8").splitlines()
                     if ln.strip() and not ln.lstrip().startswith("#")]
        except OSError as exc:
            raise UsersFileError(f"{path}: users.{name}: {kpath}: {exc.strerror or exc}") from exc
    password = spec.get("password")
    hashed = spec.get("password-hash")
    if hashed is not None and not str(hashed).startswith(_HASH_SCHEME + "$"):
        raise UsersFileError(f"{path}: users.{name}: password-hash must start with {_HASH_SCHEME}$")
    return User(name, None if password is None else str(password),
                None if hashed is None else str(hashed), tuple(str(k) for k in keys))


def hash_password(password: str, *, salt: bytes | None = None, rounds: int = _HASH_ROUNDS) -> str:
    """The ``password-hash`` form of ``password`` (PBKDF2-HMAC-SHA256)."""
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    b64 = base64.b64encode
    return f"{_HASH_SCHEME}${rounds}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, rounds, salt, digest = stored.split("$")
        if scheme != _HASH_SCHEME:
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(rounds))
        return hmac.compare_digest(got, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False
