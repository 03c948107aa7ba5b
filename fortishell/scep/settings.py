"""ScepSettings: the SCEP settings of one certificate, the one mapping of them.

From the positions of ``execute vpn certificate local generate rsa ... <scep-url>
<challenge-password> [<source-ip> <ca-identifier>]`` and of ``ca import auto``
(:meth:`ScepSettings.from_positions`), or from a ``vpn certificate local``
entry with ``enroll-protocol scep`` (:meth:`ScepSettings.from_entry`: the
renewal and the polling of a pending request), written back by
:meth:`ScepSettings.entry_values`.  Immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fortishell.errors import ValueParseError


@dataclass(frozen=True)
class ScepSettings:
    name: str
    url: str
    challenge: str | None = None  # the one-time challenge password (generate) or scep-password (renewal)
    ca_id: str | None = None  # sent as GetCACert's message=
    source_ip: str | None = None
    retain_key: bool = False  # private-key-retain: a renewal keeps the key

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (443 if self.scheme == "https" else 80)

    @property
    def directory(self) -> str:
        """The path the operations go to (``/certsrv/mscep/mscep.dll``, ``/scep``); the device's
        sscep keeps it as written, ``/`` when none is given."""
        return urlsplit(self.url).path or "/"

    @classmethod
    def from_positions(cls, name: str, url: str, challenge: str | None = None, ca_id: str | None = None,
                       source_ip: str | None = None) -> "ScepSettings":
        check_url(url)
        return cls(name, url, challenge or None, ca_id or None, source_ip or None)

    @classmethod
    def from_entry(cls, name: str, entry: Any) -> "ScepSettings":
        source_ip = str(entry.get("source-ip") or "")
        return cls(name, str(entry.get("scep-url") or ""), str(entry.get("scep-password") or "") or None,
                   str(entry.get("ca-identifier") or "") or None,
                   None if source_ip in ("", "0.0.0.0") else source_ip,
                   entry.get("private-key-retain") == "enable")

    def entry_values(self) -> Mapping[str, Any]:
        """What an enrollment writes to its entry (the challenge password is one-time: not kept)."""
        values: dict[str, Any] = {"enroll-protocol": "scep", "scep-url": self.url}
        if self.ca_id:
            values["ca-identifier"] = self.ca_id
        if self.source_ip:
            values["source-ip"] = self.source_ip
        return values


def check_url(url: str) -> None:
    """An ``http://`` or ``https://`` URL with a host (SCEP runs over HTTP; RFC 8894 §4.1)."""
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueParseError("Invalid SCEP URL (http://host[:port]/path).", url, -1)
