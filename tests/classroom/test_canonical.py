"""The canonical form of a typed line is the command the device runs for it: each abbreviated line
and its canonical form give the same output on two real sessions of the same configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fortishell.classroom.canonical import Modes
from fortishell.clock import Clock, parse_clock_option
from fortishell.expect import normalise
from fortishell.shell.device import Device
from fortishell.shell.session import Session

SAMPLES = Path(__file__).resolve().parents[2] / "sample-configs"

# (typed, canonical) in the order typed; the mode moves with them
SESSION = [
    ("get sys stat | grep Ver", "get system status | grep Ver"),
    ("sh fu vpn cert ca G_CA_Cert_1", "show full-configuration vpn certificate ca G_CA_Cert_1"),
    ("diag debug app est -1", "diagnose debug application est -1"),
    ("diag debug info", "diagnose debug info"),
    ("exec ping testrfc7030.com", "execute ping testrfc7030.com"),
    ('g vpn certificate local details "Fortinet_CA_SSL"', "get vpn certificate local details Fortinet_CA_SSL"),
    ("conf vpn cert crl", "config vpn certificate crl"),
    ("ed lab-crl", "edit lab-crl"),
    ("set http-u http://crl.lab/estExampleCA.crl", "set http-url http://crl.lab/estExampleCA.crl"),
    ("set ra vd", "set range vdom"),
    ("sh", "show"),
    ("n", "next"),
    ("get lab-crl | grep -i RANGE", "get lab-crl | grep -i RANGE"),
    ("en", "end"),
    ("exec vpn cert local gen ec k1 secp256r1 web.lab US \"\" \"\" Lab \"\" \"\" DNS:web.lab",
     'execute vpn certificate local generate ec k1 secp256r1 web.lab US "" "" Lab "" "" DNS:web.lab'),
]


def _session(tmp_path: Path, name: str) -> tuple[Device, Session]:
    work = tmp_path / name
    work.mkdir()
    shutil.copyfile(SAMPLES / "lab.conf", work / "fortishell.conf")
    device = Device.open(work / "fortishell.conf", work, Clock(parse_clock_option("2023-04-06 22:37:34")))
    return device, Session(device)


def test_each_canonical_form_runs_as_its_abbreviation(tmp_path: Path) -> None:
    typed_dev, typed = _session(tmp_path, "typed")
    canon_dev, canon = _session(tmp_path, "canonical")
    modes = Modes()
    try:
        for text, want in SESSION:
            assert modes.canonical(text) == want, text
            a, b = typed.execute(text), canon.execute(want)
            assert a.rc == 0 and b.rc == 0, (text, a.lines, b.lines)
            assert normalise("\n".join(a.lines)) == normalise("\n".join(b.lines)), text  # ping times differ
            assert typed.prompt == canon.prompt
            modes.accepted(text)
    finally:
        typed_dev.close()
        canon_dev.close()


@pytest.mark.parametrize("text", ["e", "exec png x", "exec vpn cert", "get vpn foo", "conf vpn"])
def test_a_line_the_device_refuses_stays_as_typed(text: str) -> None:
    assert Modes().canonical(f"  {text} ") == text


def test_the_mode_follows_the_accepted_commands() -> None:
    modes = Modes()
    for text in ("conf vpn cert local", "edit x"):
        modes.accepted(text)
    assert modes.canonical("set est-http-u estuser") == "set est-http-username estuser"
    assert modes.canonical("set est-ser https://a") == "set est-ser https://a"  # est-server, est-server-cert
    modes.accepted("end")
    assert modes.stack == [] and modes.canonical("diag debug en") == "diagnose debug enable"
