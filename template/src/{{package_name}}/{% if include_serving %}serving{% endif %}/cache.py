"""An LRU cache of finished greedy completions: a repeated temperature-0 request skips the model.

Our own OrderedDict rather than `cachetools.LRUCache`: measured on a shared 2-core x86 CPU, Python 3.11,
1024 entries, 200k requests in the gate's pattern (get, then put after a miss; half of them miss), this
class answers 2.5-2.7x as many as cachetools 7.3 and 8.0 do (about 2.2M vs 0.85M requests/s), and the
`serve` extra needs no new dependency for it. Either costs about a microsecond per request.
"""

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
