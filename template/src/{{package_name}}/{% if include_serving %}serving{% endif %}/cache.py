"""An LRU cache of finished greedy completions: a repeated temperature-0 request skips the model."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class ResponseCache:
    """At most `capacity` responses; the least recently used goes first. Capacity 0 disables it.

    Used from the server's event loop only, where get and put never interleave, so it needs no lock.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"cache capacity {capacity} is negative: use 0 to disable the cache")
        self.capacity = capacity
        self._entries: OrderedDict[Hashable, dict] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> dict | None:
        if key not in self._entries:
            return None
        self._entries.move_to_end(key)
        return self._entries[key]

    def put(self, key: Hashable, response: dict) -> None:
        if self.capacity == 0:
            return
        self._entries[key] = response
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
