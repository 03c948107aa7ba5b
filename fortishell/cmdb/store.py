"""Load and save the configuration file; the only module of cmdb/ that does I/O.

The file is a FortiOS-style backup: ``#config-version=...`` header comments,
then ``config`` / ``edit`` / ``set`` / ``unset`` / ``next`` / ``end`` blocks in
``show`` format, secrets as ``ENC <base64>``, PEM values multi-line inside one
double-quoted string.  ``loads(dumps(c)) == c``.

Reading: a backup can hold 100,000 lines, so lines are cut into words by
:func:`fortishell.cli.lexer.config_lines` (the CLI's word rules, one precompiled
pattern; plain lines without quotes or backslashes are split on blanks).  The
lark parser is far too slow for that size; the tests check both readers agree
(``cli.parser.parse_script``).
Values then go through the same edit buffers and types as typed commands
(trusted: read-only fields allowed, datasource checks deferred to the end of
the file).  Any error names its line: :class:`ConfigFileError`.

Writing is atomic: a temporary file in the same directory, fsync, mode 0600,
``os.replace``, fsync of the directory.  A failed save leaves the old file; a
save killed half-way leaves the old file and a ``.<name>.*.tmp`` file that
:func:`remove_stale_temps` deletes when the device starts again.
"""

from __future__ import annotations

import gc
import os
import tempfile
from pathlib import Path as FsPath

from ..cli.lexer import config_lines
from ..errors import ConfigFileError, FortiError
from . import secrets
from .model import Cmdb, EditBuffer
from .render import show_configuration
from .schema import SCHEMA, Schema, TableSpec

# the words of a configuration file: the CLI's word rules (cli/lexer.py)
tokenize = config_lines


class _Frame:
    __slots__ = ("spec", "buf", "table")

    def __init__(self, spec: TableSpec, buf: EditBuffer | None, table: bool) -> None:
        self.spec = spec
        self.buf = buf  # the entry (or object) being filled
        self.table = table  # a table context waiting for `edit`


def loads(text: str, schema: Schema = SCHEMA) -> Cmdb:
    """Read a configuration file's text into a new :class:`Cmdb`."""
    cmdb = Cmdb(schema)
    stack: list[_Frame] = []
    lineno = 0
    gc_was_enabled = gc.isenabled()
    gc.disable()  # no reference cycles are built here; collection passes only cost time
    try:
        for lineno, words in tokenize(text):
            _apply(cmdb, schema, stack, words)
        if stack:
            raise ConfigFileError("missing 'end' at the end of the file")
        _check_references(cmdb)
    except ConfigFileError as exc:
        if exc.lines and not exc.lines[0].startswith("line "):
            exc.lines[0] = f"line {lineno}: {exc.lines[0]}"
        raise
    except FortiError as exc:
        detail = " / ".join(line for line in exc.output() if line)
        raise ConfigFileError(f"line {lineno}: {detail}") from exc
    finally:
        if gc_was_enabled:
            gc.enable()
    cmdb.version = 0
    return cmdb


