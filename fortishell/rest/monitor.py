"""``/api/v2/monitor/...``: the device state endpoints the certificate work needs.

Each endpoint is ``(device, query, body) -> envelope fields``, run under the
device lock like the CMDB endpoints: ``system/status`` (GET),
``system/available-certificates`` (GET), ``system/api-user/generate-key``
(POST; a session admin confirms it with ``X-Admin-Passwd``, see ``app.py``), and the certificate actions of ``monitor_certs.py`` (``vpn-certificate/
ca|local|crl/import``, ``csr/generate``, ``local/create``, ``system/certificate/
download``).  Any other path is 404, another method 405.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..cmdb.certdetails import effective_state
from ..cmdb.schema import CA, LOCAL
from ..cmdb.schema_pki import CRL, REMOTE
from ..errors import FortiError
from ..shell.commands.apiuser import generate_key
from ..shell.commands.system import PRODUCT
from . import monitor_certs
from .envelope import RestError

Endpoint = Callable[[Any, Any, Any], "dict[str, Any] | monitor_certs.Download"]


@dataclass(frozen=True)
class Monitor:
    method: str
    write: bool
    run: Endpoint
    admin_password: bool = False  # a session admin confirms with X-Admin-Passwd (app.py)


def _status(device: Any, query: Any, body: Any) -> dict[str, Any]:
    return {"results": {"model_name": "FortiProxy", "model_number": PRODUCT.split("-", 1)[-1],
                        "model": "FPXVM64", "hostname": device.hostname, "log_disk_status": "available"}}


_STATUS = {"OK": "valid", "EXPIRED": "expired", "PENDING": "pending", "": "unknown"}


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("1", "true", "yes")


def _available(device: Any, query: Any, body: Any) -> dict[str, Any]:
    """Certificates by kind: local (always), CA (with_ca), remote (with_remote), CRL (with_crl)."""
    cmdb, now = device.cmdb, device.clock.now()
    kinds: list[tuple[tuple[str, ...], str]] = [(LOCAL, "local-cer")]
    if _flag(query, "with_ca"):
        kinds.append((CA, "local-ca"))
    if _flag(query, "with_remote"):
        kinds.append((REMOTE, "remote-cer"))
    if _flag(query, "with_crl"):
        kinds.append((CRL, "crl"))
    wanted = query.get("mkey")
    out = []
    for path, kind in kinds:
        for entry in cmdb.entries(path):
            if wanted and entry.key != wanted:
                continue
            row: dict[str, Any] = {"name": entry.key, "type": kind, "q_origin_key": entry.key}
            spec = entry.spec
            if spec.attr("source") is not None:
                row["source"] = entry.get("source")
            if spec.attr("range") is not None:
                row["range"] = entry.get("range")
            if path == LOCAL:
                state = effective_state(entry, now)
                row["status"] = _STATUS.get(state, state.lower())
            else:
                row["status"] = "valid"
            if _flag(query, "find_all_references"):
                row["q_ref"] = cmdb.references(path, str(entry.key))
            out.append(row)
    return {"results": out}


def _generate_key(device: Any, query: Any, body: Any) -> dict[str, Any]:
    name = body.get("api-user") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        raise RestError(400, -651)
    try:
        key = generate_key(device.cmdb, name)
    except FortiError as exc:
        raise RestError.from_cli(exc, 404 if exc.return_code == -3 else 500) from None
    return {"results": {"access_token": key}}


ENDPOINTS: dict[str, Monitor] = {
    "vpn-certificate/ca/import": Monitor("POST", True, monitor_certs.ca_import),
    "vpn-certificate/local/import": Monitor("POST", True, monitor_certs.local_import),
    "vpn-certificate/crl/import": Monitor("POST", True, monitor_certs.crl_import),
    "vpn-certificate/csr/generate": Monitor("POST", True, monitor_certs.csr_generate),
    "vpn-certificate/local/create": Monitor("POST", True, monitor_certs.local_create),
    "system/certificate/download": Monitor("GET", False, monitor_certs.download),
    "system/status": Monitor("GET", False, _status),
    "system/available-certificates": Monitor("GET", False, _available),
    "system/api-user/generate-key": Monitor("POST", True, _generate_key, admin_password=True),
}


def find(path: str, method: str) -> Monitor:
    """The endpoint of ``path``: 404 when there is none, 405 for another method."""
    endpoint = ENDPOINTS.get(path.strip("/"))
    if endpoint is None:
        raise RestError(404)
    if endpoint.method != method:
        raise RestError(405)
    return endpoint
