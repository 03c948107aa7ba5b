"""The questions the shell asks the schema, answered by the spec classes themselves."""

from __future__ import annotations

from fortishell.cmdb.schema import SCHEMA


def test_path_words_carry_their_help() -> None:
    assert SCHEMA.path_words(()) == [("system", "Configure system."), ("vpn", "Configure VPN.")]
    words = dict(SCHEMA.path_words(("vpn", "certificate")))
    assert words["local"] == "Local keys and certificates."
    assert words["ca"] == "CA certificate."


def test_settable_attrs_leave_out_the_key_read_only_and_hidden() -> None:
    local = SCHEMA.table(("vpn", "certificate", "local"))
    assert local is not None and not local.is_object
    names = [a.name for a in local.settable_attrs()]
    assert "name" not in names and "state" not in names  # the key; read-only
    assert "csr" in names  # settable, as the 7.6 reference declares it
    assert "enroll-protocol" in names and "est-http-password" in names
    assert all(not a.readonly and not a.hidden for a in local.settable_attrs())


def test_objects_and_their_nested_tables() -> None:
    setting = SCHEMA.table(("vpn", "certificate", "setting"))
    assert setting is not None and setting.is_object
    subs = setting.subtable_help()
    assert subs and all(help for _name, help in subs)
    assert setting.subtable(subs[0][0]) is not None


def test_option_pairs_in_declaration_order() -> None:
    console = SCHEMA.table(("system", "console"))
    assert console is not None
    output = console.attr("output")
    assert output is not None
    assert output.option_pairs == [("standard", "Standard output."), ("more", "More page output.")]


def test_sensitive_names_from_the_flags() -> None:
    assert SCHEMA.names_sensitive_attr("est-http-p") and SCHEMA.names_sensitive_attr("priv")
    assert not SCHEMA.names_sensitive_attr("comments") and not SCHEMA.names_sensitive_attr("")
