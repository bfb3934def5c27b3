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
        # TODO: write this (the docstring says what it must do), then run: minicluster check 05.lru
        raise NotImplementedError

    def get(self, key, default=None):
        """The value stored under ``key`` (now the most recently used), or ``default`` if there is none."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 05.lru
        raise NotImplementedError

    def put(self, key, value):
        """Store ``value`` under ``key`` (now the most recently used). If that adds a key to a full
        cache, first drop the least recently used entry, and return its key; otherwise return None."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 05.lru
        raise NotImplementedError

    def __len__(self):
        """How many entries the cache holds."""
        # TODO: write this (the docstring says what it must do), then run: minicluster check 05.lru
        raise NotImplementedError
