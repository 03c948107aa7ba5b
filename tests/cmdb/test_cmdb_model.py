"""Commit / abort, transactions, references, rename / clone / purge, schema completeness."""

from __future__ import annotations

import pytest

from cmdb_helpers import CA, LOCAL
from fortishell.cmdb.factory import factory_cmdb
from fortishell.cmdb.model import Cmdb
from fortishell.cmdb.schema import SCHEMA
from fortishell.errors import CliError, ConfigFileError, EntryInUse, EntryNotFound


def _new(cmdb, key, **values):
    buf = cmdb.begin_edit(LOCAL, key)
    for attr, value in values.items():
        buf.set(attr.replace("_", "-"), [value])
    return cmdb.commit(buf)


def test_schema_completeness():
    local = {a.name for a in SCHEMA.table(LOCAL).attrs}
    assert local >= {
        "name", "password", "comments", "private-key", "certificate", "csr", "state", "range", "source",
        "source-ip", "ike-localid-type", "ike-localid", "enroll-protocol", "private-key-retain", "scep-url",
        "scep-password", "ca-identifier", "cmp-server", "cmp-path", "cmp-server-cert", "cmp-regeneration-method",
        "acme-ca-url", "acme-domain", "acme-email", "acme-eab-key-id", "acme-eab-key-hmac", "acme-rsa-key-size",
        "acme-renew-window", "est-server", "est-ca-id", "est-http-username", "est-http-password",
        "est-client-cert", "est-server-cert", "est-srp-username", "est-srp-password", "est-regeneration-method",
        "auto-regenerate-days", "auto-regenerate-days-warning", "name-encoding", "last-updated"}
    ca = {a.name for a in SCHEMA.table(CA).attrs}
    assert ca >= {"name", "ca", "range", "source", "ssl-inspection-trusted", "scep-url", "est-url",
                  "auto-update-days", "auto-update-days-warning", "source-ip", "ca-identifier", "obsolete",
                  "fabric-ca"}
    setting = SCHEMA.table(("vpn", "certificate", "setting"))
    assert setting.kind == "object" and setting.subtable("crl-verification") is not None
    assert {a.name for a in setting.attrs} >= {"cert-expire-warning", "certname-rsa2048", "check-ca-cert",
                                               "cn-match", "ocsp-status", "proxy-port", "ssl-min-proto-version"}
    assert SCHEMA.children(("vpn", "certificate")) == ["ca", "crl", "local", "ocsp-server", "remote", "setting"]
    assert SCHEMA.children() == ["system", "vpn"]
    assert SCHEMA.resolve_path(["vpn", "cert", "loc"]) == LOCAL
    assert SCHEMA.help(LOCAL) == "Local keys and certificates."
    assert SCHEMA.table(("system", "console")).attr("output").default == "more"


def test_commit_abort_and_new_flag():
    cmdb = Cmdb()
    buf = cmdb.begin_edit(LOCAL, "a")
    assert buf.is_new
    buf.set("comments", ["x"])
    assert cmdb.entry(LOCAL, "a") is None  # nothing before commit
    v = cmdb.version
    cmdb.commit(buf)
    assert cmdb.entry(LOCAL, "a").get("comments") == "x" and cmdb.version == v + 1
    again = cmdb.begin_edit(LOCAL, "a")
    assert not again.is_new
    again.set("comments", ["changed"])  # abort = drop the buffer
    assert cmdb.entry(LOCAL, "a").get("comments") == "x"


def test_listeners_fire_with_changes_and_output():
    cmdb = Cmdb()
    seen = []

    def listener(changes):
        seen.extend(changes)
        return [f"changed {changes[0].key}"]

    cmdb.on_commit(listener)
    assert _new(cmdb, "a", comments="x") == ["changed a"]
    assert seen[0].old is None and seen[0].new.get("comments") == "x"


