"""Exercise 05.lru: the eviction policy every cache ships, in O(1) per operation.

A cache with room for ``capacity`` entries. ``get`` and ``put`` both count as a use; when a new key
arrives and the cache is full, the entry used least recently goes. Real caches answer millions of
requests a second from millions of entries, so neither operation may look at every entry: both must
take the same time whatever the capacity (a dict for the lookups, and something that keeps the order
of use and can move one entry to the front, or drop the oldest, without a scan).
"""

from collections import OrderedDict


class LRUCache:
    """A least-recently-used cache of at most ``capacity`` entries."""

    def __init__(self, capacity):
        """An empty cache for ``capacity`` entries (an int >= 1; raise ValueError otherwise)."""
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        self.capacity = capacity
        self.entries = OrderedDict()

    def get(self, key, default=None):
        """The value stored under ``key`` (now the most recently used), or ``default`` if there is none."""
        if key not in self.entries:
            return default
        self.entries.move_to_end(key)
        return self.entries[key]

    def put(self, key, value):
        """Store ``value`` under ``key`` (now the most recently used). If that adds a key to a full
        cache, first drop the least recently used entry, and return its key; otherwise return None."""
        if key in self.entries:
            self.entries.move_to_end(key)
            self.entries[key] = value
            return None
        evicted = None
        if len(self.entries) >= self.capacity:
            evicted, _ = self.entries.popitem(last=False)
        self.entries[key] = value
        return evicted

    def __len__(self):
        """How many entries the cache holds."""
        return len(self.entries)
