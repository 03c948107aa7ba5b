"""entry_json (the serializer of every GET) against the entry's own values, attribute by attribute."""

from __future__ import annotations

from fortishell.cmdb import factory, secrets
from fortishell.cmdb.spec import PASSWORD
from fortishell.rest.serialize import entry_json, value_json


def test_entry_json_writes_each_attribute_as_value_json_of_entry_get() -> None:
    """Every entry of the factory configuration, with and without defaults and skip: the same keys,
    in schema order, each the value ``Entry.get`` gives written by ``value_json`` (secrets: a fresh
    ``ENC`` each time, compared in clear)."""
    cmdb = factory.factory_cmdb()
    seen = 0
    for table in cmdb.schema.tables:
        for entry in cmdb.entries(table.path):
            for defaults in (True, False):
                for skip in (False, True):
                    out = entry_json(entry, defaults=defaults, skip=skip)
                    keys = [table.key, "q_origin_key"] if table.key else []
                    for attr in table.attrs:
                        if attr.name == table.key or attr.hidden or skip and not entry.visible(attr):
                            continue
                        value = entry.get(attr.name)
                        if not defaults and value == attr.default:
                            continue
                        keys.append(attr.name)
                        if attr.type == PASSWORD and value:
                            assert secrets.decrypt(out[attr.name]) == value
                        else:
                            assert out[attr.name] == value_json(attr, value), (table.path, attr.name)
                    keys += [sub.name for sub in table.subtables]
                    assert list(out) == keys, table.path
                    seen += 1
    assert seen > 50


def test_apply_json_sets_the_body_in_the_schemas_order_not_the_bodys() -> None:
    """An attribute that exists only under another's value (acme-domain under enroll-protocol acme2)
    may come first in the body: the body is applied in the schema's order, as ``set`` lines of a
    ``show`` would be; an unknown name is refused before anything is set."""
    import pytest

    from fortishell.cmdb.model import Cmdb
    from fortishell.rest.envelope import RestError
    from fortishell.rest.serialize import apply_json

    path = ("vpn", "certificate", "local")
    cmdb = Cmdb()
    buf = cmdb.begin_edit(path, "a1")
    apply_json(buf, {"acme-domain": "x.lab", "comments": "c", "enroll-protocol": "acme2"})
    assert dict(buf.values) == {"enroll-protocol": "acme2", "acme-domain": "x.lab", "comments": "c"}
    buf = cmdb.begin_edit(path, "a2")
    with pytest.raises(RestError):
        apply_json(buf, {"comments": "c", "no-such-attribute": 1})
    assert dict(buf.values) == {}
