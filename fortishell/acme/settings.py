"""AcmeSettings: the frozen ACME settings of one local certificate entry (enroll-protocol acme2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .events import FlowFailure

DEFAULT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"


@dataclass(frozen=True)
class AcmeSettings:
    name: str
    directory: str
    domain: str
    email: str = ""
    rsa_key_size: int = 2048
    renew_window_days: int = 30
    eab_key_id: str = ""
    eab_hmac: str = ""

    @property
    def host(self) -> str:
        return urlsplit(self.directory).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.directory).port or 443

    @staticmethod
    def from_entry(name: str, entry: Any) -> "AcmeSettings":
        """From a ``vpn certificate local`` entry; raises :class:`FlowFailure` when it cannot be ordered."""
        def get(attr: str, default: Any = "") -> Any:
            value = entry.get(attr)
            return default if value is None else value

        s = AcmeSettings(
            name=name,
            directory=str(get("acme-ca-url", DEFAULT_DIRECTORY) or DEFAULT_DIRECTORY),
            domain=str(get("acme-domain")).strip().lower(),
            email=str(get("acme-email")),
            rsa_key_size=int(get("acme-rsa-key-size", 2048)),
            renew_window_days=int(get("acme-renew-window", 30)),
            eab_key_id=str(get("acme-eab-key-id")),
            eab_hmac=str(get("acme-eab-key-hmac")),
        )
        if not s.domain:
            raise FlowFailure("acme-domain is not set")
        parts = urlsplit(s.directory)
        if parts.scheme != "https" or not parts.hostname:
            raise FlowFailure(f"acme-ca-url must be an https URL, not '{s.directory}'")
        if bool(s.eab_key_id) != bool(s.eab_hmac):
            raise FlowFailure("acme-eab-key-id and acme-eab-key-hmac must be set together")
        return s
