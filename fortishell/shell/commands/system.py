"""``get system status``: the FortiProxy-flavoured status block.

The real FortiProxy output is not public; the block is modelled on FortiOS 7.x
(fortios-cli-facts.md §6) with FortiProxy values.  The ``Version:`` line must
match ``^Version: .* v7\\.`` (netmiko's version probe) and ``Virtual domain
configuration: disable`` is what netmiko/scrapli look for.  ``System time`` comes
from the device clock, in the C ``asctime`` layout FortiOS uses.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..services import DeviceServices

PRODUCT = "FortiProxy-VM64"
VERSION = "v7.6.1"
BUILD = "0197"
BUILD_DATE = "241107"
SERIAL = "FPXVMEVM24000001"


def version_line() -> str:
    return f"Version: {PRODUCT} {VERSION},build{BUILD},{BUILD_DATE} (GA.F)"


def asctime(when: dt.datetime) -> str:
    """``Tue Dec  2 08:51:00 2025`` (day padded with a space)."""
    return f"{when:%a %b} {when.day:2d} {when:%H:%M:%S %Y}"


def status_lines(device: "DeviceServices") -> list[str]:
    now = device.clock.now()
    return [
        version_line(),
        f"First GA patch build date: {BUILD_DATE}",
        "Security Level: 1",
        "Firmware Signature: certified",
        "Virus-DB: 1.00000(2018-04-09 18:07)",
        "Extended DB: 1.00000(2018-04-09 18:07)",
        "IPS-DB: 6.00741(2015-12-01 02:30)",
        "IPS-ETDB: 0.00000(2001-01-01 00:00)",
        "APP-DB: 6.00741(2015-12-01 02:30)",
        f"Serial-Number: {SERIAL}",
        "License Status: Valid",
        "VM Resources: 2 CPU/2 allowed, 2048 MB RAM/8192 MB allowed",
        "Log hard disk: Available",
        f"Hostname: {device.hostname}",
        "Private Encryption: Disable",
        "Operation Mode: NAT",
        "Current virtual domain: root",
        "Max number of virtual domains: 1",
        "Virtual domains status: 1 in NAT mode, 0 in TP mode",
        "Virtual domain configuration: disable",
        "FIPS-CC mode: disable",
        "Current HA mode: standalone",
        f"Branch point: {BUILD}",
        "Release Version Information: GA",
        "FortiOS x86-64: Yes",
        f"System time: {asctime(now)}",
        "Last reboot reason: warm reboot",
    ]