def _apply(cmdb: Cmdb, schema: Schema, stack: list[_Frame], words: list[str]) -> None:
    verb = words[0]
    top = stack[-1] if stack else None
    if verb == "set" or verb == "unset":
        if top is None or top.buf is None or len(words) < 2:
            raise ConfigFileError(f"unexpected '{verb}'")
        buf = top.buf
        if verb == "unset":
            buf.unset(words[1])
            return
        values = words[2:]
        spec = buf.resolve_attr(words[1])
        if spec.secret and len(values) == 2 and values[0] == "ENC":
            buf.set_value(spec.name, secrets.decrypt(values[1]))
        else:
            buf.set(spec.name, values)
    elif verb == "edit":
        if top is None or not top.table or len(words) != 2:
            raise ConfigFileError("unexpected 'edit'")
        if top.buf is not None:  # an entry of a nested table
            parent = stack[-2].buf
            assert parent is not None
            buf = parent.begin_edit(top.spec.name, words[1])
        else:
            buf = cmdb.begin_edit(top.spec.path, words[1], trusted=True)
        stack.append(_Frame(top.spec, buf, False))
    elif verb == "next":
        if top is None or top.table or top.buf is None or not (len(stack) > 1 and stack[-2].table):
            raise ConfigFileError("unexpected 'next'")
        cmdb.commit(top.buf)
        stack.pop()
    elif verb == "end":
        if top is None:
            raise ConfigFileError("unexpected 'end'")
        if not top.table and len(stack) > 1 and stack[-2].table:  # `end` closing an edit (vdom style)
            cmdb.commit(top.buf)  # type: ignore[arg-type]
            stack.pop()
            top = stack[-1]
        if not top.table and top.buf is not None:
            cmdb.commit(top.buf)
        stack.pop()
    elif verb == "config":
        if top is None:
            path = tuple(words[1:])
            table = schema.table(path)
            if table is None:
                raise ConfigFileError(f"unknown configuration path: {' '.join(path)}")
            if table.is_table:
                stack.append(_Frame(table, None, True))
            else:
                stack.append(_Frame(table, cmdb.begin_edit(path, trusted=True), False))
        else:
            if top.buf is None or len(words) != 2:
                raise ConfigFileError("unexpected 'config'")
            sub = top.buf.spec.subtable(words[1])
            if sub is None:
                raise ConfigFileError(f"unknown configuration path: {words[1]}")
            if sub.is_table:
                stack.append(_Frame(sub, top.buf, True))
            else:
                stack.append(_Frame(sub, top.buf.begin_edit(words[1]), False))
    else:
        raise ConfigFileError(f"command parse error before '{verb}'")


def _check_references(cmdb: Cmdb) -> None:
    """Datasource values must name existing entries (checked once the whole file is read)."""
    for spec in cmdb.schema.tables:
        for entry in cmdb.entries(spec.path):
            for a in spec.attrs:
                if a.datasource and entry.is_set(a.name):
                    value = entry.get(a.name)
                    if value and not any(cmdb._exists(p, value) for p in a.datasource):
                        where = f"{' '.join(spec.path)}" + (f" {entry.key}" if entry.key else "")
                        raise ConfigFileError(f"{where}: {a.name}: entry not found in datasource: {value}")


def dumps(cmdb: Cmdb, user: str = "admin") -> str:
    """The backup text (``show`` format with the header)."""
    return "\n".join(show_configuration(cmdb, full=False, header=True, user=user)) + "\n"


def read_config_text(path: str | os.PathLike[str]) -> str:
    """The file's text with its line ends as written.

    No universal-newline translation: a value may hold a lone carriage return
    (it was typed that way) and must read back unchanged.  A file whose every
    line ends in CRLF (edited on Windows) is read as LF lines.
    """
    text = FsPath(path).read_bytes().decode("utf-8")
    if "\r\n" in text and text.count("\n") == text.count("\r\n"):
        text = text.replace("\r\n", "\n")
    return text


def load(path: str | os.PathLike[str]) -> Cmdb:
    try:
        text = read_config_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"cannot read configuration file {path}: {exc}") from exc
    try:
        return loads(text)
    except ConfigFileError as exc:
        exc.lines[0] = f"{path}: {exc.lines[0]}"
        raise


def _temp_prefix(target: FsPath) -> str:
    return f".{target.name}."


def remove_stale_temps(path: str | os.PathLike[str]) -> int:
    """Delete temporary files left by a save that was killed before ``os.replace``.

    Called once when a device starts (a running save of the same file by another
    process is not expected: one configuration file belongs to one device).
    Returns the number of files removed.
    """
    target = FsPath(path)
    directory = target.parent if str(target.parent) else FsPath(".")
    removed = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    prefix = _temp_prefix(target)
    for name in names:
        if name.startswith(prefix) and name.endswith(".tmp"):
            try:
                os.unlink(directory / name)
                removed += 1
            except OSError:
                pass
    return removed


def save(cmdb: Cmdb, path: str | os.PathLike[str]) -> None:
    """Write the configuration atomically (mode 0600); the old file survives any failure."""
    target = FsPath(path)
    text = dumps(cmdb)
    directory = target.parent if str(target.parent) else FsPath(".")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        tmp = None
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise ConfigFileError(f"cannot write configuration file {target}: {exc}") from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
