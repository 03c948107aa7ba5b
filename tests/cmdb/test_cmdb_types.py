"""Every attribute type's parse errors: exact lines and return codes."""

from __future__ import annotations

import pytest

from cmdb_helpers import LOCAL
from fortishell.cmdb.model import Cmdb
from fortishell.cmdb.schema import MULTI_OPTION, AttrSpec, Option
from fortishell.cmdb.types import ParseContext, type_of
from fortishell.errors import ValueParseError, FortiError, IncompleteCommand, ParseError


def _err(buf, attr, words) -> FortiError:
    before = dict(buf.values)
    with pytest.raises(FortiError) as info:
        buf.set(attr, words)
    assert dict(buf.values) == before  # a failing set leaves the buffer unchanged
    return info.value


@pytest.fixture
def buf():
    return Cmdb().begin_edit(LOCAL, "c1")


def test_integer_errors(buf):
    e = _err(buf, "auto-regenerate-days", ["unexist"])
    assert e.output() == ["invalid unsigned integer value: unexist", "", "value parse error before 'unexist'",
                          "Command fail. Return code -651"]
    g = Cmdb().begin_edit(("system", "global"))
    e = _err(g, "admintimeout", ["500"])
    assert e.output() == ["value 500 out of range (1-480)", "", "value parse error before '500'",
                          "Command fail. Return code -651"]
    g.set("admintimeout", ["480"])
    assert g.get("admintimeout") == 480


def test_string_too_long(buf):
    e = _err(buf, "est-http-username", ["u" * 64])
    assert e.output() == ["string value is too long. the size is 64, the limit is 63",
                          f"value parse error before '{'u' * 64}'", "Command fail. Return code -1"]


def test_option_prefix_and_errors(buf):
    buf.set("enroll-protocol", ["es"])
    assert buf.get("enroll-protocol") == "est"
    assert _err(buf, "enroll-protocol", ["bogus"]).output() == ["value parse error before 'bogus'",
                                                                "Command fail. Return code -1"]
    buf.set("ike-localid-type", ["a"])
    assert buf.get("ike-localid-type") == "asn1dn"


def test_ipv4_errors(buf):
    assert _err(buf, "source-ip", ["1.1"]).output() == ["invalid ip address", "", "value parse error before '1.1'",
                                                        "Command fail. Return code -8"]
    buf.set("source-ip", ["10.0.0.1"])
    assert buf.get("source-ip") == "10.0.0.1"


def test_datasource_errors(buf):
    assert _err(buf, "est-client-cert", ["nope"]).output() == [
        "entry not found in datasource", "", "value parse error before 'nope'", "Command fail. Return code -3"]


def test_missing_value_extra_words_unknown_attr(buf):
    with pytest.raises(IncompleteCommand) as info:
        buf.set("comments", [])
    assert info.value.output() == ["", "incomplete command in the end", "Command fail. Return code -160"]
    with pytest.raises(ParseError) as info:
        buf.set("comments", ["a", "b"])
    assert info.value.output() == ["command parse error before 'b'", "Command fail. Return code -61"]
    with pytest.raises(ParseError) as info:
        buf.set("ipp", ["x"])
    assert info.value.output() == ["command parse error before 'ipp'", "Command fail. Return code -61"]


def test_readonly_and_conditional_attributes_refused(buf):
    for attr in ("state", "last-updated", "scep-url", "name"):
        with pytest.raises(ParseError):
            buf.set(attr, ["x"])
    # source (option) and csr ("user" PEM) are settable, as the CLI reference declares them
    buf.set("source", ["bundle"])
    assert buf.get("source") == "bundle"
    with pytest.raises(ValueParseError):
        buf.set("csr", ["not a request"])
    buf.set("enroll-protocol", ["scep"])
    buf.set("scep-url", ["http://x/"])
    assert buf.get("scep-url") == "http://x/"


def test_attribute_abbreviation(buf):
    buf.set("comm", ["hello"])
    assert buf.get("comments") == "hello"
    with pytest.raises(ParseError):  # ambiguous: est-server / est-server-cert / est-srp-*
        buf.set("est-s", ["x"])
    buf.set("est-server", ["https://a"])  # exact name wins over longer candidates
    assert buf.get("est-server") == "https://a"


def test_pem_validation(buf, cert_pem):
    e = _err(buf, "certificate", ["-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----"])
    assert e.output() == ["invalid certificate", "", "value parse error before '-----BEGIN CERTIFICATE-----'",
                          "Command fail. Return code -1"]
    buf.set("certificate", [cert_pem])
    assert buf.get("certificate") == cert_pem.strip()


def test_multi_value_canonical_order():
    spec = AttrSpec("allowaccess", MULTI_OPTION, [], options=tuple(Option(v) for v in
                                                                 ("ping", "https", "ssh", "http", "fgfm")))
    t = type_of(spec)
    ctx = ParseContext(lambda p, k: False)
    assert t.parse(spec, ["ssh", "pi", "fgfm", "https"], ctx) == ["ping", "https", "ssh", "fgfm"]
    from fortishell.cmdb.types import MultiOptionType
    assert MultiOptionType.canonical(spec, ["ping", "https", "ssh", "fgfm", "http"]) == [
        "ping", "https", "ssh", "http", "fgfm"]
    with pytest.raises(FortiError) as info:
        t.parse(spec, ["telnet"], ctx)
    assert info.value.rc == -1


