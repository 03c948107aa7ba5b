"""EstSettings: the EST settings of one certificate, the one mapping of them.

Built from the positions of ``execute vpn certificate local generate est``
(:meth:`EstSettings.from_positions`, after ``args.py`` validated them), from
a ``vpn certificate local`` entry (:meth:`EstSettings.from_entry`, for
re-enrollment and renewal) and written back to that entry
(:meth:`EstSettings.entry_values`).  Immutable: changes go through
``dataclasses.replace``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import pki


@dataclass(frozen=True)
class EstSettings:
    name: str
    url: str
    algorithm: str | None = None  # "ec-secp256r1", ...; None: re-enrollment keeps the key type
    subject: str | None = None
    san: str | None = None
    http_username: str | None = None
    http_password: str | None = None
    ca_id: str | None = None  # the CA label (/.well-known/est/<ca_id>/...)
    server_cert: str | None = None  # est-server-cert: the one CA trusted for the server (position 9)
    key_password: str | None = None
    client_cert: str | None = None  # est-client-cert
    source_ip: str | None = None
    srp_username: str | None = None
    srp_password: str | None = None
    regeneration_method: str | None = None  # est-regeneration-method ("create-new-key" or keep)
    from_cmdb: bool = False  # reconstructed from the CMDB (prints "" rather than "(null)" for unset values)

    # ------------------------------------------------------------ derived
    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 443

    @property
    def key_algorithm(self) -> pki.Algorithm | None:
        return pki.ALGORITHMS[self.algorithm] if self.algorithm else None

    # ------------------------------------------------------------ building
    @classmethod
    def from_positions(cls, values: Mapping[str, str | None]) -> "EstSettings":
        """From the validated positions of ``generate est`` (``args.FIELDS`` names)."""
        return cls(
            name=values["name"] or "", url=values["url"] or "", algorithm=values["algorithm"],
            subject=values.get("subject"), san=values.get("san"),
            http_username=values.get("http_username"), http_password=values.get("http_password"),
            ca_id=values.get("ca_id"), server_cert=values.get("ca_cert"),
            key_password=values.get("key_password"), client_cert=values.get("client_cert"),
            source_ip=values.get("source_ip"), srp_username=values.get("srp_username"),
            srp_password=values.get("srp_password"),
        )

    @classmethod
    def from_entry(cls, name: str, entry: Any) -> "EstSettings":
        """From a ``vpn certificate local`` entry enrolled with EST."""

        def opt(attr: str) -> str | None:
            value = entry.get(attr)
            return str(value) if value else None

        source_ip = opt("source-ip")
        return cls(
            name=name, url=str(entry.get("est-server") or ""), ca_id=opt("est-ca-id"),
            http_username=opt("est-http-username"), http_password=opt("est-http-password"),
            client_cert=opt("est-client-cert"), server_cert=opt("est-server-cert"),
            srp_username=opt("est-srp-username"), srp_password=opt("est-srp-password"),
            source_ip=None if source_ip == "0.0.0.0" else source_ip, key_password=opt("password"),
            regeneration_method=opt("est-regeneration-method"), from_cmdb=True,
        )

    # ------------------------------------------------------------ storing
    def entry_values(self) -> dict[str, Any]:
        """The EST attributes of the ``vpn certificate local`` entry (without certificate and key)."""
        values: dict[str, Any] = {
            "enroll-protocol": "est", "est-server": self.url, "est-ca-id": self.ca_id or "",
            "est-http-username": self.http_username or "", "est-http-password": self.http_password or "",
            "est-client-cert": self.client_cert or "", "est-server-cert": self.server_cert or "",
            "est-srp-username": self.srp_username or "", "est-srp-password": self.srp_password or "",
        }
        if self.source_ip:
            values["source-ip"] = self.source_ip
        return values
