from __future__ import annotations

import datetime as dt
import hashlib

from cryptography.hazmat.primitives import serialization

from cmdb_helpers import LOCAL
from fortishell.cmdb import render, secrets
from fortishell.cmdb.model import Cmdb

NOW = dt.datetime(2023, 4, 14, tzinfo=dt.timezone.utc)

# The guide's Example 3 `get est-test101`, with the code-block indent removed and
# the Fingerprint line left as a {fp} placeholder (the MD5 of our certificate's DER).
EXAMPLE3 = """\
name                : est-test101
password            : *
comments            :
private-key         : *
certificate         :
        Subject:     CN = firewall-portal1
        Issuer:      CN = estExampleCA
        Valid from:  2023-04-13 17:23:40  GMT
        Valid to:    2024-04-12 17:23:40  GMT
        Fingerprint: {fp}
        Root CA:     No
        Version:     3
        Serial Num:
                07:47:02
        Extensions:
                Name:     X509v3 Basic Constraints
                Critical: no
                Content:
                CA:FALSE

                Name:     X509v3 Key Usage
                Critical: no
                Content:
                Digital Signature

                Name:     X509v3 Subject Key Identifier
                Critical: no
                Content:
                9B:F8:39:D5:21:E6:FF:49:FF:AC:02:57:5B:FC:4C:1A:8B:1E:5D:8F

                Name:     X509v3 Authority Key Identifier
                Critical: no
                Content:
                1A:DF:39:84:C2:56:E6:6C:CF:2A:B4:26:A5:FD:0C:D2:43:F5:3D:3E


state               : OK
range               : global
source              : user
source-ip           : 0.0.0.0
ike-localid-type    : asn1dn
enroll-protocol     : est
est-server          : https://testrfc7030.com:8443
est-ca-id           :
est-http-username   : estuser
est-http-password   : estpwd
est-client-cert     :
est-server-cert     :
est-srp-username    :
est-srp-password    :
auto-regenerate-days: 0
auto-regenerate-days-warning: 0"""


def test_get_reproduces_guide_example3(est_cmdb, cert):
    der = cert.public_bytes(serialization.Encoding.DER)
    fp = ":".join(f"{b:02X}" for b in hashlib.md5(der).digest())
    got = render.get_entry(est_cmdb, LOCAL, "est-test101", NOW)
    assert "\n".join(got) == EXAMPLE3.format(fp=fp)


def test_state_expired_with_clock(est_cmdb):
    later = dt.datetime(2024, 4, 13, tzinfo=dt.timezone.utc)
    lines = render.get_entry(est_cmdb, LOCAL, "est-test101", later)
    assert "state               : EXPIRED" in lines


def test_conditional_attributes_follow_enroll_protocol(est_cmdb):
    buf = est_cmdb.begin_edit(LOCAL, "est-test101")
    buf.set("enroll-protocol", ["scep"])
    buf.set("scep-url", ["http://scep.example/"])
    buf.set("private-key-retain", ["enable"])
    lines = render.get_entry(est_cmdb, LOCAL, "est-test101", NOW, entry=buf)
    names = [line.split(":")[0].strip() for line in lines if not line.startswith(" ") and line]
    assert "scep-url" in names and "ca-identifier" in names and "private-key-retain" in names
    assert "cmp-server" not in names and "name-encoding" not in names
    assert names.index("enroll-protocol") < names.index("private-key-retain")


def test_show_nondefault_only_and_secrets(est_cmdb, cert_pem):
    lines = render.show(est_cmdb, LOCAL, "est-test101")
    assert lines[0] == "config vpn certificate local"
    assert lines[1] == '    edit "est-test101"'
    assert lines[-2:] == ["    next", "end"]
    assert '        set est-http-username "estuser"' in lines
    assert "        set enroll-protocol est" in lines
    enc = [line for line in lines if line.startswith("        set est-http-password ENC ")]
    assert len(enc) == 1 and secrets.decrypt(enc[0].split("ENC ", 1)[1]) == "estpwd"
    assert not any("range" in line or "source-ip" in line or "state" in line for line in lines)
    # PEM: multi-line inside one quoted value, closing quote on the END line
    start = lines.index('        set certificate "-----BEGIN CERTIFICATE-----')
    end = lines.index('-----END CERTIFICATE-----"')
    assert "\n".join(lines[start + 1:end]) in cert_pem
    # fresh ciphertext on every show
    assert render.show(est_cmdb, LOCAL, "est-test101") != lines


