"""The vdoms a request names (``?vdom=``) and the answer for each: per-vdom API users.

An API user touches only the vdoms of its ``set vdom`` list (``config system api-user``); an admin
of the users file touches every vdom of the device.  FortiOS 7.6 as observed (Fortinet community
article 344460, fortinet-ansible-dev/ansible-galaxy-fortios-collection issue 345,
fortinetdev/terraform-provider-fortios issue 138):

* ``vdom=<v>`` outside the caller's vdoms: HTTP 403, the error envelope without an ``error`` code,
  its ``vdom`` the name asked for.  A vdom the device does not have is refused the same way (no
  caller has it): 403, not 404.
* no ``vdom``: the management vdom (``root``), refused alike when the caller lacks it (issue 345:
  the device wants ``root`` even for vdom-bound keys).
* ``vdom=*`` and ``global=1`` (KB 344460): the caller's vdoms only, one envelope each in a list
  (the set restricted, not refused); 403 when it has none.  ``vdom=a,b``: one envelope per name, 403 for each the caller lacks.
* ``scope=global`` (our choice, the device runs without multi-vdom): the global settings live with
  ``root``, so a caller without ``root`` gets 403.

The emulated device has the vdoms of ``cmdb/types.DEVICE_VDOMS`` (``root`` alone).  No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..cmdb.types import DEVICE_VDOMS

MANAGEMENT = "root"


@dataclass(frozen=True)
class Asked:
    """The vdoms of a request, in order, each once; ``many``: answered as a list of envelopes."""

    names: tuple[str, ...]
    many: bool


def param(query: Mapping[str, str]) -> str:
    """The request's ``vdom`` parameter; ``global=1`` asks for every vdom as ``vdom=*`` does."""
    if query.get("global", "") in ("1", "true"):
        return "*"
    return query.get("vdom", "")


def asked(param: str, allowed: tuple[str, ...]) -> Asked:
    """``param``: the ``vdom`` query value; ``allowed``: the caller's vdoms (``*`` means those)."""
    if param == "*":
        return Asked(allowed, True) if allowed else Asked((MANAGEMENT,), False)
    if "," in param:
        return Asked(tuple(dict.fromkeys(v for v in param.split(",") if v)) or (MANAGEMENT,), True)
    return Asked((param or MANAGEMENT,), False)


def permitted(vdom: str, allowed: tuple[str, ...], *, scope_global: bool = False) -> bool:
    """Whether a caller with ``allowed`` vdoms may touch ``vdom`` (``scope=global``: needs root)."""
    if scope_global:
        return MANAGEMENT in allowed
    return vdom in DEVICE_VDOMS and vdom in allowed
