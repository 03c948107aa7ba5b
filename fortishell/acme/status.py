"""Text of the ACME status commands (pure functions; the handlers live in shell/commands/acme.py).

* ``diagnose sys acme status-full <domain>``: the JSON KB 417763 shows (``name``,
  ``finished``, ``notified``, ``notified-renewed``, ``next-run``, ``last-run``,
  ``errors``, ``last{status, status-description, detail, activity}``), with
  mod_md's ``domains`` / ``ca`` / ``cert`` members added (the device's status
  texts are mod_md's).  Times in mod_md's RFC 1123 form; keys in that order;
  a domain the client does not manage prints ``{}`` (our choice).
* ``get system acme acc-details``: KB 211315's block per account.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from .accounts import all_accounts
from .service import Status


def _when(value: _dt.datetime | float | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, _dt.datetime):
        value = _dt.datetime.fromtimestamp(value, _dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def status_full(st: Status | None) -> list[str]:
    if st is None:
        return ["{}"]
    obj: dict[str, Any] = {
        "name": st.domain,
        "domains": [st.domain],
        "ca": {"url": st.ca_url, "proto": "ACME"},
        "finished": st.finished,
        "notified": st.finished,
        "notified-renewed": st.renewed > 0,
        "next-run": _when(st.next_run),
        "last-run": _when(st.last_run),
        "errors": st.errors,
        "last": {"status": st.status, "status-description": st.description, "detail": st.detail,
                 "activity": st.activity},
    }
    if st.valid_until is not None:
        obj["cert"] = {"valid": {"from": _when(st.valid_from), "until": _when(st.valid_until)}, "serial": st.serial}
    obj = {k: v for k, v in obj.items() if v is not None}
    return json.dumps(obj, indent=2).splitlines()


def acme_details(st: Status | None, certificate_pem: Any) -> list[str]:
    """The ``ACME details:`` lines of ``get vpn certificate local details`` (KB 211315's texts,
    which are mod_md's; ``Staging status`` is always empty: orders complete in one go here)."""
    if st is not None and not st.finished and st.detail:
        status = f"{st.description}: {st.detail}"
    elif st is not None and st.finished and st.valid_from is not None:
        status = f"{st.description} (valid since {_when(st.valid_from)})."
    elif certificate_pem:
        from cryptography import x509

        try:
            since = x509.load_pem_x509_certificate(str(certificate_pem).encode("ascii")).not_valid_before_utc
        except ValueError:
            since = None
        status = f"The certificate for the managed domain can be used (valid since {_when(since)})." if since \
            else "The certificate for the managed domain cannot be read."
    else:
        status = "No certificate has been obtained for the managed domain yet."
    return ["ACME details:", f"Status: {status}", "Staging status: Nothing in staging"]


def acc_details(cmdb: Any) -> list[str]:
    lines: list[str] = []
    for account_id, entry in all_accounts(cmdb):
        lines += [f"== [ {account_id} ]", f"ACME CA URL: {entry.get('ca_url')}", f"Account URL: {entry.get('url')}",
                  f"Status: {entry.get('status')}", f"Email: {entry.get('email')}",
                  f"Private Key: {str(entry.get('privatekey') or '').strip()}", ""]
    return lines[:-1] if lines else []
