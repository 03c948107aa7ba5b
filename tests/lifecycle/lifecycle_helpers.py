"""Helpers for the lifecycle tests (replay, guide lines, certificate fields)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from pathlib import Path

from cryptography import x509

from fortishell.cmdb.schema import LOCAL
from fortishell.replay import transcript
from fortishell.shell.device import Device

LAB_TIME = dt.datetime(2023, 4, 6, 22, 37, 34, tzinfo=dt.timezone.utc)
TESTS = Path(__file__).resolve().parents[1]

ENROLL = ("execute vpn certificate local generate est est-test101 ec-secp256r1 https://testrfc7030.com:8443 "
          '"CN=firewall-portal1" "" estuser estpwd G_CA_Cert_1')
# duration 0: these tests move the clock days ahead while debugging (debug output otherwise stops
# 30 minutes of device time after `diagnose debug enable`, as on the device)
DEBUG_ON = "diagnose debug application est -1\ndiagnose debug duration 0\ndiagnose debug enable\n"
BRACKET = re.compile(r"^\[\d+\] [A-Za-z0-9_]+: ")


def replay(device: Device, script: str) -> str:
    """Replay ``script`` on ``device``; every command must succeed."""
    rc, text = transcript(script, device, keep_going=False)
    assert rc == 0, text
    return text


def guide_lines(section: str) -> list[str]:
    """The guide's bracketed trace lines of one example (tests/fidelity fixture)."""
    spec = importlib.util.spec_from_file_location("extract_guide_trace", TESTS / "fidelity" / "extract_guide_trace.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_fixture()[section]


def local_cert(device: Device, name: str = "est-test101") -> x509.Certificate:
    return x509.load_pem_x509_certificate(device.cmdb.entry(LOCAL, name).get("certificate").encode())


def ski(cert: x509.Certificate) -> bytes:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def block(text: str, command: str) -> list[str]:
    """The output lines of the first command ``command`` in a transcript (up to the next prompt)."""
    lines = text.split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.endswith("# " + command))
    out = []
    for ln in lines[start + 1:]:
        if re.match(r"^FortiProxy( \([^)]*\))? # ", ln):
            break
        out.append(ln)
    return out