def test_show_full_prints_every_attribute(est_cmdb):
    lines = render.show(est_cmdb, LOCAL, "est-test101", full=True)
    assert "        set comments ''" in lines
    assert "        set range global" in lines
    assert "        set source-ip 0.0.0.0" in lines
    assert "        unset est-srp-password" in lines
    assert "        set last-updated 0" in lines
    assert not any(" csr " in line or "set state" in line or "scep-url" in line for line in lines)


def test_show_object_and_nested():
    cmdb = Cmdb()
    buf = cmdb.begin_edit(("system", "global"))
    buf.set("hostname", ["lab-fpx"])
    cmdb.commit(buf)
    assert render.show(cmdb, ("system", "global")) == ["config system global", '    set hostname "lab-fpx"', "end"]
    setting = cmdb.begin_edit(("vpn", "certificate", "setting"), trusted=True)
    crl = setting.begin_edit("crl-ver")
    crl.set("expiry", ["revoke"])
    cmdb.commit(crl)
    cmdb.commit(setting)
    assert render.show(cmdb, ("vpn", "certificate", "setting")) == [
        "config vpn certificate setting", "    config crl-verification", "        set expiry revoke",
        "    end", "end"]
    get = render.get_entry(cmdb, ("vpn", "certificate", "setting"), None, NOW)
    assert "crl-verification:" in get and "    expiry              : revoke" in get


def test_get_table_and_full_configuration(est_cmdb):
    assert render.get_table(est_cmdb, LOCAL) == [
        "== [ est-test101 ]", "name: est-test101   range: global   source: user   enroll-protocol: est"]
    lines = render.show_configuration(est_cmdb, full=True, header=True)
    assert lines[0] == "#config-version=FPXVM64-7.6.1-FW-build0197-241107:opmode=0:vdom=0:user=admin"
    assert lines[1].startswith("#conf_file_ver=") and lines[2] == "#buildno=0197" and lines[3] == "#global_vdom=1"
    assert lines[4] == "config system global"
    assert '    set hostname "FortiProxy"' in lines
    assert "    set output more" in lines
    assert "    set admintimeout 5" in lines


def test_show_lists_set_attributes_in_declaration_order_whatever_order_they_were_set() -> None:
    """``show`` walks the entry's stored attributes only (O(entry), issue 21: the journal record of a
    commit is its ``show``), in the schema's order, not in the order they were set."""
    cmdb = Cmdb()
    buf = cmdb.begin_edit(LOCAL, "ordered")
    for attr, value in (("auto-regenerate-days", "5"), ("est-server", "https://est.lab"), ("source-ip", "192.0.2.1"),
                        ("comments", "c"), ("range", "vdom"), ("enroll-protocol", "est")):
        buf.set(attr, [value])
    cmdb.commit(buf)
    assert render.show(cmdb, LOCAL, "ordered") == [
        "config vpn certificate local", '    edit "ordered"', '        set comments "c"', "        set range vdom",
        "        set source-ip 192.0.2.1", "        set enroll-protocol est",
        '        set est-server "https://est.lab"', "        set auto-regenerate-days 5", "    next", "end"]


def test_only_a_plain_number_key_of_an_integer_keyed_table_is_shown_bare() -> None:
    """``edit 7`` bare; a key a file kept as text (from before the trusthost id was an integer) is
    quoted, also one of digits that are not ASCII (``str.isdigit`` takes them; ``edit ١`` would
    come back as another key)."""
    from fortishell.cmdb.schema_admin import API_USER
    from fortishell.cmdb.store import loads
    from fortishell.rest.serialize import entry_json

    cmdb = loads('config system accprofile\n    edit "rw"\n    next\nend\n'
                 'config system api-user\n    edit "bot"\n        set accprofile "rw"\n'
                 '        config trusthost\n            edit "\u0661"\n            next\n'
                 '            edit 7\n            next\n        end\n    next\nend\n')
    shown = render.show(cmdb, API_USER, "bot")
    assert '            edit "\u0661"' in shown and "            edit 7" in shown
    assert [h["id"] for h in entry_json(cmdb.entry(API_USER, "bot"))["trusthost"]] == ["\u0661", 7]
