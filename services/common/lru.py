"""A small thread-safe LRU map, shared by the caches of computed answers (the patient's pages of
records, the outcomes of runtime contract checks).

Written by hand: an OrderedDict under a lock is the whole of it, and functools.lru_cache cannot
key on a value the caller computes (a state stamp, a body digest) apart from the arguments.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Hashable, TypeVar

V = TypeVar("V")


class LruCache(Generic[V]):
    """At most SIZE values; reading one makes it the newest, adding one past SIZE drops the oldest."""

    def __init__(self, size: int = 128):
        self.size = size
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
            return found

    def put(self, key: Hashable, value: V) -> V:
        """Keep VALUE under KEY and return it."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return value
