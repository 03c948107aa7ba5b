"""Values worked out from committed CMDB entries, kept while those very entries are current.

A commit replaces an entry and never changes one (``cmdb/model.py``), so what was worked out
from a set of entry objects holds for as long as the configuration still has those objects: a
hit is a lookup plus an identity check of each.  Entries are not hashable, so the caller keys
a value by their ``id()`` (plus whatever else the value depends on); the entries are kept with
the value, so that no other object can take one of those ids while the value is here.  At
most ``size`` values, the oldest dropped first (a replaced entry stays alive until then).
Used from the event loop and worker threads alike (stores under a lock).  No I/O.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class EntryMemo(Generic[V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, tuple[tuple[object, ...], V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, owners: tuple[object, ...]) -> V | None:
        """The value kept under ``key`` if it was worked out from these very ``owners``."""
        hit = self._items.get(key)
        if hit is None or len(hit[0]) != len(owners) or any(a is not b for a, b in zip(hit[0], owners)):
            return None
        return hit[1]

    def put(self, key: Hashable, owners: tuple[object, ...], value: V) -> None:
        with self._lock:
            self._items[key] = (owners, value)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
