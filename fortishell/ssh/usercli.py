"""``fortishell users add NAME``: a users-file entry with a password hash (see :mod:`.users`).

The password is asked twice without echo (``getpass``), or read from the first
line of standard input with ``--password-stdin`` (scripts).  The entry is
appended as ``[users.NAME]`` with ``password-hash`` (never the password); the
file is written whole to a temporary file (mode 0600), read back with
:func:`~.users.load_users`, then renamed over the old one, so a failed write
or an entry that does not read back changes nothing.  A name already in the
file is refused (the file is the trainer's: comments and order are kept, and
no table is edited in place).
"""

from __future__ import annotations

import getpass
import os
import re
import sys
import tomllib
from pathlib import Path

from .. import options
from .users import UsersFileError, hash_password, load_users

USERS_FILE = "users.toml"  # in the state directory: what `serve` reads without --users
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_BARE = re.compile(r"[A-Za-z0-9_-]+")
HEADER = ("# fortishell serve users (fortishell users add NAME). Only these users may log in;\n"
          "# factory-admin = true (above every [users.*] table) would also keep admin with an empty password.\n")


def default_users_file(state_dir: Path) -> Path:
    return Path(state_dir) / USERS_FILE


def _parser() -> options.Parser:
    p = options.Parser(
        prog="fortishell users",
        description="Manage the users file of fortishell serve (TOML; passwords stored as hashes).",
    )
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add a user with a password (asked twice, not echoed)")
    add.add_argument("name", metavar="NAME", help="login name (letters, digits, - _ . @; at most 64)")
    add.add_argument("--users", metavar="FILE",
                     help="the users file (default: users.toml in the state directory, which serve reads "
                          "without --users)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input (default: ask twice)")
    return p


def users_main(argv: list[str], *, state_dir: Path) -> int:
    args = _parser().parse_args(argv)
    path = Path(args.users) if args.users else default_users_file(state_dir)
    try:
        return _add(path, args.name, args.password_stdin)
    except UsersFileError as err:
        print(f"fortishell users: {err}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print("\nfortishell users: no password given, nothing changed", file=sys.stderr)
        return 1


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass("New password: ")
    if getpass.getpass("Confirm password: ") != first:
        raise UsersFileError("the two passwords differ, nothing changed")
    return first


def _add(path: Path, name: str, from_stdin: bool) -> int:
    if not NAME.fullmatch(name):
        raise UsersFileError(f"{name!r} is not a valid login name (letters, digits, - _ . @; at most 64)")
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        data = tomllib.loads(text)
    except OSError as exc:
        raise UsersFileError(f"{path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsersFileError(f"{path}: {exc}") from exc
    if name in (data.get("users") or {}):
        raise UsersFileError(f"{path}: user {name} already exists (remove its [users.{name}] table first)")
    password = _read_password(from_stdin)
    if not password:
        raise UsersFileError("an empty password is not accepted, nothing changed")
    key = name if _BARE.fullmatch(name) else f'"{name}"'
    before = (text if text.endswith("\n") or not text else text + "\n") if text else HEADER
    new = f'{before}\n[users.{key}]\npassword-hash = "{hash_password(password)}"\n'
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(new)
            out.flush()
            os.fsync(out.fileno())
        check = load_users(tmp).get(name)
        if check is None or not check.check_password(password):
            raise UsersFileError(f"{path}: the new entry does not read back, nothing changed")
        os.replace(tmp, path)
    except OSError as exc:
        raise UsersFileError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    print(f"fortishell users: {name} added to {path}", file=sys.stderr)
    return 0
