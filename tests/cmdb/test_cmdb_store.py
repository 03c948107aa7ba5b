"""Config file round trip, errors with line numbers, atomic save, reader speed."""

from __future__ import annotations

import os
import stat

import pytest

from cmdb_helpers import LOCAL
from fortishell.cmdb import store
from fortishell.cmdb.factory import factory_cmdb
from fortishell.cmdb.schema import CA
from fortishell.errors import ConfigFileError, ValueParseError


def test_round_trip_with_pems_and_secrets(est_cmdb):
    buf = est_cmdb.begin_edit(LOCAL, "est-test101")
    buf.set("comments", ['quote " backslash \\ single \' end'])
    est_cmdb.commit(buf)
    text = store.dumps(est_cmdb)
    assert "set est-http-password ENC " in text and "estpwd" not in text
    again = store.loads(text)
    assert again == est_cmdb
    assert again.entry(LOCAL, "est-test101").get("est-http-password") == "estpwd"
    assert again.entry(LOCAL, "est-test101").get("certificate") == est_cmdb.entry(LOCAL, "est-test101").get(
        "certificate")


def test_factory_round_trip_and_file(tmp_path):
    cmdb = factory_cmdb()
    path = tmp_path / "fortishell.conf"
    store.save(cmdb, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.load(path) == cmdb
    assert os.listdir(tmp_path) == ["fortishell.conf"]


def test_tokenizer_agrees_with_cli_parser(est_cmdb):
    parser = pytest.importorskip("fortishell.cli.parser")
    second = "".join(line for line in store.dumps(est_cmdb).splitlines(True) if not line.startswith("#"))
    text = store.dumps(factory_cmdb()) + second + 'set a\\ b "x\\"y" \'z\'\n'
    ours = list(store.tokenize(text))
    theirs = [(line.lineno, [w.text for w in line.words]) for line in parser.parse_script(text)
              if not line.is_empty]
    assert ours == theirs


@pytest.mark.parametrize("text, where, what", [
    ("config vpn certificate local\n    edit \"a\"\n        set bogus 1\n    next\nend\n", "line 3", "bogus"),
    ("config vpn certificate nothing\nend\n", "line 1", "unknown configuration path"),
    ("config system global\n    set admintimeout 999\nend\n", "line 2", "out of range"),
    ("config vpn certificate local\n    edit \"a\"\n        set password ENC !!!\n    next\nend\n", "line 3",
     "invalid encrypted value"),
    ("config vpn certificate local\n    edit \"a\"\n        set comments \"open\n", "line 3", "Unmatched"),
    ("config vpn certificate local\n    edit \"a\"\n", "line 2", "missing 'end'"),
    ("config vpn certificate local\n    edit \"a\"\n        set est-client-cert \"ghost\"\n    next\nend\n",
     "line 5", "entry not found in datasource"),
])
def test_errors_name_the_line(text, where, what):
    with pytest.raises(ConfigFileError) as info:
        store.loads(text)
    message = info.value.lines[0]
    assert message.startswith(where) and what in message


_NOT_A_CERT = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGUgYnV0IGJhc2U2NA==\n-----END CERTIFICATE-----"


def _ca_file(pem: str) -> str:
    return f'config vpn certificate ca\n    edit "CA_Cert_9"\n        set ca "{pem}"\n    next\nend\n'


def test_file_certificates_are_checked_for_armour_and_base64_only():
    """Loading parses no certificate (issue 22): a body that is not base64 is still refused with its
    line; base64 that is no certificate loads, and is unreadable where it is used (`get`), while
    `set` refuses the same text (types.py's module doc)."""
    with pytest.raises(ConfigFileError) as info:
        store.loads(_ca_file(_NOT_A_CERT.replace("bm90", "b*90")))
    assert info.value.lines[0].startswith("line 3") and "invalid certificate" in info.value.lines[0]
    cmdb = store.loads(_ca_file(_NOT_A_CERT))
    assert cmdb.entry(CA, "CA_Cert_9").get("ca") == _NOT_A_CERT
    from fortishell.cmdb.certdetails import detail_lines

    assert detail_lines(_NOT_A_CERT)[0].strip() == "(unreadable certificate)"
    buf = cmdb.begin_edit(CA, "CA_Cert_10")
    with pytest.raises(ValueParseError):
        buf.set("ca", [_NOT_A_CERT])


def test_forward_reference_within_file_is_fine():
    text = ('config vpn certificate local\n    edit "b"\n        set est-client-cert "a"\n    next\n'
            '    edit "a"\n    next\nend\n')
    assert store.loads(text).entry(LOCAL, "b").get("est-client-cert") == "a"


def test_atomic_save_keeps_old_file_on_failure(tmp_path, monkeypatch, est_cmdb):
    path = tmp_path / "fortishell.conf"
    store.save(factory_cmdb(), path)
    old = path.read_bytes()

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(ConfigFileError) as info:
        store.save(est_cmdb, path)
    assert "cannot write configuration file" in info.value.lines[0]
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["fortishell.conf"]  # no temporary file left behind


def _big_config(n_lines: int) -> str:
    lines = ["#config-version=FPXVM64-7.6.1-FW-build0197-241107:opmode=0:vdom=0:user=admin",
             "config vpn certificate local"]
    i = 0
    while len(lines) < n_lines:
        lines += [f'    edit "cert{i}"', f'        set comments "entry number {i}"', "        set enroll-protocol est",
                  '        set est-server "https://testrfc7030.com:8443"', '        set est-http-username "estuser"',
                  "        set auto-regenerate-days 30", "        set source-ip 10.0.0.1", "    next"]
        i += 1
    return "\n".join(lines + ["end"]) + "\n"


def test_a_large_configuration_loads_completely():
    # speed is measured against anyconfig-fortios-backend by bench/config_load.py, not here
    text = _big_config(30_000)
    cmdb = store.loads(text)
    assert len(cmdb.keys(LOCAL)) == 3750
    assert cmdb.entry(LOCAL, "cert7").get("auto-regenerate-days") == 30
    assert cmdb.entry(LOCAL, "cert3749").get("source-ip") == "10.0.0.1"
