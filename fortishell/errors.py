"""The one exception tree of fortishell.

Every failure a shell user can see is a :class:`FortiError`. It carries the
FortiOS-style message lines and, where FortiOS prints one, the return code of
the final ``Command fail. Return code N`` line.  Foreign exceptions (lark,
httpx, ssl, cryptography, OSError) are translated into these at the module
boundary that calls the foreign library; nothing else may reach a user.

Error texts follow ``fortios-cli-facts.md`` section 2.
"""

from __future__ import annotations

import enum


class _ClassRc(enum.Enum):
    """The default of ``rc=``: keep the error class's own return code."""

    KEEP = enum.auto()


CLASS_RC = _ClassRc.KEEP


class FortiError(Exception):
    """A failure with FortiOS-style output.

    ``lines`` are printed as they are, then ``Command fail. Return code <rc>``
    when ``rc`` is not None.
    """

    rc: int | None = None
    # raised by Cmdb.transaction after its change was committed (a commit listener failed, e.g. the
    # configuration file could not be written): the change stays in memory, as after ``end``
    committed: bool = False

    def __init__(self, *lines: str, rc: int | None | _ClassRc = CLASS_RC) -> None:
        super().__init__("\n".join(lines))
        self.lines: list[str] = list(lines)
        if not isinstance(rc, _ClassRc):
            self.rc = rc

    def output(self) -> list[str]:
        """The lines the shell prints for this error."""
        out = list(self.lines)
        if self.rc is not None:
            out.append(f"Command fail. Return code {self.rc}")
        return out

    @property
    def return_code(self) -> int:
        """Non-zero code for scripts and batch logs (``-1`` where FortiOS prints none)."""
        return self.rc if self.rc is not None else -1


# ---------------------------------------------------------------- CLI errors
class CliError(FortiError):
    """Any error in reading or applying a command line."""


class ParseError(CliError):
    """``command parse error before 'x'`` / rc -61."""

    rc = -61

    def __init__(self, before: str, *, rc: int | None | _ClassRc = CLASS_RC) -> None:
        super().__init__(f"command parse error before '{before}'", rc=rc)
        self.before = before


class AmbiguousCommand(ParseError):
    """An abbreviation of several keywords: ``ambiguous command before 'e': execute exit``.

    The real CLI's wording is not documented (fortios-cli-facts.md 1.4 guesses a
    parse error); ours keeps the parse error's form and names the choices, in
    the order ``?`` lists them.  A ParseError still (same return code, same
    handling by callers)."""

    def __init__(self, before: str, choices: list[str], *, rc: int | None | _ClassRc = CLASS_RC) -> None:
        super().__init__(before, rc=rc)
        self.choices = list(choices)
        self.lines = [f"ambiguous command before '{before}': {' '.join(self.choices)}"]
        self.args = (self.lines[0],)


class UnknownAction(CliError):
    """``Unknown action 0`` (no Command fail line)."""

    rc = None

    def __init__(self) -> None:
        super().__init__("Unknown action 0")


class IncompleteCommand(CliError):
    """Missing value: blank line, ``incomplete command in the end``, rc -160."""

    rc = -160

    def __init__(self) -> None:
        super().__init__("", "incomplete command in the end")


class UnmatchedQuote(CliError):
    """An unterminated quote at the end of a script or stdin."""

    rc = -61

    def __init__(self) -> None:
        super().__init__("token line: Unmatched double quote.")


class ValueParseError(CliError):
    """A value that does not parse: ``<reason>`` / blank / ``value parse error before 'v'``."""

    def __init__(self, reason: str | None, value: str, rc: int) -> None:
        lines = ([reason, ""] if reason else []) + [f"value parse error before '{value}'"]
        super().__init__(*lines, rc=rc)
        self.value = value


class ValueTooLong(ValueParseError):
    """``string value is too long. the size is N, the limit is M`` / ``value parse error before 'v'`` / rc -1.

    Unlike the other value errors FortiOS prints no blank line between the two lines.
    """

    def __init__(self, value: str, limit: int) -> None:
        super().__init__(None, value, -1)
        self.lines = [
            f"string value is too long. the size is {len(value)}, the limit is {limit}",
            f"value parse error before '{value}'",
        ]


class CommitError(CliError):
    """A commit-time check failed on ``next`` / ``end``; the change is discarded."""


class EntryNotFound(CliError):
    """An entry named by delete/rename/clone/get/show does not exist."""

    rc = -3


class EntryInUse(CliError):
    """``The entry is used by other N entries`` / rc -23."""

    rc = -23

    def __init__(self, count: int) -> None:
        super().__init__(f"The entry is used by other {count} entries")


# ---------------------------------------------------------------- EST errors
class EstError(FortiError):
    """An EST operation failed; nothing was stored.  rc -1 unless set."""

    rc = -1


class AcmeError(FortiError):
    """An ACME order failed; nothing of the certificate was stored.  ``problem``: the ACME
    problem type (``rateLimited``, ``unauthorized``, ...) when the CA gave one."""

    rc = -1

    def __init__(self, *lines: str, problem: str = "", retry_after: float | None = None) -> None:
        super().__init__(*lines)
        self.problem = problem
        self.retry_after = retry_after  # seconds the CA asked the device to wait (Retry-After)


class TransportError(EstError):
    """TLS, TCP or HTTP failure talking to an EST server."""


class ProtocolError(EstError):
    """The EST server answered something that does not follow RFC 7030."""


# ---------------------------------------------------------------- certificate files
class CertError(FortiError):
    """A certificate command outside EST failed (TFTP, PKCS#12, CSR, CRL); nothing was stored.

    One line saying why, then ``Command fail. Return code -1`` unless set.
    """

    rc = -1


# ---------------------------------------------------------------- other
class ConfigFileError(FortiError):
    """A configuration file that cannot be read or written."""

    rc = None


class ConfigInUse(ConfigFileError):
    """The configuration file is open in another process (``cmdb/owner.py``): one line, the
    owner's PID when known, and where to go instead (``--config``)."""

    def __init__(self, path: str, owner: int | None, me: int) -> None:
        if owner == me:
            who = f"already open in this process (PID {owner})"
        elif owner is not None:
            who = f"in use by another fortishell process (PID {owner})"
        else:
            who = "in use by another fortishell process"
        super().__init__(f"Configuration file {path} is {who}; use --config FILE for another configuration")
        self.path = path
        self.owner = owner


class LabError(FortiError):
    """The lab responder or lab network cannot do what was asked."""

    rc = None


class ScepError(FortiError):
    """A SCEP operation failed; nothing of the certificate was stored.  rc -1."""

    rc = -1