def test_ipv4_classnet_and_ipv6_prefix():
    """``config system api-user`` / ``config trusthost``: a network as FortiOS writes it."""
    from fortishell.cmdb.schema_admin import ACCPROFILE, API_USER

    cmdb = Cmdb()
    with cmdb.transaction() as tx:
        tx.put(ACCPROFILE, "rw", {})
        tx.put(API_USER, "bot", {"accprofile": "rw"})
    host = cmdb.begin_edit(API_USER, "bot").begin_edit("trusthost", "1")
    for words, stored in ((["192.0.2.0", "255.255.255.0"], "192.0.2.0 255.255.255.0"),
                          (["10.0.0.0/8"], "10.0.0.0 255.0.0.0"), (["198.51.100.7 255.255.255.255"],
                                                                    "198.51.100.7 255.255.255.255")):
        host.set("ipv4-trusthost", words)
        assert host.get("ipv4-trusthost") == stored
    assert _err(host, "ipv4-trusthost", ["192.0.2.0", "255.0.255.0"]).output() == [
        "invalid netmask", "", "value parse error before '255.0.255.0'", "Command fail. Return code -8"]
    assert _err(host, "ipv4-trusthost", ["192.0.2.300", "255.255.255.0"]).return_code == -8
    assert isinstance(_err(host, "ipv4-trusthost", ["1.1.1.1", "255.0.0.0", "x"]), ParseError)
    host.set("type", ["ipv6-trusthost"])
    host.set("ipv6-trusthost", ["2001:DB8:0::/32"])
    assert host.get("ipv6-trusthost") == "2001:db8::/32"
    assert _err(host, "ipv6-trusthost", ["2001:db8::/129"]).return_code == -8


def test_integer_keys_and_the_vdom_list():
    """``config trusthost``: ``edit 01`` edits ``1``, ``edit abc`` is refused as ``set id abc``;
    a file saved when the id was a string key still loads (and its text key stays text over REST).
    ``set vdom``: names of the device's vdoms, several values, each once, in the order given."""
    from fortishell.cmdb.schema_admin import API_USER
    import datetime as dt

    from fortishell.cmdb.render import get_entry, show
    from fortishell.cmdb.store import loads
    from fortishell.rest.serialize import entry_json

    text = ('config system accprofile\n    edit "rw"\n    next\nend\n'
            'config system api-user\n    edit "bot"\n        set accprofile "rw"\n        set vdom "vd1" "root"\n'
            '        config trusthost\n            edit "legacy"\n            next\n            edit 7\n'
            '            next\n        end\n    next\nend\n')
    cmdb = loads(text)
    bot = cmdb.entry(API_USER, "bot")
    assert bot.get("vdom") == ["vd1", "root"]  # a file's names are kept (from a device with vdoms)
    got = get_entry(cmdb, API_USER, "bot", dt.datetime.now(dt.timezone.utc))
    at = got.index("vdom:")  # a member table on the device: `get` lists its entries
    assert got[at:at + 5] == ["vdom:", "    == [ vd1 ]", "    name: vd1", "    == [ root ]", "    name: root"]
    shown = show(cmdb, API_USER, "bot")
    assert '        set vdom "vd1" "root"' in shown
    assert '            edit "legacy"' in shown and "            edit 7" in shown
    assert [h["id"] for h in entry_json(bot)["trusthost"]] == ["legacy", 7]
    buf = cmdb.begin_edit(API_USER, "bot")
    assert buf.begin_edit("trusthost", "07").key == "7"
    assert _err_edit(buf, "abc").output()[0] == "invalid unsigned integer value: abc"
    assert _err(buf, "vdom", ["root", "vd2"]).return_code == -3  # not a vdom of this device
    buf.set("vdom", ["root", "root"])
    assert buf.get("vdom") == ["root"]
    buf.append("vdom", ["root"])
    assert buf.get("vdom") == ["root"]
    buf.unselect("vdom", ["root"])
    with pytest.raises(FortiError) as info:  # an emptied list would read back as the default root
        cmdb.commit(buf)
    assert info.value.rc == -56


def test_a_new_api_user_gets_vdom_root_and_show_lists_it():
    """A member table without a default on the device: a new API user has `root` filled in, and
    `show` lists it as device configurations do (`set vdom "root"`); `unset vdom` leaves it empty,
    which `end` refuses."""
    from fortishell.cmdb.render import show
    from fortishell.cmdb.schema_admin import API_USER
    from fortishell.cmdb.store import loads

    cmdb = loads('config system accprofile\n    edit "rw"\n    next\nend\n'
                 'config system api-user\n    edit "old"\n        set accprofile "rw"\n    next\nend\n')
    assert cmdb.entry(API_USER, "old").get("vdom") == ["root"]  # a file without the line (saved before)
    buf = cmdb.begin_edit(API_USER, "bot")
    buf.set("accprofile", ["rw"])
    cmdb.commit(buf)
    assert show(cmdb, API_USER, "bot") == ["config system api-user", '    edit "bot"', '        set accprofile "rw"',
                                           '        set vdom "root"', "    next", "end"]
    buf = cmdb.begin_edit(API_USER, "bot")
    buf.unset("vdom")
    with pytest.raises(FortiError) as info:
        cmdb.commit(buf)
    assert info.value.rc == -56


def _err_edit(buf, key):  # noqa: ANN001, ANN202
    with pytest.raises(FortiError) as info:
        buf.begin_edit("trusthost", key)
    return info.value