def test_transaction_all_or_nothing():
    cmdb = factory_cmdb()
    snap = cmdb.snapshot()
    fired = []
    cmdb.on_commit(fired.append)
    with pytest.raises(RuntimeError):
        with cmdb.transaction() as tx:
            tx.put(LOCAL, "new", {"certificate": "", "comments": "x"})
            tx.delete(LOCAL, "Fortinet_Factory")
            raise RuntimeError("boom")
    assert cmdb.snapshot() == snap and fired == []
    with cmdb.transaction() as tx:
        tx.put(LOCAL, "new", {"comments": "x", "state": "PENDING"})
        tx.put(LOCAL, "new", {"auto-regenerate-days": 3})
    assert len(fired) == 1 and len(fired[0]) == 2
    assert cmdb.entry(LOCAL, "new").get("comments") == "x" and cmdb.entry(LOCAL, "new").get(
        "auto-regenerate-days") == 3
    with pytest.raises(CliError), cmdb.transaction() as tx:
        tx.put(LOCAL, "x", {"no-such-attr": 1})
    assert cmdb.entry(LOCAL, "x") is None


def test_a_transaction_hands_back_its_listeners_lines_and_failures():
    """Listener lines are in ``tx.output``; a failing listener (the file could not be saved) makes the
    transaction raise after every listener ran, with the change kept, as ``end`` keeps it."""
    cmdb = factory_cmdb()
    ran = []

    def saves_badly(changes):
        ran.append("save")
        raise ConfigFileError("cannot write configuration file f.conf: [Errno 28] No space left on device")

    cmdb.on_commit(lambda changes: ["noted"])
    with cmdb.transaction() as tx:
        tx.put(LOCAL, "ok", {"comments": "x"})
    assert tx.output == ["noted"]
    cmdb.on_commit(saves_badly)
    cmdb.on_commit(lambda changes: ran.append("after") or None)
    with pytest.raises(ConfigFileError) as info:
        with cmdb.transaction() as tx:
            tx.put(LOCAL, "kept", {"comments": "y"})
    assert info.value.lines == ["cannot write configuration file f.conf: [Errno 28] No space left on device"]
    assert ran == ["save", "after"] and cmdb.entry(LOCAL, "kept").get("comments") == "y"
    edit = cmdb.begin_edit(LOCAL, "typed")  # a typed commit still shows the failure as lines
    assert cmdb.commit(edit) == ["noted", "cannot write configuration file f.conf: [Errno 28] No space left on device"]


def test_a_listener_repeating_a_failure_of_the_same_commit_is_shown_once():
    """A later listener's line that repeats an earlier listener's failure is left out (an ACME
    order the commit starts saves its certificate in a commit of its own, which fails alike);
    its other lines stay."""
    cmdb = Cmdb()
    full = "cannot write configuration file f.conf: [Errno 28] No space left on device"

    def saves_badly(changes):
        raise ConfigFileError(full)

    cmdb.on_commit(saves_badly)
    cmdb.on_commit(lambda changes: [full, "ordered"])
    assert cmdb.commit(cmdb.begin_edit(LOCAL, "once")) == [full, "ordered"]


def test_a_transaction_says_whether_its_failure_came_after_the_commit():
    """``FortiError.committed``: a commit listener's failure (the file could not be saved) leaves the
    change in memory and says so; a refusal inside the transaction rolls back and does not."""
    cmdb = Cmdb()

    def saves_badly(changes):
        raise ConfigFileError("cannot write configuration file f.conf: disk full")

    cmdb.on_commit(saves_badly)
    with pytest.raises(ConfigFileError) as after:
        with cmdb.transaction() as tx:
            tx.put(LOCAL, "kept", {"comments": "x"})
    assert after.value.committed and cmdb.entry(LOCAL, "kept") is not None
    with pytest.raises(CliError) as inside:
        with cmdb.transaction() as tx:
            tx.put(LOCAL, "gone", {"comments": "y"})
            raise CliError("refused")
    assert not inside.value.committed and cmdb.entry(LOCAL, "gone") is None


