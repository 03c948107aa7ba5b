"""Command-line value checks shared by every ``fortishell`` subcommand (argparse ``type=``).

Each raises :class:`argparse.ArgumentTypeError`, so a bad value ends at parse
time with argparse's one-line ``error:`` message and exit status 2, before
anything is started.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from .clock import parse_clock_option

CLOCK_FORMATS = "YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS]' or ISO 8601"


def default_state_dir() -> Path:
    """The state directory when ``--state-dir`` is not given: ``$FORTISHELL_STATE_DIR``, else
    ``$XDG_STATE_HOME/fortishell``, else ``~/.local/state/fortishell`` (every subcommand)."""
    if os.environ.get("FORTISHELL_STATE_DIR"):
        return Path(os.environ["FORTISHELL_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fortishell"


def port(text: str) -> int:
    """A TCP port, 1-65535."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number (1-65535)") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range (1-65535)")
    return value


def listen_port(text: str) -> int:
    """A port to listen on: 1-65535, or 0 for any free port."""
    if text.strip() == "0":
        return 0
    try:
        return port(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number (1-65535, or 0 for any free port)") from None


def count(text: str) -> int:
    """A whole number of 0 or more (fault counts, --retry-after's count)."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def seconds(text: str) -> float:
    """A number of seconds from 0 to 600 (fault delays)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{value:g} is not between 0 and 600")
    return value


def clock(text: str) -> str:
    """A ``--clock`` value; returned as given once it parses."""
    try:
        parse_clock_option(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date and time ({CLOCK_FORMATS})") from None
    return text


def clock_value(text: str) -> _dt.datetime:
    return parse_clock_option(clock(text))


def https_url(text: str) -> str:
    """An EST responder URL: ``https://HOST[:PORT]`` (a scheme and a host are required)."""
    parts = urlsplit(text)
    if parts.scheme != "https" or not parts.hostname:
        raise argparse.ArgumentTypeError(f"'{text}' is not a URL of the form https://HOST[:PORT]")
    try:
        number = parts.port
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': the port is not a number in 1-65535") from None
    if number == 0:
        raise argparse.ArgumentTypeError(f"'{text}': the port is not a number in 1-65535")
    return text.rstrip("/")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``PROG: error: ...; see PROG --help``), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")
