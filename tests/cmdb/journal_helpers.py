"""What the journal fault and waiter tests share: a record, a saved factory file, an open journal,
and the keys a restart would boot."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cmdb_helpers import LOCAL
from fortishell.cmdb import journal, store
from fortishell.cmdb.factory import factory_cmdb

LOG = logging.getLogger("test.journal")


def record(key: str) -> str:
    return f'config vpn certificate local\n    edit "{key}"\n        set comments "{key}"\n    next\nend\n'


def booted_keys(conf: Path) -> list[str]:
    """The ``r*`` entries a restart boots from ``conf`` and its journal (read, nothing rewritten)."""
    text = store.read_config_text(conf)
    cmdb = store.loads(text)
    journal.recover(conf, cmdb, text, LOG, set_aside=False)
    return [k for k in cmdb.keys(LOCAL) if k.startswith("r")]


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "fortishell.conf"
    store.save(factory_cmdb(), path)
    return path


@pytest.fixture
def jnl(conf: Path) -> Iterator[journal.Journal]:
    j = journal.Journal(conf, journal.text_hash(conf.read_text()), LOG)
    yield j
    j.close(timeout=5)
