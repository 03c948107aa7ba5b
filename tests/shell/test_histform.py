"""The history form of a line: secrets from the schema's flags and the commands' declarations."""

from __future__ import annotations

from fortishell.cmdb.schema import SCHEMA
from fortishell.shell.commands import execute
from fortishell.shell.commands.tree import walk
from fortishell.cli.ast import Word
from fortishell.shell.histform import history_form


def test_every_sensitive_attribute_is_masked_also_abbreviated() -> None:
    sensitive = [a.name for t in SCHEMA.tables for a in t.attrs if a.sensitive]
    assert {"password", "est-http-password", "est-srp-password", "proxy-password", "private-key"} <= set(sensitive)
    for name in sensitive:
        assert history_form(f"set {name} s3cret") == f"set {name} *"
        assert history_form(f'set {name[:-1]} "two words"') == f"set {name[:-1]} *"


def test_ordinary_values_are_kept_as_typed() -> None:
    for line in ("set comments hello", "set key-type ec", "edit est-test101", 'set subject "CN=a b"', "show"):
        assert history_form(line) == line


def test_generate_est_masks_its_declared_positions() -> None:
    leaf, _ = walk(execute.TREE, [Word(w) for w in "vpn certificate local generate est".split()])
    assert leaf.secret_args == (7, 10, 14)
    masked = history_form("exec vpn cert loc gen est c1 ec-secp256r1 https://h:8443 CN=a DNS:a estuser estpwd "
                          'ca1 G_CA kpw "" "" srpuser srppw')
    assert masked == "exec vpn cert loc gen est c1 ec-secp256r1 https://h:8443 CN=a DNS:a estuser * ca1 G_CA * " \
                     '"" "" srpuser *'


def test_an_unparsable_line_with_a_secret_is_not_kept() -> None:
    assert history_form('set est-http-password "abc\\') == ""
    assert history_form('set comments "abc\\') == 'set comments "abc\\'  # nothing secret: kept