def test_references_delete_and_rename():
    cmdb = factory_cmdb()
    # vpn certificate setting certname-rsa2048 refers to Fortinet_SSL_RSA2048 by default
    with pytest.raises(EntryInUse) as info:
        cmdb.delete(LOCAL, "Fortinet_SSL_RSA2048")
    assert info.value.output() == ["The entry is used by other 1 entries", "Command fail. Return code -23"]
    _new(cmdb, "a")
    b = cmdb.begin_edit(LOCAL, "b")
    b.set("est-client-cert", ["a"])
    cmdb.commit(b)
    assert cmdb.references(LOCAL, "a") == 1
    with pytest.raises(EntryInUse):
        cmdb.delete(LOCAL, "a")
    cmdb.rename(LOCAL, "a", "a2")
    assert cmdb.entry(LOCAL, "b").get("est-client-cert") == "a2"
    assert cmdb.keys(LOCAL).index("a2") == cmdb.keys(LOCAL).index("b") - 1  # keeps its place
    cmdb.delete(LOCAL, "b")
    cmdb.delete(LOCAL, "a2")
    with pytest.raises(EntryNotFound) as info:
        cmdb.delete(LOCAL, "a2")
    assert info.value.output()[-1] == "Command fail. Return code -3"


def test_clone_and_conflicts():
    cmdb = Cmdb()
    _new(cmdb, "a", comments="orig")
    _new(cmdb, "b")
    cmdb.clone(LOCAL, "a", "c")
    assert cmdb.entry(LOCAL, "c").get("comments") == "orig"
    with pytest.raises(CliError) as info:
        cmdb.clone(LOCAL, "a", "b")
    assert info.value.rc == -5
    with pytest.raises(CliError):
        cmdb.rename(LOCAL, "a", "x" * 36)


def test_purge_refused_when_referenced_then_allowed():
    cmdb = factory_cmdb()
    with pytest.raises(EntryInUse):
        cmdb.purge(LOCAL)
    assert len(cmdb.keys(LOCAL)) == 14
    cmdb.purge(CA)
    assert cmdb.keys(CA) == []


def test_nested_buffer_commits_with_parent():
    cmdb = Cmdb()
    setting = cmdb.begin_edit(("vpn", "certificate", "setting"), trusted=True)
    crl = setting.begin_edit("crl-verification")
    crl.set("leaf", ["rev"])
    cmdb.commit(crl)
    assert cmdb.entry(("vpn", "certificate", "setting")).sub("crl-verification").get("leaf-crl-absence") == "ignore"
    cmdb.commit(setting)
    assert cmdb.entry(("vpn", "certificate", "setting")).sub("crl-verification").get("leaf-crl-absence") == "revoke"


def test_factory_material_is_real():
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cmdb = factory_cmdb()
    assert cmdb.entry(("system", "global")).get("hostname") == "FortiProxy"
    entry = cmdb.entry(LOCAL, "Fortinet_SSL_RSA4096")
    assert entry.get("source") == "factory"
    cert = x509.load_pem_x509_certificate(entry.get("certificate").encode())
    key = serialization.load_pem_private_key(entry.get("private-key").encode(), entry.get("password").encode())
    assert key.key_size == 4096 and cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert set(cmdb.keys(CA)) >= {"Fortinet_CA", "Fortinet_Sub_CA"}


def test_a_change_names_the_attributes_it_touched() -> None:
    """``Change.touched``: the stored values that differ (a listener watching other attributes skips
    the change); a value set to what it was is not touched, an unset one is."""
    cmdb = Cmdb()
    seen = []
    cmdb.on_commit(lambda changes: seen.extend(changes) and None)
    _new(cmdb, "t", comments="a", source_ip="192.0.2.1")
    buf = cmdb.begin_edit(LOCAL, "t")
    buf.set("comments", ["b"])
    buf.set("source-ip", ["192.0.2.1"])
    buf.set("range", ["vdom"])
    cmdb.commit(buf)
    buf = cmdb.begin_edit(LOCAL, "t")
    buf.unset("range")
    cmdb.commit(buf)
    cmdb.delete(LOCAL, "t")
    assert [c.touched for c in seen] == [{"comments", "source-ip"}, {"comments", "range"}, {"range"},
                                         {"comments", "source-ip"}]
